// Command wechatsim serves the WeChat API simulator (package wechatsim) over
// HTTP, for demos and for running wxqr's workers against something that
// behaves like WeChat without touching it.
//
//	wechatsim -addr 127.0.0.1:8090 -apps wx0123456789abcdef:s3cret:oa
//
// Point WECHAT_API_BASE_URL and WECHAT_MP_BASE_URL at the URL it prints.
// -fault makes a share of an API's calls fail, reproducibly for a
// -fault-seed; e.g. every API 2% reset and 10% slow, showqrcode 5% cut short:
//
//	wechatsim -fault '*:reset=0.02' -fault '*:latency=0.1@20ms-50ms' -fault showqrcode:truncate=0.05
//
// Apps come from -apps or, failing that, WXQR_APPS, in the same form
// ("appid:secret:kind,..." with kind oa or mp, or "@apps.json"); LOG_LEVEL
// and LOG_FORMAT (json or console) set the request log, which goes to
// stdout.
//
// wechatsim push sends one scan event to an account's server URL as WeChat
// does (signed; encrypted with -aes-key; -deliveries times, as WeChat
// retries) and prints each delivery's answer:
//
//	wechatsim push -url http://127.0.0.1:8081/wechat/wx0123456789abcdef -app wx0123456789abcdef \
//	  -token T -event subscribe -scene spring-sale -deliveries 2
//
// The tickets a serving simulator issued live in its process, so push takes
// the code's -scene (and, optionally, its -ticket) explicitly. It fails
// unless every delivery is answered with HTTP 200.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/internal/config"
	"github.com/wxqr/wxqr/wechat/wechatsim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "wechatsim:", err)
		os.Exit(1)
	}
}

// createAPIs are the APIs that -rate and -daily limit.
var createAPIs = []string{
	wechatsim.APICreateQRCode,
	wechatsim.APICreateWxaQRCode,
	wechatsim.APIGetWxaCode,
	wechatsim.APIGetWxaCodeUnlimited,
}

// shutdownTimeout bounds how long requests in flight may finish after a
// signal.
const shutdownTimeout = 10 * time.Second

// run serves the simulator until ctx ends, then shuts down gracefully; or,
// with the push subcommand, pushes one scan event.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) > 0 && args[0] == "push" {
		return runPush(ctx, args[1:], stdout)
	}
	opts, err := parseFlags(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	spec := opts.apps
	if spec == "" {
		spec = getenv(config.EnvApps)
	}
	apps, err := simApps(spec)
	if err != nil {
		return err
	}
	logCfg, err := config.LoadLog(getenv)
	if err != nil {
		return err
	}
	log := logCfg.New(stdout).With().Str("component", "wechatsim").Logger()
	sim, err := newSimulator(opts, apps)
	if err != nil {
		return err
	}
	defer sim.Close()
	return serve(ctx, log, sim, opts.addr, len(apps), stdout)
}

// options are the command's flags.
type options struct {
	addr, apps           string
	tokenTTL, tokenGrace time.Duration
	permCap, wxaCap      int
	rate, daily          int
	faults               faultFlag
	faultSeed            uint64
}

