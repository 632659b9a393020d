package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/internal/config"
	"github.com/wxqr/wxqr/internal/fleetclock"
	"github.com/wxqr/wxqr/metrics"
	"github.com/wxqr/wxqr/ratelimit"
	"github.com/wxqr/wxqr/regen"
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
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	opts, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return &exitStatus{code: exitUsage, err: err}
	}
	if len(cfg.Apps) == 0 {
		return withStatus(exitUsage, "%s: no apps configured (want appid:secret:kind,...)", config.EnvApps)
	}
	if opts.concurrency > 0 {
		cfg.Concurrency = opts.concurrency
	}
	if opts.monitorAddr != "" {
		cfg.MonitorAddr = opts.monitorAddr
	}
	rates, err := config.LoadRateLimits(getenv)
	if err != nil {
		return &exitStatus{code: exitUsage, err: err}
	}
	budgets, err := config.LoadDailyBudgets(getenv)
	if err != nil {
		return &exitStatus{code: exitUsage, err: err}
	}
	regenCfg, err := parseRegen(getenv)
	if err != nil {
		return &exitStatus{code: exitUsage, err: err}
	}
	guards, err := parseGuards(getenv)
	if err != nil {
		return &exitStatus{code: exitUsage, err: err}
	}
	log := cfg.Log.New(stderr).With().Str("component", "worker").Logger()

	rdb := cfg.Redis.NewClient()
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis at %s: %w", cfg.Redis, err)
	}
	if err := config.CheckNoEviction(ctx, rdb, log); err != nil {
		return &exitStatus{code: exitUsage, err: fmt.Errorf("redis at %s: %w", cfg.Redis, err)}
	}
	store, err := cfg.Storage.Open(ctx)
	if err != nil {
		return fmt.Errorf("storage %s: %w", cfg.Storage, err)
	}
	// A worker that cannot store would make codes only to stage them.
	checkCtx, cancelCheck := context.WithTimeout(ctx, storageCheckTimeout)
	err = store.Check(checkCtx)
	cancelCheck()
	if err != nil {
		return fmt.Errorf("storage %s does not answer (is it up, and may this worker write to it?): %w", cfg.Storage, err)
	}
	inspector := asynq.NewInspector(cfg.Redis.AsynqConnOpt())
	defer inspector.Close()
	pauses := tasks.NewPauses(rdb, inspector)

	// Days, budgets and pause times follow Redis's clock, the same for the
	// whole fleet.
	clock, err := fleetclock.New(ctx, rdb, fleetclock.Config{Logger: log})
	if err != nil {
		return fmt.Errorf("redis at %s: %w", cfg.Redis, err)
	}
	cat, err := catalog.NewWithConfig(rdb, catalog.Config{MinReplicas: cfg.RedisMinReplicas})
	if err != nil {
		return &exitStatus{code: exitUsage, err: err}
	}
	budget := ratelimit.NewBudget(rdb, ratelimit.BudgetConfig{Limits: budgets.Lookup, Now: clock.Now})
	m, err := newMetrics(cfg, inspector, pauses, budget, budgets, log)
	if err != nil {
		return err
	}
	clients, err := newClients(cfg, rdb, m, log)
	if err != nil {
		return &exitStatus{code: exitUsage, err: err}
	}
	genCfg := tasks.GeneratorConfig{
		Clients: clients,
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
	probe, err := newGuards(&genCfg, guards, rdb, cat, store, pauses, cfg, log)
	if err != nil {
		return &exitStatus{code: exitUsage, err: err}
	}
	gen, err := tasks.NewGenerator(genCfg)
	if err != nil {
		return err
	}

	queues := map[string]int{}
	var queueNames []string
	for _, app := range cfg.Apps {
		for _, class := range app.Type.Classes() {
			q := tasks.QueueName(app.AppID, class)
			queues[q] = 1
			queueNames = append(queueNames, q)
		}
	}
	queues[regen.QueueName] = regenQueuePriority
	srv := asynq.NewServer(cfg.Redis.AsynqConnOpt(), asynq.Config{
		Concurrency:     cfg.Concurrency,
		Queues:          queues,
		IsFailure:       tasks.IsFailure,
		RetryDelayFunc:  tasks.RetryDelay,
		ErrorHandler:    tasks.NewErrorHandler(log, cat),
		Logger:          asynqLogger{log: log.With().Str("component", "asynq").Logger()},
		LogLevel:        asynq.WarnLevel,
		ShutdownTimeout: shutdownTimeout,
	})
	mon, err := startMonitor(ctx, cfg, getenv, rdb, store, cat, pauses, m, log)
	if err != nil {
		return err
	}
	if mon != nil {
		defer func() {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if err := mon.Shutdown(ctx); err != nil {
				log.Warn().Err(err).Msg("monitoring server did not stop cleanly")
			}
		}()
	}
	mux := asynq.NewServeMux()
	mux.Handle(tasks.TypeGenerate, gen)
	stopRegen, err := startRegen(ctx, regenCfg, mux, rdb, cat, budget, log)
	if err != nil {
		return err
	}
	defer stopRegen()
	if err := srv.Start(mux); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	log.Info().Strs("queues", queueNames).Int("concurrency", cfg.Concurrency).Msg("worker started")

	loopCtx, stopLoops := context.WithCancel(ctx)
	loopsDone := make(chan struct{})
	go func() {
		defer close(loopsDone)
		healLoop(loopCtx, probe, pauses, guards.storage.ProbeInterval, clock.Now, log)
	}()
	stop := func() {
		stopLoops()
		<-loopsDone
		srv.Shutdown()
	}

	if !opts.untilIdle {
		<-ctx.Done()
		log.Info().Msg("shutting down: finishing the tasks under way")
		stop()
		return nil
	}
	totals, err := waitIdle(ctx, inspector, pauses, queueNames, idlePoll, log)
	stop()
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	}
	fmt.Fprintf(stdout, "idle: nothing left to run; %d tasks held by paused queues, %d failed (archived)\n", totals.Paused, totals.Failed)
	switch {
	case totals.Paused > 0:
		return withStatus(exitPaused, "%d tasks wait in paused queues (see `enqueue status`; resume with `enqueue resume`)", totals.Paused)
	case totals.Failed > 0:
		return withStatus(exitFailed, "%d tasks failed for good (archived; see the web UI or `enqueue status`)", totals.Failed)
	}
	return nil
}

