package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/internal/appclients"
	"github.com/wxqr/wxqr/internal/asynqx"
	"github.com/wxqr/wxqr/internal/config"
	"github.com/wxqr/wxqr/internal/exitcode"
	"github.com/wxqr/wxqr/metrics"
	"github.com/wxqr/wxqr/preflight"
	"github.com/wxqr/wxqr/ratelimit"
	"github.com/wxqr/wxqr/regen"
	"github.com/wxqr/wxqr/scans"
	"github.com/wxqr/wxqr/tasks"
	"github.com/wxqr/wxqr/wechat"
)

// Timings of the worker's own loops.
const (
	idlePoll = 500 * time.Millisecond
	// storageCheckTimeout bounds the check of storage at start.
	storageCheckTimeout = 30 * time.Second
	// shutdownTimeout lets every task under way finish at SIGTERM: a task
	// cut short is requeued by asynq while its handler may still run, and
	// only the per-code lock then keeps the two apart. Give the worker this
	// much grace (plus a little) in whatever stops it.
	shutdownTimeout = tasks.GenerateTimeout + 10*time.Second
)

// run is the whole worker; main only adds the signals and the exit status.
// It loads the configuration (every value checked before any connection),
// builds the services, serves, and closes them.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	wc, err := loadConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	stopProfile, err := startCPUProfile(getenv)
	if err != nil {
		return exitcode.UsageError(err)
	}
	defer stopProfile()
	log := wc.shared.Log.New(stderr).With().Str("component", "worker").Logger()
	s, err := build(ctx, wc, log)
	if err != nil {
		return err
	}
	defer s.Close()
	return serve(ctx, wc, s, stdout)
}

// serve starts the worker and its loops, then waits for the signal or, with
// --until-idle, for the queues to hold nothing runnable. It stops the work
// before it returns; the exit status tells what the queues still hold.
func serve(ctx context.Context, wc *workerConfig, s *services, stdout io.Writer) error {
	if err := s.srv.Start(s.mux); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	if err := s.scanSrv.Start(s.mux); err != nil {
		return fmt.Errorf("start worker's scans: %w", err)
	}
	s.log.Info().Strs("queues", s.queueNames).Int("concurrency", wc.shared.Concurrency).
		Str("scan_queue", regen.QueueName).Int("scan_concurrency", scanConcurrency).Msg("worker started")
	s.startLoops(ctx, wc.guards.storage.ProbeInterval)
	s.startNotices(ctx)

	if !wc.untilIdle {
		<-ctx.Done()
		s.log.Info().Msg("shutting down: finishing the tasks under way")
		s.stopWork()
		return nil
	}
	totals, err := waitIdle(ctx, s.rdb, s.pauses, s.queueNames, idlePoll, s.log)
	s.stopWork()
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	}
	fmt.Fprintf(stdout, "idle: nothing left to run; %d tasks held by paused queues, %d failed (archived)\n", totals.Paused, totals.Failed)
	switch {
	case totals.Paused > 0:
		return exitcode.Withf(exitPaused, "%d tasks wait in paused queues (see `enqueue status`; resume with `enqueue resume`)", totals.Paused)
	case totals.Failed > 0:
		return exitcode.Withf(exitFailed, "%d tasks failed for good (archived; see the web UI or `enqueue status`)", totals.Failed)
	}
	return nil
}

