package main

import (
	"context"
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // WXQR_REGEN_TZ and the budgets' Asia/Shanghai must load on machines without a zone database

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/internal/config"
	"github.com/wxqr/wxqr/ratelimit"
	"github.com/wxqr/wxqr/regen"
)

// Environment variables of the regeneration of temporary codes.
const (
	envRegenSchedule = "WXQR_REGEN_SCHEDULE"
	envRegenZone     = "WXQR_REGEN_TZ"
	envRegenHorizon  = "WXQR_REGEN_HORIZON"
)

// regenOff, as WXQR_REGEN_SCHEDULE, stops this worker from queueing scans.
// It still runs the scans other workers queue.
const regenOff = "off"

// scanConcurrency is how many scans a worker runs at once, on an asynq
// server of its own. A scan is one task per slot of the schedule, and must
// not wait behind a campaign: with a server of its own it never does. And
// the apps' server, which asks its queues in turn for a task (one round
// trip to Redis each) before each code, does not ask the scan queue, empty
// nearly all the time.
const scanConcurrency = 1

// regenSettings is how this worker takes part in regeneration.
type regenSettings struct {
	spec     string         // WXQR_REGEN_SCHEDULE as given, for the log
	schedule regen.Schedule // nil: this worker queues no scans
	zone     *time.Location
	horizon  time.Duration
}

// parseRegen reads WXQR_REGEN_SCHEDULE (a cron spec, default "0 3 * * *";
// "off" queues no scans), WXQR_REGEN_TZ (the spec's zone, default
// Asia/Shanghai) and WXQR_REGEN_HORIZON (how soon a code must expire to be
// regenerated, default 48h; "2d" and "1d12h" work too). Errors name the
// variable.
func parseRegen(getenv func(string) string) (regenSettings, error) {
	rs := regenSettings{spec: regen.DefaultSchedule, horizon: regen.DefaultHorizon}
	zone := regen.DefaultZone
	if v := strings.TrimSpace(getenv(envRegenZone)); v != "" {
		zone = v
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return rs, fmt.Errorf("%s: unknown time zone %q (want e.g. Asia/Shanghai or UTC)", envRegenZone, zone)
	}
	rs.zone = loc
	if v := strings.TrimSpace(getenv(envRegenHorizon)); v != "" {
		if rs.horizon, err = config.ParseDuration(v); err != nil {
			return rs, fmt.Errorf("%s: %w", envRegenHorizon, err)
		}
	}
	if v := strings.TrimSpace(getenv(envRegenSchedule)); v != "" {
		rs.spec = v
	}
	if strings.EqualFold(rs.spec, regenOff) {
		return rs, nil
	}
	if rs.schedule, err = regen.ParseSchedule(rs.spec, loc); err != nil {
		return rs, fmt.Errorf("%s: %w (want a cron spec such as \"0 3 * * *\", or \"off\")", envRegenSchedule, err)
	}
	return rs, nil
}

// startRegen makes this worker take part in regeneration: it registers the
// scan handler on mux (the worker must also serve regen.QueueName) and,
// unless the schedule is off, starts queueing the scan of every slot. Both
// tell the time by now (the fleet's clock); appTypes are the configured
// apps' types. stop ends the schedule; it does not touch the mux.
func startRegen(ctx context.Context, rs regenSettings, mux *asynq.ServeMux, rdb redis.UniversalClient,
	cat *catalog.Catalog, budget *ratelimit.Budget, appTypes map[string]wxqr.AppType, now func() time.Time, log zerolog.Logger) (stop func(), err error) {
	log = log.With().Str("component", "regen").Logger()
	// A client on the worker's own connection pool; asynq does not let it
	// be closed, the pool is closed with rdb.
	client := asynq.NewClientFromRedisClient(rdb)
	planner, err := regen.NewPlanner(regen.PlannerConfig{
		Catalog: cat, Client: client, Inspector: asynq.NewInspectorFromRedisClient(rdb), Budget: budget, AppTypes: appTypes, Now: now,
	})
	if err != nil {
		return nil, err
	}
	handler, err := regen.NewScanHandler(regen.ScanConfig{
		Planner: planner, Redis: rdb, Horizon: rs.horizon, Schedule: rs.schedule, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	mux.Handle(regen.TypeScan, handler)

	if rs.schedule == nil {
		log.Info().Msg("regeneration schedule off on this worker (" + envRegenSchedule + "=off); it still runs the scans others queue")
		return func() {}, nil
	}
	trigger, err := regen.NewTrigger(regen.TriggerConfig{Schedule: rs.schedule, Client: client, Logger: log, Now: now})
	if err != nil {
		return nil, err
	}
	next := rs.schedule.Next(now())
	log.Info().Str("schedule", rs.spec).Str("zone", rs.zone.String()).Dur("horizon", rs.horizon).
		Time("next_scan", next).Msg("regeneration scheduled")
	if period := rs.schedule.Next(next).Sub(next); rs.horizon <= period {
		log.Warn().Dur("horizon", rs.horizon).Dur("period", period).
			Msg(envRegenHorizon + " is not longer than the time between scans: codes may expire before a scan regenerates them")
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		trigger.Run(ctx)
	}()
	return func() {
		cancel()
		<-done
	}, nil
}
