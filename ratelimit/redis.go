package ratelimit

import (
	"context"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Defaults of [Config].
const (
	DefaultKeyPrefix = "wxqr:rl:"
	DefaultMaxWait   = 5 * time.Second
)

// Config configures a [Limiter]. The zero value limits nothing.
type Config struct {
	// KeyPrefix starts the Redis key of every limit state. Default
	// "wxqr:rl:". The state of limit l of key k lives at
	// "rate:" + KeyPrefix + k + ":" + l.Per (redis_rate adds "rate:"), e.g.
	// "rate:wxqr:rl:app1:create:1s". Limiters sharing a prefix share limits.
	KeyPrefix string

	// Limits returns the limits a call under key must satisfy, all at once.
	// No limits (a nil func, or nil for that key): calls under key go at
	// once, without a Redis round trip. It runs on every Wait, so it may
	// follow configuration changes; keep it cheap. Invalid limits make Wait
	// fail. Default: nil.
	Limits func(key string) []Limit

	// MaxWait is the longest Wait sleeps in total before it gives up and
	// returns a *DelayError. Default (0): 5s. Negative: never sleep, report
	// every delay as a *DelayError at once.
	MaxWait time.Duration
}

func (c Config) withDefaults() Config {
	if c.KeyPrefix == "" {
		c.KeyPrefix = DefaultKeyPrefix
	}
	if c.MaxWait == 0 {
		c.MaxWait = DefaultMaxWait
	}
	return c
}

// Limiter paces calls for every process that shares its Redis, using GCRA
// (github.com/go-redis/redis_rate): each limit of each key is one Redis
// value, the time its next call may go, updated by a Lua script, so the
// check and the update are atomic across the fleet and the Redis clock is
// the only clock. Waiting callers poll: each sleeps until the slot it was
// told of and asks again, so under contention every waiter costs a round
// trip per slot. A Limiter is safe for concurrent use.
type Limiter struct {
	rdb     *redis_rate.Limiter
	cfg     Config
	sleepFn func(context.Context, time.Duration) error // a seam for tests
}

// NewLimiter returns a Limiter storing its state in rdb, with cfg's defaults
// applied.
func NewLimiter(rdb redis.UniversalClient, cfg Config) *Limiter {
	return &Limiter{
		rdb:     redis_rate.NewLimiter(rdb),
		cfg:     cfg.withDefaults(),
		sleepFn: sleep,
	}
}

// Wait blocks until a call under key may go under all of its limits, and
// takes one slot of each. It returns how long it slept (0 when it did not
// have to).
//
// It returns a *DelayError (errors.Is ErrLimited), without taking anything,
// when the call would have to wait longer than MaxWait in total or past
// ctx's deadline; ctx.Err() when ctx ends first; and a wrapped error when
// Redis fails or key's limits are invalid. A key without limits returns at
// once.
//
// With several limits, Wait first asks every limit but the first whether it
// would admit a call, without spending (redis_rate's AllowAtMost with n=0),
// then takes a slot from each in order; when one refuses it waits and starts
// over. So a limit that refuses never costs the others a slot, except when
// another process takes a later limit's last slot between the two steps: then
// the earlier limits lose one slot. That errs on the safe side (fewer calls,
// never more) and saves a script of our own.
func (l *Limiter) Wait(ctx context.Context, key string) (time.Duration, error) {
	limits, err := limitsOf(l.cfg.Limits, key)
	if err != nil || len(limits) == 0 {
		return 0, err
	}
	return waitLoop(ctx, key, l.cfg.MaxWait, l.sleepFn, func(ctx context.Context) (bool, time.Duration, error) {
		return l.take(ctx, key, limits)
	})
}

// take tries once to take a slot of every limit of key; see Wait.
func (l *Limiter) take(ctx context.Context, key string, limits []Limit) (ok bool, delay time.Duration, err error) {
	for _, lim := range limits[1:] {
		res, err := l.rdb.AllowAtMost(ctx, l.redisKey(key, lim), lim.gcra(), 0)
		if err != nil {
			return false, 0, err
		}
		// A refused peek reports a positive RetryAfter, an allowed one -1.
		delay = max(delay, res.RetryAfter)
	}
	if delay > 0 {
		return false, delay, nil
	}
	for _, lim := range limits {
		res, err := l.rdb.Allow(ctx, l.redisKey(key, lim), lim.gcra())
		if err != nil {
			return false, 0, err
		}
		if res.Allowed == 0 {
			return false, res.RetryAfter, nil
		}
	}
	return true, 0, nil
}

func (l *Limiter) redisKey(key string, lim Limit) string {
	return l.cfg.KeyPrefix + key + ":" + lim.Per.String()
}

func (l Limit) gcra() redis_rate.Limit {
	return redis_rate.Limit{Rate: l.Rate, Burst: l.burst(), Period: l.Per}
}
