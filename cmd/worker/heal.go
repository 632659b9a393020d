package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/internal/config"
	"github.com/wxqr/wxqr/storage"
	"github.com/wxqr/wxqr/tasks"
)

// Environment variables of the circuit breaker and the storage watch.
const (
	envBreaker         = "WXQR_BREAKER"
	envStorageFailures = "WXQR_STORAGE_FAILURES"
	envStorageProbe    = "WXQR_STORAGE_PROBE"
	envStagedMaxBytes  = "WXQR_STAGED_MAX_BYTES"
)

// breakerOff, as WXQR_BREAKER, turns the circuit breaker off.
const breakerOff = "off"

// guardSettings configure the circuit breaker and the storage watch.
type guardSettings struct {
	breaker    tasks.BreakerConfig
	breakerOff bool
	storage    tasks.StorageHealthConfig
}

// parseGuards reads WXQR_BREAKER ("off", or any of
// "failures=20,ratio=0.5,window=30s,pause=30s,max_pause=10m,probe_failures=5"),
// WXQR_STORAGE_FAILURES (puts in a row, default 10), WXQR_STORAGE_PROBE
// (default 5s) and WXQR_STAGED_MAX_BYTES (default 268435456), and checks
// them as the breaker and the storage watch will. Errors name the variable.
func parseGuards(getenv func(string) string) (guardSettings, error) {
	var gs guardSettings
	var err error
	if raw := strings.TrimSpace(getenv(envBreaker)); strings.EqualFold(raw, breakerOff) {
		gs.breakerOff = true
	} else if gs.breaker, err = parseBreaker(raw); err != nil {
		return gs, fmt.Errorf("%s: %w", envBreaker, err)
	}
	if v := strings.TrimSpace(getenv(envStorageFailures)); v != "" {
		if gs.storage.Failures, err = strconv.Atoi(v); err != nil || gs.storage.Failures < 1 {
			return gs, fmt.Errorf("%s: want a positive number of puts, got %q", envStorageFailures, v)
		}
	}
	if v := strings.TrimSpace(getenv(envStorageProbe)); v != "" {
		if gs.storage.ProbeInterval, err = config.ParseDuration(v); err != nil {
			return gs, fmt.Errorf("%s: %w", envStorageProbe, err)
		}
	}
	if v := strings.TrimSpace(getenv(envStagedMaxBytes)); v != "" {
		if gs.storage.MaxStagedBytes, err = strconv.ParseInt(v, 10, 64); err != nil || gs.storage.MaxStagedBytes < 1 {
			return gs, fmt.Errorf("%s: want a positive number of bytes, got %q", envStagedMaxBytes, v)
		}
	}
	gs.breaker = gs.breaker.WithDefaults()
	if err := gs.breaker.Validate(); err != nil {
		return gs, fmt.Errorf("%s: %w", envBreaker, err)
	}
	gs.storage = gs.storage.WithDefaults()
	if err := gs.storage.Validate(); err != nil {
		return gs, fmt.Errorf("%s, %s, %s: %w", envStorageFailures, envStorageProbe, envStagedMaxBytes, err)
	}
	return gs, nil
}

// parseBreaker parses "name=value,..." over the defaults.
func parseBreaker(raw string) (tasks.BreakerConfig, error) {
	var c tasks.BreakerConfig
	if raw == "" {
		return c, nil
	}
	for item := range strings.SplitSeq(raw, ",") {
		name, value, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok {
			return c, fmt.Errorf("%q: want name=value (failures, ratio, window, pause, max_pause, probe_failures) or %q", item, breakerOff)
		}
		var err error
		switch name {
		case "failures":
			c.Failures, err = positive(value)
		case "probe_failures":
			c.ProbeFailures, err = positive(value)
		case "ratio":
			c.Ratio, err = strconv.ParseFloat(value, 64)
			if err == nil && (c.Ratio <= 0 || c.Ratio > 1) {
				err = fmt.Errorf("%q: want a ratio in (0, 1]", value)
			}
		case "window":
			c.Window, err = config.ParseDuration(value)
		case "pause":
			c.Pause, err = config.ParseDuration(value)
		case "max_pause":
			c.MaxPause, err = config.ParseDuration(value)
		default:
			return c, fmt.Errorf("unknown setting %q (want failures, ratio, window, pause, max_pause or probe_failures)", name)
		}
		if err != nil {
			return c, fmt.Errorf("%s: %w", name, err)
		}
	}
	return c, nil
}

func positive(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%q: want a positive integer", s)
	}
	return n, nil
}

// healLoop ends the pauses that end by themselves: every probe interval it
// probes storage (pausing or resuming the worker's queues, see
// tasks.StorageProbe) and resumes the queues whose timed pause is over
// (the circuit breaker's, the daily quota's), on the fleet's clock now.
// Every worker runs it; resuming twice is harmless.
func healLoop(ctx context.Context, probe *tasks.StorageProbe, pauses *tasks.Pauses, every time.Duration, now func() time.Time, log zerolog.Logger) {
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	for {
		_ = probe.Probe(ctx, now()) // it logs what it changes
		resumed, err := pauses.ResumeDue(ctx, now())
		if err != nil && ctx.Err() == nil {
			log.Warn().Err(err).Msg("could not resume the queues whose pause ended")
		}
		for _, s := range resumed {
			msg := "daily quota reset: queue resumed"
			if s.SelfHealing() {
				msg = "pause over: queue resumed"
			}
			log.Info().Str("queue", s.Queue).Str("app_id", s.AppID).Str("class", string(s.Class)).
				Str("reason", s.Reason).Msg(msg)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// newGuards gives gen its circuit breaker (unless off; then the breaker
// returned is nil) and storage watch, and returns the worker's storage
// probe over every queue it serves.
func newGuards(gen *tasks.GeneratorConfig, gs guardSettings, rdb redis.UniversalClient, cat *catalog.Catalog,
	store storage.Store, pauses *tasks.Pauses, cfg *config.Config, log zerolog.Logger) (*tasks.Breaker, *tasks.StorageProbe, error) {
	var breaker *tasks.Breaker
	if !gs.breakerOff {
		var err error
		breaker, err = tasks.NewBreaker(rdb, gs.breaker, log.With().Str("component", "breaker").Logger())
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", envBreaker, err)
		}
		gen.Breaker = breaker
	}
	health, err := tasks.NewStorageHealth(rdb, cat.StagedBytes, gs.storage)
	if err != nil {
		return nil, nil, err
	}
	gen.StorageHealth = health
	var queues []tasks.ServedQueue
	for _, app := range cfg.Apps {
		for _, class := range app.Type.Classes() {
			queues = append(queues, tasks.ServedQueue{AppID: app.AppID, Class: class})
		}
	}
	return breaker, &tasks.StorageProbe{Store: store, Health: health, Pauses: pauses, Queues: queues,
		Logger: log.With().Str("component", "storage_probe").Logger()}, nil
}
