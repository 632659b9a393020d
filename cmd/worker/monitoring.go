package main

import (
	"context"
	"fmt"
	"slices"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/internal/config"
	"github.com/wxqr/wxqr/internal/exitcode"
	"github.com/wxqr/wxqr/jobfile"
	"github.com/wxqr/wxqr/metrics"
	"github.com/wxqr/wxqr/monitor"
	"github.com/wxqr/wxqr/preflight"
	"github.com/wxqr/wxqr/ratelimit"
	"github.com/wxqr/wxqr/regen"
	"github.com/wxqr/wxqr/scans"
	"github.com/wxqr/wxqr/storage"
	"github.com/wxqr/wxqr/tasks"
)

// Environment variables of the monitoring server.
const (
	envMonitorUser     = "WXQR_MONITOR_USER"
	envMonitorPassword = "WXQR_MONITOR_PASSWORD"
	envMonitorReadOnly = "WXQR_MONITOR_READONLY"
)

// newMetrics makes the worker's metrics: asynq's queue series (every queue
// the worker serves, from its start), the pauses, the daily budgets of
// every app × API that has one, and the scan events (scanEvents:
// scans.Store.EventTotals).
func newMetrics(cfg *config.Config, rdb redis.UniversalClient, pauses *tasks.Pauses,
	budget *ratelimit.Budget, budgets config.PerAppAPI[int64],
	scanEvents func(context.Context) ([]scans.EventTotal, error), log zerolog.Logger) (*metrics.Metrics, error) {
	var keys []metrics.BudgetKey
	for _, app := range cfg.Apps {
		for _, kind := range wxqr.Kinds {
			key := metrics.BudgetKey{AppID: app.AppID, API: kind.API()}
			if kind.AppType() != app.Type || slices.Contains(keys, key) {
				continue // an API this app never calls, or one listed already
			}
			if _, ok := budgets.Lookup(tasks.LimitKey(app.AppID, key.API)); ok {
				keys = append(keys, key)
			}
		}
	}
	return metrics.New(metrics.Config{
		AsynqRedis: rdb,
		Queues:     append(appQueues(cfg), regen.QueueName),
		Pauses:     pauses.List,
		Budgets:    keys,
		BudgetUsed: func(ctx context.Context, appID, api string) (int64, int64, error) {
			return budget.Used(ctx, tasks.LimitKey(appID, api))
		},
		ScanEvents: scanEvents,
		Logger:     log,
	})
}

// startMonitor serves the web UI, /metrics and the health checks, unless
// the address is off (s.monitor stays nil then). loadConfig has checked
// wc.monitor.
func (s *services) startMonitor(ctx context.Context, wc *workerConfig) error {
	cfg, ms := wc.shared, wc.monitor
	if cfg.MonitorAddr == config.MonitorOff {
		return nil
	}
	upload, err := s.uploadConfig(cfg, wc.lifetime)
	if err != nil {
		return err
	}
	srv, err := monitor.New(monitor.Config{
		Addr:         cfg.MonitorAddr,
		Username:     ms.user,
		Password:     ms.password,
		ReadOnly:     ms.readOnly,
		RedisConnOpt: cfg.Redis.AsynqConnOpt(),
		Redis:        s.rdb,
		Store:        s.store,
		Catalog:      s.cat,
		Scans:        s.scans,
		Pauses:       s.pauses,
		Metrics:      s.metrics.Handler(),
		PrintFont:    ms.printFont,
		Upload:       upload,
		Logger:       s.log.With().Str("component", "monitor").Logger(),
	})
	if err != nil {
		return exitcode.UsageError(err)
	}
	if err := srv.Start(ctx); err != nil {
		return fmt.Errorf("monitoring server: %w", err)
	}
	s.monitor = srv
	s.log.Info().Str("url", "http://"+srv.Addr()+"/monitoring/").Msg("web UI, /metrics, /healthz and /readyz served")
	return nil
}

// uploadConfig is what the monitor's upload checks and queues campaigns
// with: what enqueue uses (the checker of the configured apps, the
// pre-flight over the catalog, the lifetime caps, the daily budgets and
// WeChat's quotas, the queuer), on the worker's connections and clock.
func (s *services) uploadConfig(cfg *config.Config, lifetime config.LifetimeQuotas) (*monitor.UploadConfig, error) {
	pf, err := preflight.New(preflight.Config{
		Catalog:      s.cat,
		LifetimeCaps: lifetime.Cap,
		Budgets:      s.budget,
		Quotas:       s.quotas,
		Now:          s.clock.Now,
	})
	if err != nil {
		return nil, err
	}
	client := asynq.NewClientFromRedisClient(s.rdb)
	return &monitor.UploadConfig{
		Apps:      jobfile.AppTypes(cfg.Apps),
		Preflight: pf,
		NewQueuer: func() *jobfile.Queuer {
			return &jobfile.Queuer{
				Client: client, Inspector: s.inspector, Catalog: s.cat,
				OpenStore: func(context.Context) (storage.Store, error) { return s.store, nil },
				Now:       s.clock.Now,
			}
		},
		Now: s.clock.Now,
	}, nil
}