// buildGenerator makes the generate handler and what it needs: the
// catalog, the budgets, the metrics (with the scan counts), a WeChat client
// per app, the circuit breaker and storage watch, and the notifier.
func (s *services) buildGenerator(ctx context.Context, wc *workerConfig) error {
	cfg, rates, budgets, log := wc.shared, wc.rates, wc.budgets, s.log
	rdb, store, pauses, clock := s.rdb, s.store, s.pauses, s.clock
	cat, err := catalog.NewWithConfig(rdb, catalog.Config{Prefix: cfg.Redis.KeyPrefix(), MinReplicas: cfg.RedisMinReplicas})
	if err != nil {
		return exitcode.UsageError(err)
	}
	// The worker only reads the scan counts: it hashes no openid, so it
	// needs no key.
	counts, err := scans.New(ctx, rdb, cat, scans.Config{Prefix: cfg.Redis.KeyPrefix()})
	if err != nil {
		return fmt.Errorf("scan counts: %w", err)
	}
	budget := ratelimit.NewBudget(rdb, ratelimit.BudgetConfig{Limits: budgets.Lookup, Now: clock.Now})
	m, err := newMetrics(cfg, rdb, pauses, budget, budgets, counts.EventTotals, log)
	if err != nil {
		return err
	}
	clients, err := newClients(cfg, rdb, m, log)
	if err != nil {
		return exitcode.UsageError(err)
	}
	s.quotas = make(map[string]preflight.QuotaAsker, len(clients))
	for id, c := range clients {
		s.quotas[id] = c
	}
	wechats := make(map[string]tasks.WeChat, len(clients))
	for id, c := range clients {
		wechats[id] = c
	}
	genCfg := tasks.GeneratorConfig{
		Clients: wechats,
		Catalog: cat,
		Store:   store,
		Limiter: ratelimit.NewLimiter(rdb, ratelimit.Config{Limits: func(key string) []ratelimit.Limit {
			if l, ok := rates.Lookup(key); ok && l.Rate > 0 {
				return []ratelimit.Limit{l}
			}
			return nil
		}}),
		Budget:   budget,
		Pauses:   pauses,
		Observer: m,
		Logger:   log,
		Now:      clock.Now,
	}
	breaker, probe, err := newGuards(&genCfg, wc.guards, rdb, cat, store, pauses, cfg, log)
	if err != nil {
		return exitcode.UsageError(err)
	}
	if s.notifier, err = newNotifier(wc.notify, rdb, cfg.Redis.KeyPrefix(), cat, clock.Now, log); err != nil {
		return exitcode.UsageError(err)
	}
	genCfg.Notices, probe.Notices = s.notices(), s.notices()
	gen, err := tasks.NewGenerator(genCfg)
	if err != nil {
		return err
	}
	s.cat, s.scans, s.budget, s.metrics, s.gen, s.breaker, s.probe = cat, counts, budget, m, gen, breaker, probe
	return nil
}

// newServer makes the asynq servers: one over every queue of the
// configured apps, one over the scan queue (see scanConcurrency), and their
// mux with the generate handler. The apps' server skips, for a moment, the
// queues it found empty (see asynqx.SkipEmptyQueues): it serves hundreds of
// them, with work in a few.
func (s *services) newServer(cfg *config.Config) {
	s.queueNames = appQueues(cfg)
	queues := map[string]int{}
	for _, q := range s.queueNames {
		queues[q] = 1
	}
	s.srv = s.asynqServer(asynqx.SkipEmptyQueues(cfg.Redis.AsynqConnOpt()), cfg.Concurrency, queues)
	s.scanSrv = s.asynqServer(cfg.Redis.AsynqConnOpt(), scanConcurrency, map[string]int{regen.QueueName: 1})
	s.mux = asynq.NewServeMux()
	s.mux.Handle(tasks.TypeGenerate, s.gen)
}

// asynqServer makes an asynq server over queues, with wxqr's retry policy.
func (s *services) asynqServer(conn asynq.RedisConnOpt, concurrency int, queues map[string]int) *asynq.Server {
	return asynq.NewServer(conn, asynq.Config{
		Concurrency:     concurrency,
		Queues:          queues,
		IsFailure:       tasks.IsFailure,
		RetryDelayFunc:  tasks.RetryDelay,
		ErrorHandler:    tasks.NewErrorHandler(s.log, s.cat, s.notices()),
		Logger:          asynqLogger{log: s.log.With().Str("component", "asynq").Logger()},
		LogLevel:        asynq.WarnLevel,
		ShutdownTimeout: shutdownTimeout,
	})
}

// appQueues are the queues of the configured apps: one per app and quota
// class.
func appQueues(cfg *config.Config) []string {
	var queues []string
	for _, app := range cfg.Apps {
		for _, class := range app.Type.Classes() {
			queues = append(queues, tasks.QueueName(app.AppID, class))
		}
	}
	return queues
}

// newClients makes one WeChat client per configured app, each with the token
// source its configuration names (see appclients).
func newClients(cfg *config.Config, rdb redis.UniversalClient, m *metrics.Metrics, log zerolog.Logger) (map[string]*wechat.Client, error) {
	return appclients.New(cfg, rdb, appclients.Options{Logger: log, OnFetch: m.TokenRefreshed})
}
