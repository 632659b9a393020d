// Package ratelimit paces calls and caps their daily number, keyed by plain
// strings (callers choose the keys, e.g. one per app × API).
//
// Three tools, each with one job:
//
//   - [Limiter] paces calls for the whole fleet: its state lives in Redis
//     (GCRA, through github.com/go-redis/redis_rate), so every process that
//     shares the Redis shares the limit.
//   - [Local] paces calls within one process (golang.org/x/time/rate), for
//     limits that need no coordination or as a cheap first stage.
//   - [Budget] counts calls per calendar day in Redis and refuses those that
//     would go over a daily cap, resetting at midnight in a chosen zone.
//
// [Limiter] and [Local] both satisfy [Waiter]: Wait blocks for as long as the
// limit needs and the caller allows (MaxWait and the context's deadline);
// a longer delay comes back at once as a [*DelayError] (matching
// [ErrLimited]), so a queue worker can put the job back for later without
// counting a failure.
//
// The package knows nothing of what it limits: no provider error codes, no
// queues, no storage.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Waiter is what a caller needs from a rate limiter: [*Limiter] (cluster
// wide) and [*Local] (one process) both satisfy it.
type Waiter interface {
	// Wait blocks until a call under key may go. It returns how long it
	// slept, a *DelayError when the delay would outlast what the caller
	// allows, or ctx.Err() when ctx ends first.
	Wait(ctx context.Context, key string) (waited time.Duration, err error)
}

var (
	_ Waiter = (*Limiter)(nil)
	_ Waiter = (*Local)(nil)
)

// Limit is a rate: Rate calls per Per, of which up to Burst may go back to
// back after a quiet spell.
//
// Both limiters admit at most Burst + ⌊Rate×T/Per⌋ calls in any closed span
// of length T, so a window [t, t+Per) sees at most Rate + Burst − 1 calls.
// To stay under a provider's cap of N calls per window, keep
// Rate + Burst − 1 <= N; the default Burst of 1 gives exactly Rate.
type Limit struct {
	// Rate is the number of calls allowed per Per. Required, at least 1.
	Rate int
	// Per is the period Rate counts over. Required, positive.
	Per time.Duration
	// Burst is the number of calls that may go at once after a quiet spell.
	// Default (0): 1, which spaces calls evenly, Per/Rate apart.
	Burst int
}

// PerSecond returns a limit of n calls a second, evenly spaced (Burst 1).
func PerSecond(n int) Limit { return Limit{Rate: n, Per: time.Second} }

// PerMinute returns a limit of n calls a minute, evenly spaced (Burst 1).
func PerMinute(n int) Limit { return Limit{Rate: n, Per: time.Minute} }

// String describes l, e.g. "10/1s (burst 1)".
func (l Limit) String() string {
	return fmt.Sprintf("%d/%s (burst %d)", l.Rate, l.Per, l.burst())
}

func (l Limit) burst() int { return max(l.Burst, 1) }

// interval is the spacing GCRA keeps between calls: Per/Rate.
func (l Limit) interval() time.Duration { return l.Per / time.Duration(l.Rate) }

func (l Limit) validate() error {
	switch {
	case l.Rate < 1:
		return fmt.Errorf("invalid limit %s: Rate must be at least 1", l)
	case l.Per <= 0:
		return fmt.Errorf("invalid limit %s: Per must be positive", l)
	case l.Burst < 0:
		return fmt.Errorf("invalid limit %s: Burst must not be negative", l)
	case l.interval() <= 0:
		return fmt.Errorf("invalid limit %s: Per/Rate is below a nanosecond", l)
	}
	return nil
}

// limitsOf returns the valid limits of key under the configured function
// (nil: no key is limited). Two limits with the same Per are refused: the
// Redis limiter keeps one state per key and Per.
func limitsOf(limits func(string) []Limit, key string) ([]Limit, error) {
	if limits == nil {
		return nil, nil
	}
	ls := limits(key)
	for i, l := range ls {
		if err := l.validate(); err != nil {
			return nil, fmt.Errorf("ratelimit: key %q: %w", key, err)
		}
		for _, other := range ls[:i] {
			if other.Per == l.Per {
				return nil, fmt.Errorf("ratelimit: key %q: limits %s and %s share Per", key, other, l)
			}
		}
	}
	return ls, nil
}

// ErrLimited matches every [*DelayError] under errors.Is.
var ErrLimited = errors.New("ratelimit: limited")

// DelayError says a call must wait longer than the caller allows. The call
// was not admitted and holds no slot: the caller should try again after
// RetryAfter (a queue worker requeues the job with that delay and does not
// count a failure).
type DelayError struct {
	// Key is the key that is limited.
	Key string
	// RetryAfter is the earliest time from now at which the call could go,
	// if nobody else takes the slot first.
	RetryAfter time.Duration
}

func (e *DelayError) Error() string {
	return fmt.Sprintf("ratelimit: %q limited, retry after %s", e.Key, e.RetryAfter)
}

// Is reports whether target is ErrLimited.
func (e *DelayError) Is(target error) bool { return target == ErrLimited }

// attempt tries once to admit a call under every limit of a key. It returns
// ok when the call may go (and its slots are taken), else the delay after
// which it might.
type attempt func(ctx context.Context) (ok bool, delay time.Duration, err error)

// waitLoop runs try until it admits the call, sleeping the delays it reports
// for as long as mayWait allows. Both limiters share it, so MaxWait, the
// deadline rule and cancellation behave the same in both.
func waitLoop(ctx context.Context, key string, maxWait time.Duration,
	sleep func(context.Context, time.Duration) error, try attempt,
) (waited time.Duration, err error) {
	for {
		if err := ctx.Err(); err != nil {
			return waited, err
		}
		ok, delay, err := try(ctx)
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return waited, ctxErr
			}
			return waited, fmt.Errorf("ratelimit: wait %q: %w", key, err)
		}
		if ok {
			return waited, nil
		}
		if !mayWait(ctx, waited, delay, maxWait) {
			return waited, &DelayError{Key: key, RetryAfter: delay}
		}
		start := time.Now()
		err = sleep(ctx, delay)
		waited += time.Since(start)
		if err != nil {
			return waited, err
		}
	}
}

// mayWait reports whether Wait may sleep delay more, having slept waited
// already: the total must stay within maxWait (negative: never sleep) and
// end before ctx's deadline. Refusing early beats sleeping into a deadline
// and failing there: the caller can reschedule the work instead.
func mayWait(ctx context.Context, waited, delay, maxWait time.Duration) bool {
	if maxWait < 0 || waited+delay > maxWait {
		return false
	}
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < delay {
		return false
	}
	return true
}

// sleep blocks for d or until ctx ends, whichever is first; it returns
// ctx.Err() in the second case.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
