package tasks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/ratelimit"
)

// admit lets one call of api through for generation gen, or returns why
// not: the task's queue is paused, the circuit breaker or the storage watch
// stops it (mayCreate), the daily budget is spent (the API is then paused
// until the reset), the rate limiter asks it to wait, or this run lost the
// code's lock. Once admitted, the call has spent one of the day's budget,
// which refund gives back if no code comes of it, and is marked called. It
// returns the key (app × API) the call counts under.
func (j *generation) admit(ctx context.Context, api string, gen int) (string, error) {
	spec := j.p.Spec
	queue := QueueName(spec.AppID, spec.Kind.Class())
	if s, err := j.g.Pauses.Paused(ctx, queue); err != nil {
		return "", err
	} else if s != nil {
		return "", wait(j.g.PausedRetry, WaitPaused, "queue %s is paused: %s", queue, s.Reason)
	}
	if err := j.mayCreate(ctx, api); err != nil {
		return "", err
	}
	key := LimitKey(spec.AppID, api)
	if j.g.Budget != nil {
		ok, err := j.g.Budget.Spend(ctx, key, 1)
		if err != nil {
			return "", fmt.Errorf("daily budget: %w", err)
		}
		if !ok {
			return "", j.pauseDaily(ctx, 0, "daily budget of "+api+" spent")
		}
	}
	waited, err := j.g.Limiter.Wait(ctx, key)
	if j.g.Observer != nil {
		j.g.Observer.LimiterWait(spec.AppID, api, waited)
	}
	if err != nil {
		j.refund(ctx, key)
		var delay *ratelimit.DelayError
		if errors.As(err, &delay) {
			return "", wait(delay.RetryAfter, WaitRateLimit, "rate limit of %s", api)
		}
		return "", fmt.Errorf("rate limiter: %w", err)
	}
	// The mark goes first, so that a result stored but lost from Redis is
	// found in the bucket next time. A run that lost its lock while it
	// waited must not call: the code's new holder may be calling already.
	if err := j.g.Catalog.MarkCalled(ctx, j.p.ID, gen, j.lease); err != nil {
		j.refund(ctx, key)
		if errors.Is(err, catalog.ErrLockLost) {
			return "", wait(j.g.PausedRetry, WaitLocked, "%v", err)
		}
		return "", err
	}
	return key, nil
}

// refund gives back the budget of a call that made no code.
func (j *generation) refund(ctx context.Context, key string) {
	if j.g.Budget == nil {
		return
	}
	// The call may have failed because ctx ended; the refund must still land.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := j.g.Budget.Refund(ctx, key, 1); err != nil {
		j.log.Warn().Err(err).Msg("daily budget refund failed; the budget counts one call too many today")
	}
}
