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

// RetryDelay is the worker's asynq.Config.RetryDelayFunc: a RetryLaterError
// says when to come back; real failures back off exponentially (asynq's
// default).
func RetryDelay(n int, err error, t *asynq.Task) time.Duration {
	var later *RetryLaterError
	if errors.As(err, &later) {
		// A little jitter so that tasks sent back together do not all come
		// back in the same instant.
		return later.After + rand.N(later.After/10+time.Millisecond)
	}
	return asynq.DefaultRetryDelayFunc(n, err, t)
}
