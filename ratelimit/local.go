package ratelimit

import (
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// LocalConfig configures a [Local]. The zero value limits nothing.
type LocalConfig struct {
	// Limits returns the limits a call under key must satisfy, all at once.
	// No limits (a nil func, or nil for that key): calls under key go at
	// once. It runs on every Wait, so it may follow configuration changes;
	// like the Redis limiter, a Local keeps one state per key and Per, which
	// survives a change of Rate or Burst. Invalid limits make Wait fail.
	// Default: nil.
	Limits func(key string) []Limit

	// MaxWait is the longest Wait sleeps in total before it gives up and
	// returns a *DelayError. Default (0): 5s. Negative: never sleep, report
	// every delay as a *DelayError at once.
	MaxWait time.Duration
}

// Local paces calls within one process with token buckets
// (golang.org/x/time/rate), with the same semantics as [Limiter] but no
// coordination: N processes each with a Local allow N times the rate. It
// keeps one bucket per key and Per for its lifetime, so keys should come
// from a bounded set. A Local is safe for concurrent use.
type Local struct {
	limits  func(string) []Limit
	maxWait time.Duration

	mu      sync.Mutex // guards buckets and makes check-then-take atomic
	buckets map[bucketKey]*rate.Limiter
}

type bucketKey struct {
	key string
	per time.Duration
}

// NewLocal returns a Local with cfg's defaults applied.
func NewLocal(cfg LocalConfig) *Local {
	if cfg.MaxWait == 0 {
		cfg.MaxWait = DefaultMaxWait
	}
	return &Local{
		limits:  cfg.Limits,
		maxWait: cfg.MaxWait,
		buckets: make(map[bucketKey]*rate.Limiter),
	}
}

// Wait blocks until a call under key may go under all of its limits, and
// takes one token of each. It returns how long it slept (0 when it did not
// have to).
//
// It returns a *DelayError (errors.Is ErrLimited), without taking anything,
// when the call would have to wait longer than MaxWait in total or past
// ctx's deadline; ctx.Err() when ctx ends first; and a wrapped error when
// key's limits are invalid. A key without limits returns at once.
//
// Tokens are taken only when every limit has one at the same instant, so a
// limit that refuses never costs the others a token, and no token is held
// while waiting for another limit (which would let calls bunch up).
func (l *Local) Wait(ctx context.Context, key string) (time.Duration, error) {
	limits, err := limitsOf(l.limits, key)
	if err != nil || len(limits) == 0 {
		return 0, err
	}
	return waitLoop(ctx, key, l.maxWait, sleep, func(context.Context) (bool, time.Duration, error) {
		ok, delay := l.take(key, limits)
		return ok, delay, nil
	})
}

// take takes a token of every limit of key if each has one now; else it
// returns the delay until each would.
func (l *Local) take(key string, limits []Limit) (ok bool, delay time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	buckets := make([]*rate.Limiter, len(limits))
	for i, lim := range limits {
		buckets[i] = l.bucket(now, key, lim)
		if missing := 1 - buckets[i].TokensAt(now); missing > 0 {
			// Round up: a delay a nanosecond short would only buy a retry.
			d := time.Duration(math.Ceil(missing / float64(buckets[i].Limit()) * float64(time.Second)))
			delay = max(delay, d)
		}
	}
	if delay > 0 {
		return false, delay
	}
	for _, b := range buckets {
		b.AllowN(now, 1) // cannot fail: every bucket holds a token at now
	}
	return true, 0
}

// bucket returns the bucket of key and lim.Per, created full or brought up
// to lim's rate and burst. l.mu must be held.
func (l *Local) bucket(now time.Time, key string, lim Limit) *rate.Limiter {
	perSecond := rate.Limit(float64(lim.Rate) / lim.Per.Seconds())
	b := l.buckets[bucketKey{key, lim.Per}]
	if b == nil {
		b = rate.NewLimiter(perSecond, lim.burst())
		l.buckets[bucketKey{key, lim.Per}] = b
	}
	if b.Limit() != perSecond {
		b.SetLimitAt(now, perSecond)
	}
	if b.Burst() != lim.burst() {
		b.SetBurstAt(now, lim.burst())
	}
	return b
}
