// Package fleetclock tells the time of the fleet: the clock of the Redis
// every worker shares (its TIME command), not each machine's own. Daily
// budgets, pause times and the resume loop read it, so that a worker whose
// clock is off neither counts a call on the wrong day nor resumes a queue
// before its reset.
//
// # Staleness
//
// Now does not ask Redis every time. A reading of TIME is carried forward by
// the local monotonic clock and taken again every Config.Refresh (a minute
// by default). Between readings Now is off from Redis's clock by the
// reading's own error (at most half the round trip of TIME, as the reading
// is placed at the middle of it) plus what the local oscillator drifted
// since (tens of parts per million: a few milliseconds per minute). A step
// of the local wall clock (NTP, an operator) changes nothing. When Redis
// cannot be read, Now goes on from the last reading and tries again after
// another Refresh.
package fleetclock

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
)

// Config configures a Clock. The zero value is valid: every field has a
// default.
type Config struct {
	// Refresh is how often Now reads Redis's clock again. Default 1 minute.
	Refresh time.Duration
	// Timeout bounds each reading. Default 2 s.
	Timeout time.Duration
	// Local is the clock whose elapsed time carries a reading forward.
	// Default time.Now, whose monotonic reading is what is used.
	Local func() time.Time
	// Logger receives a warning when a refresh fails. Default: discard.
	Logger zerolog.Logger
}

// Defaults for zero Config fields.
const (
	DefaultRefresh = time.Minute
	DefaultTimeout = 2 * time.Second
)

func (c Config) withDefaults() Config {
	if c.Refresh == 0 {
		c.Refresh = DefaultRefresh
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Local == nil {
		c.Local = time.Now
	}
	return c
}

// Clock is Redis's clock, read now and then. It is safe for concurrent use.
type Clock struct {
	rdb redis.UniversalClient
	cfg Config

	mu         sync.Mutex
	redisAt    time.Time // Redis's time at the last reading
	localAt    time.Time // the local clock at that moment
	tried      time.Time // the local clock at the last attempt to read
	refreshing bool      // a caller of Now is reading
}

// New reads Redis's clock once and returns a Clock that carries it forward.
// It fails if Redis cannot be read, or Refresh or Timeout is negative.
func New(ctx context.Context, rdb redis.UniversalClient, cfg Config) (*Clock, error) {
	cfg = cfg.withDefaults()
	if cfg.Refresh < 0 || cfg.Timeout < 0 {
		return nil, errors.New("fleetclock: Refresh and Timeout must not be negative")
	}
	c := &Clock{rdb: rdb, cfg: cfg}
	if err := c.read(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// Now returns the time of the fleet. Once per Refresh one caller reads
// Redis's clock (within Timeout) before answering; the others answer from
// the last reading at once.
func (c *Clock) Now() time.Time {
	local := c.cfg.Local()
	c.mu.Lock()
	due := !c.refreshing && local.Sub(c.tried) >= c.cfg.Refresh
	if !due {
		defer c.mu.Unlock()
		return c.at(local)
	}
	c.refreshing = true
	c.mu.Unlock()

	if err := c.read(context.Background()); err != nil {
		c.cfg.Logger.Warn().Err(err).Msg("could not read the fleet's clock; carrying the last reading forward")
	}
	local = c.cfg.Local()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refreshing = false
	return c.at(local)
}

// at returns the fleet's time when the local clock reads local. c.mu is held.
func (c *Clock) at(local time.Time) time.Time {
	return c.redisAt.Add(local.Sub(c.localAt))
}

// read takes a reading of Redis's clock, placed at the middle of the round
// trip. A failed reading leaves the last one in place.
func (c *Clock) read(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	before := c.cfg.Local()
	t, err := c.rdb.Time(ctx).Result()
	after := c.cfg.Local()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tried = before
	if err != nil {
		return fmt.Errorf("fleetclock: read Redis TIME: %w", err)
	}
	c.redisAt, c.localAt = t, before.Add(after.Sub(before)/2)
	return nil
}
