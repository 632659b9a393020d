package tasks

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/wxqr/wxqr"
)

// StorageHealthConfig configures a StorageHealth. Its zero value is the
// defaults.
type StorageHealthConfig struct {
	// Failures is how many puts in a row, across the fleet, must fail for
	// the queues to pause (reason ReasonStorage). Default 10.
	Failures int
	// ProbeInterval is how often a worker probes storage. A storage pause
	// lasts three intervals unless a failing probe extends it, so that it
	// ends by itself even if every worker dies. Default 5 s.
	ProbeInterval time.Duration
	// MaxStagedBytes caps the images staged in Redis awaiting storage: past
	// it, no code is made until storage takes some (a wait, not a failure).
	// Default 256 MiB.
	MaxStagedBytes int64
	// SyncEvery is how long a worker trusts an all-clear it read in Redis
	// (see Blocked), so that a healthy fleet does not pay round trips to
	// Redis per code. Default 100 ms.
	SyncEvery time.Duration
}

// WithDefaults returns c with every unset field at its default.
func (c StorageHealthConfig) WithDefaults() StorageHealthConfig {
	if c.Failures == 0 {
		c.Failures = 10
	}
	if c.ProbeInterval == 0 {
		c.ProbeInterval = 5 * time.Second
	}
	if c.MaxStagedBytes == 0 {
		c.MaxStagedBytes = 256 << 20
	}
	if c.SyncEvery == 0 {
		c.SyncEvery = 100 * time.Millisecond
	}
	return c
}

// Validate reports whether c, defaults applied, is a usable configuration.
// NewStorageHealth runs it; a command runs it too, to refuse a bad value
// before it connects to anything.
func (c StorageHealthConfig) Validate() error {
	if c.Failures < 1 || c.ProbeInterval < time.Millisecond || c.MaxStagedBytes < 1 || c.SyncEvery < time.Millisecond {
		return fmt.Errorf("storage health: failures, probe interval, staged bytes and sync interval must be positive, got %d, %s, %d, %s",
			c.Failures, c.ProbeInterval, c.MaxStagedBytes, c.SyncEvery)
	}
	return nil
}

// StorageHealth tells the generator when it must not make codes because
// their results could not be kept: storage fails, or too many results wait
// in Redis for it. Its counts live in Redis, shared by the fleet.
//
// A successful put ends the run of failed puts that its worker knows of:
// one it counted itself, or one it read in Blocked. So a healthy fleet
// pays no round trip to Redis for a success, and a put under way when
// another worker's put failed may leave that failure counted; the next
// success of a code asked about after the worker read it ends the run.
type StorageHealth struct {
	rdb         redis.UniversalClient
	cfg         StorageHealthConfig
	stagedBytes func(context.Context) (int64, error)
	failuresKey string
	// knownFailures is the run of failed puts this worker last saw.
	knownFailures atomic.Int64
	// clearSince is when Blocked last read an all-clear in Redis, in
	// nanoseconds since clockStart; 0: none to trust.
	clearSince atomic.Int64
	clockStart time.Time
}

// NewStorageHealth returns a StorageHealth keeping its count in rdb under
// "wxqr:storage:", reading the staged bytes with stagedBytes
// (catalog.Catalog.StagedBytes), configured by cfg after its defaults.
func NewStorageHealth(rdb redis.UniversalClient, stagedBytes func(context.Context) (int64, error), cfg StorageHealthConfig) (*StorageHealth, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &StorageHealth{rdb: rdb, cfg: cfg, stagedBytes: stagedBytes, failuresKey: "wxqr:storage:put_failures",
		clockStart: time.Now()}, nil
}

// Config returns the configuration in use, defaults applied.
func (h *StorageHealth) Config() StorageHealthConfig { return h.cfg }

// Blocked returns why no code may be made now ("" when codes may be made),
// and whether that is because storage is down (rather than the cap on
// staged bytes reached). An all-clear it read in Redis stands for
// SyncEvery, unless a put of this worker fails meanwhile: another worker's
// failures, or the staged bytes reaching the cap, may take that long to
// stop this worker's codes (and whoever counted the run that put storage
// down has paused the app's queues already). A block is read again each
// time, so that codes go again as soon as they may.
func (h *StorageHealth) Blocked(ctx context.Context) (why string, down bool, err error) {
	now := time.Since(h.clockStart).Nanoseconds()
	if since := h.clearSince.Load(); since > 0 && now-since < h.cfg.SyncEvery.Nanoseconds() {
		return "", false, nil
	}
	failures, err := h.rdb.Get(ctx, h.failuresKey).Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return "", false, fmt.Errorf("storage health: %w", err)
	}
	h.knownFailures.Store(failures)
	if failures >= int64(h.cfg.Failures) {
		return fmt.Sprintf("storage failed %d puts in a row", failures), true, nil
	}
	staged, err := h.stagedBytes(ctx)
	if err != nil {
		return "", false, fmt.Errorf("storage health: %w", err)
	}
	if staged >= h.cfg.MaxStagedBytes {
		return fmt.Sprintf("%d bytes of images wait in Redis for storage (cap %d)", staged, h.cfg.MaxStagedBytes), false, nil
	}
	h.clearSince.Store(max(now, 1))
	return "", false, nil
}

