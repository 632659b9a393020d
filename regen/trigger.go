package regen

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"
)

// TriggerConfig configures a [Trigger].
type TriggerConfig struct {
	// Schedule gives the slots. Required.
	Schedule Schedule
	// Client queues the scan tasks. Required.
	Client Enqueuer
	// Retention is how long a finished scan keeps its slot's task id taken,
	// and so how late a worker may reach a slot and still find it done
	// (clock skew, a process paused). A slot reached later than that is
	// skipped. Default DefaultScanRetention (24 h).
	Retention time.Duration
	// Logger receives the slots this trigger queued, and its failures.
	Logger zerolog.Logger
	// Now is the clock the slots are reached on: the fleet's, so that
	// workers whose own clocks differ reach each slot together. Default
	// time.Now.
	Now func() time.Time
}

// Trigger queues the scan of every slot of a schedule. Every worker runs
// one: the scan task's id derives from the slot, so however many triggers
// reach a slot, one scan runs.
//
// asynq's Scheduler (and PeriodicTaskManager) would not do: it enqueues the
// same task, with the same options, at every tick, so it cannot give each
// slot its own task id, and without one N workers make N scans. Its Unique
// option does not help either: the uniqueness lock is released when the
// task finishes, so a worker whose clock is a little behind queues the slot
// again.
type Trigger struct {
	schedule  Schedule
	client    Enqueuer
	retention time.Duration
	log       zerolog.Logger
	now       func() time.Time
}

// NewTrigger returns a trigger configured by cfg, with defaults applied. It
// fails if Schedule or Client is missing or Retention is negative.
func NewTrigger(cfg TriggerConfig) (*Trigger, error) {
	switch {
	case cfg.Schedule == nil:
		return nil, errors.New("regen: new trigger: Schedule is required")
	case cfg.Client == nil:
		return nil, errors.New("regen: new trigger: Client is required")
	case cfg.Retention < 0:
		return nil, fmt.Errorf("regen: new trigger: Retention must not be negative, got %s", cfg.Retention)
	}
	if cfg.Retention == 0 {
		cfg.Retention = DefaultScanRetention
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Trigger{schedule: cfg.Schedule, client: cfg.Client, retention: cfg.Retention, log: cfg.Logger, now: cfg.Now}, nil
}

// Run queues the scan of each slot as it comes, until ctx is done. A slot
// that passes while no trigger runs is not made up for: the horizon spans
// more than one period, so the next scan finds what that one would have.
func (t *Trigger) Run(ctx context.Context) {
	after := t.now()
	for {
		slot := t.schedule.Next(after)
		if slot.IsZero() {
			t.log.Error().Msg("the regeneration schedule fires no more: no scan will be queued")
			return
		}
		timer := time.NewTimer(slot.Sub(t.now()))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		now := t.now()
		t.queue(ctx, slot, now)
		// A clock set back must not bring the same slot round again.
		after = now
		if now.Before(slot) {
			after = slot
		}
	}
}

// queue queues the scan of slot, reached at now.
func (t *Trigger) queue(ctx context.Context, slot, now time.Time) {
	log := t.log.With().Time("slot", slot).Logger()
	if late := now.Sub(slot); late >= t.retention {
		// Past the retention nothing tells whether the slot's scan ran.
		log.Warn().Dur("late", late).Msg("regeneration slot reached too late to know whether it was scanned: skipped")
		return
	}
	queued, err := EnqueueScan(ctx, t.client, slot, t.retention)
	switch {
	case err != nil && ctx.Err() == nil:
		log.Warn().Err(err).Msg("could not queue the regeneration scan; another worker may have")
	case queued:
		log.Info().Msg("regeneration scan queued")
	case err == nil:
		log.Debug().Msg("regeneration scan already queued by another worker")
	}
}