// parseFlags parses the command line; -h gives flag.ErrHelp.
func parseFlags(args []string, stdout io.Writer) (*options, error) {
	o := &options{faults: faultFlag{}}
	fs := flag.NewFlagSet("wechatsim", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() {
		fmt.Fprint(stdout, "usage: wechatsim [flags]          serve the simulator\n"+
			"       wechatsim push [flags]     push a scan event to a callback URL (wechatsim push -h)\n\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8090", "address to listen on")
	fs.StringVar(&o.apps, "apps", "", `apps as "appid:secret:kind,..." (kind oa or mp) or "@apps.json"; default $`+config.EnvApps)
	fs.DurationVar(&o.tokenTTL, "token-ttl", 7200*time.Second, "access token lifetime")
	fs.DurationVar(&o.tokenGrace, "token-grace", 5*time.Minute, "how long a replaced token keeps working; negative: none")
	fs.IntVar(&o.permCap, "perm-cap", 100000, "permanent OA codes per app, ever; negative: no cap")
	fs.IntVar(&o.wxaCap, "wxa-cap", 100000, "createwxaqrcode + getwxacode codes per app, ever; negative: no cap")
	fs.IntVar(&o.rate, "rate", 0, "calls per second per app to each code-making API; 0: no limit")
	fs.IntVar(&o.daily, "daily", 0, "calls per day per app to each code-making API; 0: WeChat's quotas")
	fs.Var(o.faults, "fault", `API:KIND=P: a share P of the API's calls fail as KIND (system_busy, http_500, reset, truncate, latency=P@MIN-MAX, ...); API * for every one; repeatable`)
	fs.Uint64Var(&o.faultSeed, "fault-seed", 0, "seed of the -fault draws")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return o, nil
}

// newSimulator builds the simulator the flags describe, faults included.
func newSimulator(o *options, apps map[string]wechatsim.App) (*wechatsim.Server, error) {
	limits := wechatsim.Limits{PermCap: o.permCap, WxaCap: o.wxaCap}
	if o.rate > 0 {
		limits.PerSecond = perAPI(o.rate)
	}
	if o.daily > 0 {
		limits.Daily = perAPI(o.daily)
	}
	sim, err := wechatsim.New(wechatsim.Config{Apps: apps, TokenTTL: o.tokenTTL, TokenGrace: o.tokenGrace, Limits: limits, FaultSeed: o.faultSeed})
	if err != nil {
		return nil, err
	}
	for api, rates := range o.faults {
		if err := sim.SetFaultRates(api, rates...); err != nil {
			sim.Close()
			return nil, fmt.Errorf("-fault: %w", err)
		}
	}
	return sim, nil
}

// serve serves sim and a health check on addr until ctx ends, then shuts
// down gracefully. apps is how many apps sim knows, for the log.
func serve(ctx context.Context, log zerolog.Logger, sim *wechatsim.Server, addr string, apps int, stdout io.Writer) error {
	mux := http.NewServeMux()
	mux.Handle("/", sim.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n") //nolint:errcheck // the prober hung up
	})
	srv := &http.Server{Handler: logRequests(log, mux), ReadHeaderTimeout: 10 * time.Second}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	fmt.Fprintf(stdout, "wechatsim listening on http://%s\n", ln.Addr())
	log.Info().Str("addr", ln.Addr().String()).Int("apps", apps).Msg("serving")

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sim.Close() // ends injected latencies, so shutdown does not wait them out
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info().Msg("stopped")
	return nil
}

// allAPIs are the APIs that -fault '*:...' covers.
var allAPIs = append([]string{wechatsim.APIToken, wechatsim.APIStableToken, wechatsim.APIShowQRCode, wechatsim.APIQuotaGet}, createAPIs...)

// faultFlag collects -fault values: fault rates by API.
type faultFlag map[string][]wechatsim.FaultRate

func (f faultFlag) String() string { return "" }

// Set parses API:KIND=P, or API:latency=P@MIN-MAX.
func (f faultFlag) Set(v string) error {
	api, spec, ok := strings.Cut(v, ":")
	name, p, ok2 := strings.Cut(spec, "=")
	if !ok || !ok2 {
		return fmt.Errorf("want API:KIND=P, got %q", v)
	}
	kind, err := wechatsim.ParseFaultKind(name)
	if err != nil {
		return err
	}
	rate := wechatsim.FaultRate{Kind: kind}
	p, delays, hasDelay := strings.Cut(p, "@")
	if rate.P, err = strconv.ParseFloat(p, 64); err != nil {
		return fmt.Errorf("probability %q: %w", p, err)
	}
	if hasDelay {
		lo, hi, _ := strings.Cut(delays, "-")
		if rate.Delay, err = time.ParseDuration(lo); err != nil {
			return fmt.Errorf("delay: %w", err)
		}
		if hi != "" {
			if rate.MaxDelay, err = time.ParseDuration(hi); err != nil {
				return fmt.Errorf("delay: %w", err)
			}
		}
	}
	apis := []string{api}
	if api == "*" {
		apis = allAPIs
	} else if !slices.Contains(allAPIs, api) {
		return fmt.Errorf("unknown API %q (want one of %s, or *)", api, strings.Join(allAPIs, ", "))
	}
	for _, a := range apis {
		f[a] = append(f[a], rate)
	}
	return nil
}

func perAPI(n int) map[string]int {
	m := make(map[string]int, len(createAPIs))
	for _, api := range createAPIs {
		m[api] = n
	}
	return m
}

// simApps reads apps as WXQR_APPS does ("appid:secret:kind,..." or
// "@file.json"). Every app needs a secret: the simulator issues its tokens.
func simApps(spec string) (map[string]wechatsim.App, error) {
	loaded, err := config.LoadApps(spec, os.ReadFile)
	if err != nil {
		return nil, fmt.Errorf("apps: %w", err)
	}
	if len(loaded) == 0 {
		return nil, errors.New("no apps: give -apps or set " + config.EnvApps + " (appid:secret:kind,...)")
	}
	apps := make(map[string]wechatsim.App, len(loaded))
	for _, a := range loaded {
		if a.Secret == "" {
			return nil, fmt.Errorf("apps: app %s has no secret, which the simulator needs to issue its tokens", a.AppID)
		}
		// config.LoadApps admits only the kinds in accountTypes.
		apps[a.AppID] = wechatsim.App{Secret: a.Secret, Type: accountTypes[a.Type]}
	}
	return apps, nil
}

// accountTypes translate the kinds of WXQR_APPS into WeChat's account types.
var accountTypes = map[wxqr.AppType]wechatsim.AccountType{
	wxqr.AppOA: wechatsim.OfficialAccount,
	wxqr.AppMP: wechatsim.MiniProgram,
}

// secretParams are query parameters never logged.
var secretParams = []string{"access_token", "secret"}

// redactedQuery is u's query with secrets replaced.
func redactedQuery(u *url.URL) string {
	q := u.Query()
	for _, p := range secretParams {
		if q.Has(p) {
			q.Set(p, "REDACTED")
		}
	}
	return q.Encode()
}

// statusRecorder remembers what a handler answered. Unwrap lets the
// simulator's fault injection still hijack and flush the connection.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logRequests logs one line per request, secrets redacted. Status 0 means
// the connection was cut without a response (an injected fault).
func logRequests(log zerolog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		// Deferred, so that aborted responses are logged too.
		defer func() {
			log.Info().
				Str("method", r.Method).
				Str("path", r.URL.Path).
				Str("query", redactedQuery(r.URL)).
				Int("status", rec.status).
				Int("bytes", rec.bytes).
				Float64("duration_ms", float64(time.Since(start).Microseconds())/1000).
				Str("remote_addr", r.RemoteAddr).
				Msg("request")
		}()
		next.ServeHTTP(rec, r)
	})
}