// RecordPut counts one put: a success ends the run of failures (the run
// this worker knows of: see StorageHealth), a failure adds to it. It
// reports whether storage is now down (Failures in a row).
func (h *StorageHealth) RecordPut(ctx context.Context, failed bool) (down bool, err error) {
	if !failed {
		if h.knownFailures.Load() == 0 {
			return false, nil
		}
		return false, h.reset(ctx)
	}
	h.clearSince.Store(0) // the all-clear read before is out of date
	n, err := h.rdb.Incr(ctx, h.failuresKey).Result()
	if err != nil {
		return false, fmt.Errorf("storage health: %w", err)
	}
	h.knownFailures.Store(n)
	return n >= int64(h.cfg.Failures), nil
}

// reset ends the run of failed puts.
func (h *StorageHealth) reset(ctx context.Context) error {
	if err := h.rdb.Del(ctx, h.failuresKey).Err(); err != nil {
		return fmt.Errorf("storage health: %w", err)
	}
	h.knownFailures.Store(0)
	return nil
}

// HoldUntil is when a storage pause made at now ends unless a failing probe
// extends it.
func (h *StorageHealth) HoldUntil(now time.Time) time.Time {
	return now.Add(3 * h.cfg.ProbeInterval)
}

// StorageChecker is the part of a storage.Store that the probe calls.
type StorageChecker interface {
	Check(ctx context.Context) error
}

// ServedQueue is one queue that a worker serves: one quota class of an app.
type ServedQueue struct {
	AppID string
	Class wxqr.QuotaClass
}

// StorageProbe is a worker's watch over its storage: run Probe every
// ProbeInterval. It checks storage only while there is a doubt (a put
// failed since the last success, or a storage pause lasts), so that a
// healthy fleet sends storage no probes. While storage fails its check,
// every queue the worker serves stays paused with reason ReasonStorage;
// once it answers, the run of failed puts is forgotten and the storage
// pauses end (only those: a pause made by hand or for another reason
// stays).
type StorageProbe struct {
	Store  StorageChecker
	Health *StorageHealth
	Pauses *Pauses
	Queues []ServedQueue
	Logger zerolog.Logger
	// Notices is told of each storage pause this probe records first.
	// Default: none.
	Notices Notices
}

// Probe checks storage once, within a probe interval, if there is a doubt,
// and pauses or resumes the queues. It returns the check's error.
func (p *StorageProbe) Probe(ctx context.Context, now time.Time) error {
	if doubt, err := p.doubt(ctx); err != nil || !doubt {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, p.Health.cfg.ProbeInterval)
	checkErr := p.Store.Check(cctx)
	cancel()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if checkErr == nil {
		// First, so that the queues resumed below do not find the old run
		// of failures and wait again.
		if err := p.Health.reset(ctx); err != nil {
			p.Logger.Warn().Err(err).Msg("storage answers again, but its count of failed puts could not be reset")
		}
	}
	for _, q := range p.Queues {
		if ctx.Err() != nil {
			return ctx.Err() // shutting down
		}
		name := QueueName(q.AppID, q.Class)
		log := p.Logger.With().Str("queue", name).Str("app_id", q.AppID).Str("class", string(q.Class)).Logger()
		if checkErr != nil {
			p.hold(ctx, q, now, checkErr, log)
			continue
		}
		released, err := p.Pauses.Release(ctx, name, ReasonStorage)
		if err != nil {
			log.Warn().Err(err).Msg("storage answers again, but the queue could not be resumed")
		} else if released {
			log.Info().Msg("storage answers again: queue resumed")
		}
	}
	return checkErr
}

// hold pauses q, or extends its storage pause, while storage fails its
// check (checkErr).
func (p *StorageProbe) hold(ctx context.Context, q ServedQueue, now time.Time, checkErr error, log zerolog.Logger) {
	state := PauseState{Queue: QueueName(q.AppID, q.Class), AppID: q.AppID, Class: q.Class,
		Reason: ReasonStorage, PausedAt: now, ResumeAt: p.Health.HoldUntil(now)}
	first, err := p.Pauses.Hold(ctx, state)
	if err != nil {
		log.Warn().Err(err).Msg("storage fails, and the queue could not be paused")
		return
	}
	if !first {
		return
	}
	log.Warn().Err(checkErr).Msg("storage does not answer: queue paused for every worker until it does; nothing is lost")
	if p.Notices != nil {
		waiting, _ := p.Pauses.Waiting(ctx, state.Queue)
		p.Notices.Paused(ctx, state, "", waiting)
	}
}

// doubt reports whether storage may be failing: a put failed since the last
// success, or one of the worker's queues is paused for storage.
func (p *StorageProbe) doubt(ctx context.Context) (bool, error) {
	failures, err := p.Health.rdb.Exists(ctx, p.Health.failuresKey).Result()
	if err != nil {
		return false, fmt.Errorf("storage probe: %w", err)
	}
	if failures > 0 {
		return true, nil
	}
	for _, q := range p.Queues {
		s, err := p.Pauses.Paused(ctx, QueueName(q.AppID, q.Class))
		if err != nil {
			return false, fmt.Errorf("storage probe: %w", err)
		}
		if s != nil && s.Reason == ReasonStorage {
			return true, nil
		}
	}
	return false, nil
}
