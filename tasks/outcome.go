package tasks

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/hibiken/asynq"
)

// Outcome is how a run of a task ended, when it did not simply succeed
// (done is a nil error): the handler decides it once, where it knows why,
// and AsynqResult turns it into asynq's terms. It travels as the error the
// handler returns, so that asynq's IsFailure, RetryDelayFunc and
// ErrorHandler (IsFailure, RetryDelay, NewErrorHandler) read it back.
//
// Any other error a handler returns is a failure of class FailInternal (or
// FailTimeout when the run ran out of time).
type Outcome struct {
	Kind OutcomeKind
	// After is how soon a wait runs again.
	After time.Duration
	// Wait says why a task waits, Archive why it went to the archive, Class
	// what failed; each is set for its kind only.
	Wait    WaitReason
	Archive ArchiveReason
	Class   FailClass
	// Err is what happened, for the log and the archive.
	Err error
}

// OutcomeKind is what asynq does with a task that did not succeed.
type OutcomeKind string

const (
	// OutcomeWait: the task could not run yet through no fault of its own;
	// it runs again after Outcome.After and uses up no retry (river's
	// snooze).
	OutcomeWait OutcomeKind = "wait"
	// OutcomeFail: a real failure, counted, retried with backoff
	// (RetryDelay) until GenerateMaxRetry, then archived.
	OutcomeFail OutcomeKind = "fail"
	// OutcomeArchive: retrying cannot help; the task goes to the archive at
	// once, with its reason, for an operator to read (river's cancel).
	OutcomeArchive OutcomeKind = "archive"
)

// WaitReason says why a task waits.
type WaitReason string

const (
	WaitRateLimit   WaitReason = "rate_limit"   // wxqr's rate limiter
	WaitMinuteLimit WaitReason = "minute_limit" // WeChat's 45011
	WaitPaused      WaitReason = "paused"       // its queue is paused, or this run paused it
	WaitLocked      WaitReason = "locked"       // another run holds the code's lock, or this run lost it
	WaitUnstored    WaitReason = "unstored"     // WeChat made the code; storage or the catalog has not taken it yet
	WaitOutage      WaitReason = "outage"       // WeChat's API is down for the app (circuit breaker)
	WaitStorage     WaitReason = "storage"      // too many results wait in Redis for storage
)

// ArchiveReason says why a task went to the archive.
type ArchiveReason string

const (
	ArchiveUndecodable   ArchiveReason = "payload_undecodable"
	ArchiveBadRequest    ArchiveReason = "bad_request"        // the payload, or WeChat, refuses the request
	ArchiveUnknownApp    ArchiveReason = "app_not_configured" // the worker has no client for the app
	ArchiveTicketRefused ArchiveReason = "ticket_refused"     // showqrcode refuses a permanent ticket for too long
	ArchiveRetriesSpent  ArchiveReason = "retries_spent"      // GenerateMaxRetry failures
)

// FailClass says what failed.
type FailClass string

const (
	FailWeChat   FailClass = "wechat"   // WeChat failed the call, or sent an image cut short
	FailTimeout  FailClass = "timeout"  // the run ran out of time
	FailInternal FailClass = "internal" // Redis, storage, or anything else of wxqr's
)

func (o *Outcome) Error() string {
	switch o.Kind {
	case OutcomeWait:
		return fmt.Sprintf("retry in %s: %v", o.After.Round(time.Millisecond), o.Err)
	default:
		return o.Err.Error()
	}
}

func (o *Outcome) Unwrap() error { return o.Err }

// wait ends a run with a wait of after, for reason; the detail is for the log.
func wait(after time.Duration, reason WaitReason, format string, args ...any) error {
	return &Outcome{Kind: OutcomeWait, After: after, Wait: reason, Err: fmt.Errorf(format, args...)}
}

// fail ends a run with a failure of class.
func fail(class FailClass, err error) error {
	return &Outcome{Kind: OutcomeFail, Class: class, Err: err}
}

// archive ends a run in the archive, for reason.
func archive(reason ArchiveReason, err error) error {
	return &Outcome{Kind: OutcomeArchive, Archive: reason, Err: err}
}

// OutcomeOf returns the outcome a handler's err stands for: nil when the run
// succeeded (or err is nil); a failure for an error that carries no outcome.
func OutcomeOf(err error) *Outcome {
	if err == nil {
		return nil
	}
	if o, ok := errors.AsType[*Outcome](err); ok {
		return o
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &Outcome{Kind: OutcomeFail, Class: FailTimeout, Err: err}
	}
	return &Outcome{Kind: OutcomeFail, Class: FailInternal, Err: err}
}

// AsynqResult is what a handler returns to asynq for a run that ended with
// err, after retried failures: nil for done; a wait or a failure as it is
// (IsFailure tells them apart, RetryDelay says when each runs again); an
// archive wrapped in asynq.SkipRetry. The GenerateMaxRetry-th failure goes
// to the archive too: asynq counts only real failures as retries, but
// archives a task that runs out of them whatever its last error, so the cap
// on real failures is kept here, and asynq's own is out of reach
// (asynqMaxRetry).
func AsynqResult(err error, retried int) error {
	o := OutcomeOf(err)
	switch {
	case o == nil:
		return nil
	case o.Kind == OutcomeFail && retried >= GenerateMaxRetry:
		spent := &Outcome{Kind: OutcomeArchive, Archive: ArchiveRetriesSpent, Class: o.Class,
			Err: fmt.Errorf("%w (after %d retries)", err, retried)}
		return fmt.Errorf("%w: %w", spent, asynq.SkipRetry)
	case o.Kind == OutcomeArchive:
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	default:
		return err
	}
}

// IsFailure is the worker's asynq.Config.IsFailure: a wait is not a failure,
// so waits and pauses never use up a task's retries.
func IsFailure(err error) bool {
	o := OutcomeOf(err)
	return o != nil && o.Kind != OutcomeWait
}

// Backoff of real failures: from FirstRetryDelay, doubling per retry, up to
// MaxRetryDelay. asynq's default starts at 15 s and grows as n⁴, which is
// slow for a WeChat "system busy" and a storage hiccup alike.
const (
	FirstRetryDelay = time.Second
	MaxRetryDelay   = 10 * time.Minute
)

// RetryDelay is the worker's asynq.Config.RetryDelayFunc: a wait says when
// to come back; real failures (n retried so far) back off exponentially
// with jitter.
func RetryDelay(n int, err error, t *asynq.Task) time.Duration {
	if o := OutcomeOf(err); o != nil && o.Kind == OutcomeWait {
		// A little jitter so that tasks sent back together do not all come
		// back in the same instant.
		return o.After + rand.N(o.After/10+time.Millisecond)
	}
	d := MaxRetryDelay
	if n < 20 {
		d = min(FirstRetryDelay<<n, MaxRetryDelay)
	}
	return d/2 + rand.N(d/2+1)
}
