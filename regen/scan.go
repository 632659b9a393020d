package regen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
)

// TypeScan scans the catalog for codes to regenerate, once per slot of the
// schedule. The name is stable: tasks already queued under it must keep
// running after upgrades.
const TypeScan = "wxqr:regen-scan"

// QueueName is the queue of the scan tasks, apart from the apps' queues so
// that a paused app never holds a scan back. Every worker serves it.
const QueueName = "wxqr.regen"

// Defaults of scan tasks.
const (
	// ScanMaxRetry bounds the retries of a scan that failed (Redis
	// unreachable...). Queueing again what a failed attempt queued is a
	// no-op.
	ScanMaxRetry = 5
	// ScanTimeout bounds one scan: planning and queueing a night's codes.
	ScanTimeout = 30 * time.Minute
	// DefaultScanRetention is how long a finished scan keeps its slot's
	// task id taken.
	DefaultScanRetention = 24 * time.Hour
)

// ScanPayload asks for the scan of one slot.
type ScanPayload struct {
	Slot time.Time `json:"slot"`
}

// ScanTaskID is the task id of the scan of slot: the same in every worker,
// so that asynq keeps one scan per slot.
func ScanTaskID(slot time.Time) string {
	return "regen-scan:" + slot.UTC().Format(time.RFC3339)
}

// NewScanTask returns the scan task of slot with its default options: its
// queue, its slot-derived id, retries, timeout, and the retention that
// keeps the id taken for retention after the scan finished.
func NewScanTask(slot time.Time, retention time.Duration) (*asynq.Task, error) {
	payload, err := json.Marshal(ScanPayload{Slot: slot.UTC()})
	if err != nil {
		return nil, fmt.Errorf("encode scan payload: %w", err)
	}
	return asynq.NewTask(TypeScan, payload,
		asynq.Queue(QueueName),
		asynq.TaskID(ScanTaskID(slot)),
		asynq.MaxRetry(ScanMaxRetry),
		asynq.Timeout(ScanTimeout),
		asynq.Retention(retention),
	), nil
}

// EnqueueScan queues the scan of slot, unless it is queued, running or
// finished (within its retention) already, and reports whether this call
// queued it.
func EnqueueScan(ctx context.Context, client Enqueuer, slot time.Time, retention time.Duration) (bool, error) {
	task, err := NewScanTask(slot, retention)
	if err != nil {
		return false, err
	}
	_, err = client.EnqueueContext(ctx, task)
	switch {
	case errors.Is(err, asynq.ErrTaskIDConflict):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("regen: queue the scan of %s: %w", slot.UTC().Format(time.RFC3339), err)
	}
	return true, nil
}

// ScanConfig configures a [ScanHandler].
type ScanConfig struct {
	// Planner plans and queues the regenerations. Required.
	Planner *Planner
	// Redis keeps the last report (see LastReport). Required.
	Redis redis.Cmdable
	// Horizon: codes that expire within it are due. Default DefaultHorizon
	// (48 h).
	Horizon time.Duration
	// Schedule is the schedule the scans follow; with it, the handler warns
	// when deferred codes expire before the next slot. Default nil: no such
	// warning.
	Schedule Schedule
	// Logger receives one line per scan, and a warning per app whose due
	// codes did not all fit in its budget.
	Logger zerolog.Logger
}

// ScanHandler runs TypeScan tasks: it plans the codes due within the
// horizon, queues their regeneration, and reports.
type ScanHandler struct {
	planner  *Planner
	rdb      redis.Cmdable
	horizon  time.Duration
	schedule Schedule
	log      zerolog.Logger
}

var _ asynq.Handler = (*ScanHandler)(nil)

// NewScanHandler returns a handler configured by cfg, with defaults applied.
// It fails if Planner or Redis is missing or Horizon is negative.
func NewScanHandler(cfg ScanConfig) (*ScanHandler, error) {
	switch {
	case cfg.Planner == nil:
		return nil, errors.New("regen: new scan handler: Planner is required")
	case cfg.Redis == nil:
		return nil, errors.New("regen: new scan handler: Redis is required")
	case cfg.Horizon < 0:
		return nil, fmt.Errorf("regen: new scan handler: Horizon must not be negative, got %s", cfg.Horizon)
	}
	if cfg.Horizon == 0 {
		cfg.Horizon = DefaultHorizon
	}
	return &ScanHandler{planner: cfg.Planner, rdb: cfg.Redis, horizon: cfg.Horizon, schedule: cfg.Schedule, log: cfg.Logger}, nil
}

// ProcessTask implements asynq.Handler.
func (h *ScanHandler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var p ScanPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("decode scan payload: %v: %w", err, asynq.SkipRetry)
	}
	plan, err := h.planner.Plan(ctx, Options{Within: h.horizon})
	if err != nil {
		return err
	}
	report, err := h.planner.Queue(ctx, plan)
	if err != nil {
		return err
	}
	report.Slot = p.Slot
	if err := SaveReport(ctx, h.rdb, report); err != nil {
		return err
	}
	// Shown with the finished task in the web UI. Best effort: the report
	// is saved already, and logged below. (A task not run by an asynq
	// server has no result writer.)
	if w := t.ResultWriter(); w != nil {
		if data, err := json.Marshal(report); err == nil {
			_, _ = w.Write(data)
		}
	}
	h.logReport(report)
	return nil
}

// logReport logs one line for the scan and a warning per app that could not
// regenerate every due code today.
func (h *ScanHandler) logReport(r *Report) {
	total := r.Total()
	h.log.Info().Time("slot", r.Slot).Time("before", r.Before).
		Int("due", total.Due).Int("queued", total.Queued).
		Int("already_queued", total.AlreadyQueued).Int("deferred", total.Deferred).
		Msg("regeneration scan")
	var next time.Time
	if h.schedule != nil {
		next = h.schedule.Next(r.At)
	}
	for _, a := range r.Apps {
		if a.Deferred == 0 {
			continue
		}
		ev := h.log.Warn().Str("app_id", a.AppID).Int("deferred", a.Deferred).
			Time("soonest_deferred", a.SoonestDeferred)
		if a.BudgetLeft != nil {
			ev = ev.Int64("budget_left", *a.BudgetLeft)
		}
		msg := "daily budget too small to regenerate every due code: the rest waits for the next scan"
		if !next.IsZero() && a.SoonestDeferred.Before(next) {
			ev = ev.Time("next_scan", next)
			msg = "daily budget too small to regenerate every due code: some expire before the next scan; raise the budget or run `enqueue regen` after the daily reset"
		}
		ev.Msg(msg)
	}
}
