package tasks

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/wechat"
)

// This file is the error policy of a generate task: what each failure of
// WeChat's, or of storage after WeChat made the code, comes to (README:
// "What happens on each WeChat error"), and the pauses it makes.

// handleCreateError applies the error policy of a failed create call.
func (j *generation) handleCreateError(ctx context.Context, err error) error {
	spec := j.p.Spec
	switch {
	case errors.Is(err, wechat.ErrTotalQuota):
		return j.pauseTotal(ctx, err)
	case errors.Is(err, wechat.ErrDailyQuota):
		return j.pauseDaily(ctx, 45009, "WeChat's daily quota of "+spec.Kind.API()+" is spent")
	case errors.Is(err, wechat.ErrMinuteLimit):
		now := j.g.Now()
		return wait(now.Truncate(time.Minute).Add(time.Minute).Sub(now), WaitMinuteLimit, "WeChat's minute limit (45011)")
	case errors.Is(err, wechat.ErrAccount):
		return j.pauseApp(ctx, err)
	case errors.Is(err, wechat.ErrBadRequest):
		// Retrying cannot help: the task goes to the archive with the
		// reason, for an operator to read.
		return archive(ArchiveBadRequest, err)
	case ctx.Err() != nil:
		return fail(FailTimeout, err)
	default:
		return fail(FailWeChat, err)
	}
}

// pauseTotal stops the class for the app, for the whole fleet: the lifetime
// quota is spent and only an operator can decide what happens next. The task
// stays in its (paused) queue.
func (j *generation) pauseTotal(ctx context.Context, cause error) error {
	return j.pause(ctx, pause{
		classes: []wxqr.QuotaClass{j.p.Spec.Kind.Class()},
		code:    45029,
		reason:  "lifetime quota of 100,000 codes spent (45029)",
		advice:  "lifetime quota spent: queue paused for every worker; its tasks are kept. Resume with `enqueue resume` or the web UI once the quota allows",
		cause:   cause,
	})
}

// pauseApp stops every queue of the app: WeChat refuses the account itself
// (a wrong secret, an IP not whitelisted, an API the account may not call),
// so every task would fail the same way, and archiving them all would lose
// campaigns past the archive's cap. An operator fixes the app and resumes.
func (j *generation) pauseApp(ctx context.Context, cause error) error {
	code := 0
	var apiErr *wechat.APIError
	if errors.As(cause, &apiErr) {
		code = apiErr.Code
	}
	return j.pause(ctx, pause{
		classes: j.p.Spec.Kind.AppType().Classes(),
		code:    code,
		reason:  fmt.Sprintf("WeChat refuses the app (errcode %d): fix its configuration, then resume", code),
		advice:  "WeChat refuses the app: queue paused for every worker; its tasks are kept. Fix the app, then `enqueue resume`",
		cause:   cause,
	})
}

// pauseDaily stops every class of the app that calls the same API until the
// next daily reset (or, just after one, for minutes: see dailyPauseEnd),
// when a worker resumes them.
func (j *generation) pauseDaily(ctx context.Context, code int, reason string) error {
	spec := j.p.Spec
	return j.pause(ctx, pause{
		classes:  classesCalling(spec.Kind.AppType(), spec.Kind.API()),
		code:     code,
		reason:   reason,
		advice:   reason + ": queue paused until the daily reset",
		resumeAt: dailyPauseEnd(j.g.Now(), j.g.DailyResetLocation, code != 0),
	})
}

// pause is one decision to stop some classes of the task's app.
type pause struct {
	classes  []wxqr.QuotaClass
	code     int       // WeChat's errcode; 0 when wxqr stops before WeChat says no
	reason   string    // recorded with the pause, for status and the web UI
	advice   string    // the log line, for the operator
	resumeAt time.Time // zero: until an operator resumes
	cause    error
}

// pause pauses every queue of p for the fleet, and has the worker that
// recorded each pause say so once: an error for a pause that waits for an
// operator, a warning for one that ends by itself. The task goes back to its
// queue, which asynq now holds.
func (j *generation) pause(ctx context.Context, p pause) error {
	spec := j.p.Spec
	for _, class := range p.classes {
		queue := QueueName(spec.AppID, class)
		state := PauseState{
			Queue: queue, AppID: spec.AppID, Class: class, Errcode: p.code,
			Reason: p.reason, PausedAt: j.g.Now(), ResumeAt: p.resumeAt,
		}
		first, err := j.g.Pauses.Pause(ctx, state)
		if err != nil {
			return fmt.Errorf("pause %s: %w", queue, err)
		}
		if !first {
			continue
		}
		waiting, _ := j.g.Pauses.Waiting(ctx, queue)
		if j.g.Notices != nil {
			j.g.Notices.Paused(ctx, state, j.p.Campaign, waiting)
		}
		ev := j.log.Error()
		if !p.resumeAt.IsZero() {
			ev = j.log.Warn().Time("resume_at", p.resumeAt)
		}
		ev.Err(p.cause).Int("errcode", p.code).Str("class", string(class)).Str("queue", queue).
			Int("tasks_waiting", waiting).Msg(p.advice)
	}
	return wait(j.g.PausedRetry, WaitPaused, "%s", p.reason)
}

// classesCalling lists the quota classes of an app type whose codes call
// api: the kinds made by api, and for showqrcode every Official Account kind
// (each fetches its image there).
func classesCalling(t wxqr.AppType, api string) []wxqr.QuotaClass {
	var classes []wxqr.QuotaClass
	for _, k := range wxqr.Kinds {
		calls := k.API() == api || api == apiShowQRCode && k.AppType() == wxqr.AppOA
		if k.AppType() == t && calls && !slices.Contains(classes, k.Class()) {
			classes = append(classes, k.Class())
		}
	}
	return classes
}

// retryStored sends back a task whose code WeChat has made but wxqr has not
// stored yet: not a failure (retrying spends nothing, and archiving would
// strand a code that was paid for), retried after a delay that grows with
// the time the result has been waiting, up to MaxRetryDelay.
func (j *generation) retryStored(s *catalog.Staged, now time.Time, err error) error {
	after := min(max(now.Sub(s.CreatedAt)/2, FirstRetryDelay), MaxRetryDelay)
	if j.unstaged {
		j.log.Error().Err(err).Msg("code made but neither staged nor stored (Redis and storage both failed): the next attempt asks WeChat again")
	} else {
		j.log.Warn().Err(err).Dur("retry_in", after).Msg("code made but not stored yet; its result is staged")
	}
	return wait(after, WaitUnstored, "store the code WeChat made: %v", err)
}
