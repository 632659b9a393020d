package main

import (
	"fmt"
	"io"
	"strconv"

	"github.com/wxqr/wxqr/internal/config"
	"github.com/wxqr/wxqr/internal/exitcode"
	"github.com/wxqr/wxqr/monitor"
	"github.com/wxqr/wxqr/notify"
	"github.com/wxqr/wxqr/printsheet"
	"github.com/wxqr/wxqr/ratelimit"
)

// workerConfig is everything the worker reads from its flags and its
// environment, parsed and checked. loadConfig makes it before the worker
// connects to anything, so that a bad value is exit 2 at once, never a
// failure after a Redis ping. (Not named config: that is the package of the
// shared variables.)
type workerConfig struct {
	// untilIdle: exit once the queues hold nothing runnable (--until-idle).
	untilIdle bool
	// shared holds the variables the worker shares with enqueue, with
	// --concurrency and --monitor-addr applied; it always names an app.
	shared *config.Config
	// rates are the rate limits per app × API (WXQR_RATE_LIMITS).
	rates config.PerAppAPI[ratelimit.Limit]
	// budgets are the daily budgets per app × API (WXQR_DAILY_BUDGETS).
	budgets config.PerAppAPI[int64]
	// lifetime are the lifetime caps (WXQR_LIFETIME_QUOTAS), which the
	// monitor's upload weighs campaigns against.
	lifetime config.LifetimeQuotas
	// regen is how this worker takes part in regeneration (WXQR_REGEN_*).
	regen regenSettings
	// guards configure the circuit breaker and the storage watch
	// (WXQR_BREAKER, WXQR_STORAGE_*, WXQR_STAGED_MAX_BYTES).
	guards guardSettings
	// monitor is who may reach the web UI (WXQR_MONITOR_*).
	monitor monitorSettings
	// notify is where notices go (WXQR_NOTIFY_*); nil: nowhere.
	notify *notify.WebhookConfig
}

// monitorSettings are the monitoring server's own variables; its address
// is shared.MonitorAddr.
type monitorSettings struct {
	user, password string // basic auth; both or neither
	readOnly       bool
	printFont      *printsheet.Font // shared.PrintFont, loaded; nil for Helvetica
}

// loadConfig parses the flags and the environment and checks every value.
// Its errors carry exit status exitcode.Usage (flag.ErrHelp for -h), name the
// flag or variable at fault and never quote a secret.
func loadConfig(args []string, getenv func(string) string, stderr io.Writer) (*workerConfig, error) {
	opts, err := parseFlags(args, stderr)
	if err != nil {
		return nil, err
	}
	shared, err := config.Load(getenv)
	if err != nil {
		return nil, exitcode.UsageError(err)
	}
	if len(shared.Apps) == 0 {
		return nil, exitcode.Withf(exitcode.Usage, "%s: no apps configured (want appid:secret:kind,...)", config.EnvApps)
	}
	if opts.concurrency > 0 {
		shared.Concurrency = opts.concurrency
	}
	if opts.monitorAddr != "" {
		shared.MonitorAddr = opts.monitorAddr
	}
	wc := &workerConfig{untilIdle: opts.untilIdle, shared: shared}
	if wc.rates, err = config.LoadRateLimits(getenv); err != nil {
		return nil, exitcode.UsageError(err)
	}
	if wc.budgets, err = config.LoadDailyBudgets(getenv); err != nil {
		return nil, exitcode.UsageError(err)
	}
	if wc.lifetime, err = config.LoadLifetimeQuotas(getenv); err != nil {
		return nil, exitcode.UsageError(err)
	}
	if wc.regen, err = parseRegen(getenv); err != nil {
		return nil, exitcode.UsageError(err)
	}
	if wc.guards, err = parseGuards(getenv); err != nil {
		return nil, exitcode.UsageError(err)
	}
	if wc.monitor, err = parseMonitor(shared.MonitorAddr, getenv); err != nil {
		return nil, exitcode.UsageError(err)
	}
	if wc.notify, err = parseNotify(getenv); err != nil {
		return nil, exitcode.UsageError(err)
	}
	if shared.PrintFont != "" && shared.MonitorAddr != config.MonitorOff {
		if wc.monitor.printFont, err = printsheet.LoadFont(shared.PrintFont); err != nil {
			return nil, exitcode.Withf(exitcode.Usage, "%s: %v", config.EnvPrintFont, err)
		}
	}
	return wc, nil
}

// parseMonitor reads WXQR_MONITOR_USER, WXQR_MONITOR_PASSWORD and
// WXQR_MONITOR_READONLY (true or false, default false), and checks them
// with addr (the monitoring address, or config.MonitorOff) as the server
// will. Off, they are not read.
func parseMonitor(addr string, getenv func(string) string) (monitorSettings, error) {
	if addr == config.MonitorOff {
		return monitorSettings{}, nil
	}
	ms := monitorSettings{user: getenv(envMonitorUser), password: getenv(envMonitorPassword)}
	if raw := getenv(envMonitorReadOnly); raw != "" {
		var err error
		if ms.readOnly, err = strconv.ParseBool(raw); err != nil {
			return ms, fmt.Errorf("%s: want true or false, got %q", envMonitorReadOnly, raw)
		}
	}
	if err := monitor.CheckAccess(addr, ms.user, ms.password); err != nil {
		return ms, err
	}
	return ms, nil
}