// newClients makes one WeChat client per configured app, each with the token
// source its configuration names.
func newClients(cfg *config.Config, rdb redis.UniversalClient, m *metrics.Metrics, log zerolog.Logger) (map[string]tasks.WeChat, error) {
	httpClient := &http.Client{Timeout: 30 * time.Second}
	clients := make(map[string]tasks.WeChat, len(cfg.Apps))
	for _, app := range cfg.Apps {
		tc := wechat.TokenConfig{
			AppID: app.AppID, Secret: app.Secret, Redis: rdb,
			APIBaseURL: cfg.APIBaseURL, HTTPClient: httpClient,
			Logger:  log, // the token source names the app itself
			OnFetch: m.TokenRefreshed,
		}
		var tokens wechat.TokenSource
		var err error
		switch app.Token.Kind {
		case config.TokenClassic:
			tokens, err = wechat.NewClassicTokenSource(tc)
		case config.TokenRedis:
			tokens = wechat.NewRedisKeyTokenSource(rdb, app.Token.Ref)
		case config.TokenURL:
			tokens = wechat.NewURLTokenSource(app.Token.Ref, httpClient)
		default:
			tokens, err = wechat.NewStableTokenSource(tc)
		}
		if err != nil {
			return nil, fmt.Errorf("app %s: %w", app.AppID, err)
		}
		client, err := wechat.NewClient(wechat.Config{
			AppID: app.AppID, Tokens: tokens, HTTPClient: httpClient,
			APIBaseURL: cfg.APIBaseURL, MPBaseURL: cfg.MPBaseURL,
			Logger: log, // the client names the app itself
		})
		if err != nil {
			return nil, fmt.Errorf("app %s: %w", app.AppID, err)
		}
		clients[app.AppID] = client
	}
	return clients, nil
}
