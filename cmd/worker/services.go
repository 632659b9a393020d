package main

import (
	"context"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/internal/config"
	"github.com/wxqr/wxqr/internal/exitcode"
	"github.com/wxqr/wxqr/internal/fleetclock"
	"github.com/wxqr/wxqr/jobfile"
	"github.com/wxqr/wxqr/metrics"
	"github.com/wxqr/wxqr/monitor"
	"github.com/wxqr/wxqr/notify"
	"github.com/wxqr/wxqr/preflight"
	"github.com/wxqr/wxqr/ratelimit"
	"github.com/wxqr/wxqr/scans"
	"github.com/wxqr/wxqr/storage"
	"github.com/wxqr/wxqr/tasks"
)

// services are the worker's connections and components. build makes them
// in the order they depend on one another; Close closes them in reverse.
type services struct {
	log       zerolog.Logger
	rdb       redis.UniversalClient
	store     storage.Store
	inspector *asynq.Inspector
	pauses    *tasks.Pauses
	// clock is the fleet's clock (Redis's): days, budgets, pause times and
	// regeneration slots follow it.
	clock  *fleetclock.Clock
	cat    *catalog.Catalog
	scans  *scans.Store // the scan counts, which the monitor and /metrics show
	budget *ratelimit.Budget
	// quotas ask WeChat for each app's daily quotas: the pre-flight of the
	// monitor's upload.
	quotas  map[string]preflight.QuotaAsker
	metrics *metrics.Metrics
	gen     *tasks.Generator
	// breaker is gen's circuit breaker, which holds successes to count;
	// nil when WXQR_BREAKER=off.
	breaker *tasks.Breaker
	probe   *tasks.StorageProbe // the storage watch over every queue served
	// notifier tells of campaigns finished, paused and failing; nil when
	// WXQR_NOTIFY_URL is unset.
	notifier *notify.Notifier
	// queueNames are the apps' queues, which --until-idle watches.
	queueNames []string
	srv        *asynq.Server // the apps' queues
	scanSrv    *asynq.Server // the scan queue
	mux        *asynq.ServeMux
	monitor    *monitor.Server // nil when WXQR_MONITOR_ADDR is off
	stopRegen  func()          // ends the regeneration schedule
	stopLoops  func()          // ends the worker's own loops; set by startLoops
	// stopNotices ends the notifier's loop after its last sends; set by
	// startNotices.
	stopNotices func()
}

// build connects and makes the worker's services from wc, which
// loadConfig has checked: what fails here is a connection, a service that
// does not answer, or Redis's own settings. On an error it closes what it
// made.
func build(ctx context.Context, wc *workerConfig, log zerolog.Logger) (_ *services, err error) {
	s := &services{log: log}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if err = s.connect(ctx, wc.shared); err != nil {
		return nil, err
	}
	if err = s.buildGenerator(ctx, wc); err != nil {
		return nil, err
	}
	s.newServer(wc.shared)
	if err = s.startMonitor(ctx, wc); err != nil {
		return nil, err
	}
	if s.stopRegen, err = startRegen(ctx, wc.regen, s.mux, s.rdb, s.cat, s.budget, jobfile.AppTypes(wc.shared.Apps), s.clock.Now, log); err != nil {
		return nil, err
	}
	return s, nil
}

// connect connects to Redis and storage, checks that both answer, and
// reads the fleet's clock.
func (s *services) connect(ctx context.Context, cfg *config.Config) error {
	s.rdb = cfg.Redis.NewClient()
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis at %s: %w", cfg.Redis, err)
	}
	if err := config.CheckNoEviction(ctx, s.rdb, s.log); err != nil {
		return exitcode.UsageError(fmt.Errorf("redis at %s: %w", cfg.Redis, err))
	}
	// Every handler may be storing at once: keep that many connections
	// to S3 open between tasks.
	st := cfg.Storage
	st.S3.IdleConns = cfg.Concurrency
	store, err := st.Open(ctx)
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
	s.store = store
	s.inspector = asynq.NewInspector(cfg.Redis.AsynqConnOpt())
	s.pauses = tasks.NewPauses(s.rdb, s.inspector)

	// Days, budgets and pause times follow Redis's clock, the same for the
	// whole fleet.
	if s.clock, err = fleetclock.New(ctx, s.rdb, fleetclock.Config{Logger: s.log}); err != nil {
		return fmt.Errorf("redis at %s: %w", cfg.Redis, err)
	}
	return nil
}

// startLoops starts the worker's own loop, which ends the pauses that end
// by themselves; stopWork stops it.
func (s *services) startLoops(ctx context.Context, probeEvery time.Duration) {
	loopCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		healLoop(loopCtx, s.probe, s.pauses, probeEvery, s.clock.Now, s.log)
	}()
	s.stopLoops = func() {
		cancel()
		<-done
	}
}

// stopWork stops taking tasks: the loops first, then asynq's servers,
// which let the tasks under way finish (see shutdownTimeout), then the
// notifier, which sends what they told of. Once done, it does nothing.
func (s *services) stopWork() {
	if s.stopLoops != nil {
		s.stopLoops()
		s.stopLoops = nil
	}
	for _, srv := range []*asynq.Server{s.srv, s.scanSrv} {
		if srv != nil {
			srv.Shutdown() // nothing when never started or already shut down
		}
	}
	if s.stopNotices != nil {
		s.stopNotices()
		s.stopNotices = nil
	}
}

// monitorShutdownTimeout bounds the monitoring server's shutdown.
const monitorShutdownTimeout = 10 * time.Second

// breakerCloseTimeout bounds the count of the successes the circuit
// breaker holds at shutdown.
const breakerCloseTimeout = 5 * time.Second

// Close stops the work if it still runs (stopWork), then closes, in this
// order, the circuit breaker (which counts the successes it holds), the
// regeneration schedule, the monitoring server, the inspector and Redis.
// It closes only what was made.
func (s *services) Close() {
	s.stopWork()
	if s.breaker != nil {
		// The run's context is over by now: the count gets its own.
		ctx, cancel := context.WithTimeout(context.Background(), breakerCloseTimeout)
		s.breaker.Close(ctx)
		cancel()
	}
	if s.stopRegen != nil {
		s.stopRegen()
	}
	if s.monitor != nil {
		// The run's context is over by now: the shutdown gets its own.
		ctx, cancel := context.WithTimeout(context.Background(), monitorShutdownTimeout)
		defer cancel()
		if err := s.monitor.Shutdown(ctx); err != nil {
			s.log.Warn().Err(err).Msg("monitoring server did not stop cleanly")
		}
	}
	if s.inspector != nil {
		s.inspector.Close()
	}
	if s.rdb != nil {
		s.rdb.Close()
	}
}
