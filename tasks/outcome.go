package tasks

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/hibiken/asynq"
)

// RetryLaterError is a task that could not run yet through no fault of its
// own: a rate limiter asked it to wait, WeChat said "next minute", or its
// queue was paused under it. It is retried after After and never uses up a
// retry (see IsFailure).
type RetryLaterError struct {
	After  time.Duration
	Reason string
}

func (e *RetryLaterError) Error() string {
	return fmt.Sprintf("retry in %s: %s", e.After.Round(time.Millisecond), e.Reason)
}

func retryLater(after time.Duration, format string, args ...any) error {
	return &RetryLaterError{After: after, Reason: fmt.Sprintf(format, args...)}
}

// IsFailure is the worker's asynq.Config.IsFailure: a RetryLaterError is not
// a failure, so waits and pauses never use up a task's retries.
func IsFailure(err error) bool {
	var later *RetryLaterError
	return !errors.As(err, &later)
}

// Backoff of real failures: from FirstRetryDelay, doubling per retry, up to
// MaxRetryDelay. asynq's default starts at 15 s and grows as n⁴, which is
// slow for a WeChat "system busy" and a storage hiccup alike.
const (
	FirstRetryDelay = time.Second
	MaxRetryDelay   = 10 * time.Minute
)

// RetryDelay is the worker's asynq.Config.RetryDelayFunc: a RetryLaterError
// says when to come back; real failures (n retried so far) back off
// exponentially with jitter.
func RetryDelay(n int, err error, t *asynq.Task) time.Duration {
	var later *RetryLaterError
	if errors.As(err, &later) {
		// A little jitter so that tasks sent back together do not all come
		// back in the same instant.
		return later.After + rand.N(later.After/10+time.Millisecond)
	}
	d := MaxRetryDelay
	if n < 20 {
		d = min(FirstRetryDelay<<n, MaxRetryDelay)
	}
	return d/2 + rand.N(d/2+1)
}
