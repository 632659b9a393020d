package tasks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wxqr/wxqr/storage"
	"github.com/wxqr/wxqr/wechat"
)

// This file is the generator's side of the circuit breaker (Breaker) and of
// the storage watch (StorageHealth): no quota is spent while WeChat is down
// for the app or while what it returns could not be kept, and the failures
// of an outage never use up a task's retries.

// CallBreaker is the circuit breaker the generator consults; *Breaker
// implements it.
type CallBreaker interface {
	Open(ctx context.Context, key string) (time.Duration, error)
	Record(ctx context.Context, key string, failed bool) (Verdict, error)
}

// StorageGuard is the storage watch the generator consults;
// *StorageHealth implements it.
type StorageGuard interface {
	Blocked(ctx context.Context) (why string, down bool, err error)
	RecordPut(ctx context.Context, failed bool) (down bool, err error)
	HoldUntil(now time.Time) time.Time
}

// apiShowQRCode names showqrcode in breaker keys and logs.
const apiShowQRCode = "showqrcode"

// mayCreate returns a wait when no code may be made now: the breaker of the
// API is open, storage is down (the app's queues are then paused), or too
// many results wait in Redis for storage.
func (j *generation) mayCreate(ctx context.Context, api string) error {
	spec := j.p.Spec
	if j.g.Breaker != nil {
		open, err := j.g.Breaker.Open(ctx, LimitKey(spec.AppID, api))
		if err != nil {
			return err
		}
		if open > 0 {
			return wait(open, WaitOutage, "WeChat's %s is unavailable for %s (circuit breaker open)", api, spec.AppID)
		}
	}
	if j.g.StorageHealth != nil {
		why, down, err := j.g.StorageHealth.Blocked(ctx)
		switch {
		case err != nil:
			return err
		case down:
			return j.pauseStorage(ctx, errors.New(why))
		case why != "":
			return wait(j.g.PausedRetry, WaitStorage, "no code is made while %s", why)
		}
	}
	return nil
}

// noteCall counts a call of api in the breaker. It returns a wait when the
// call failed as part of an outage: the failure is not the task's, and the
// queues are paused when this call opened the breaker.
func (j *generation) noteCall(ctx context.Context, api string, callErr error) error {
	if j.g.Breaker == nil || ctx.Err() != nil {
		// A call cut short by the task's own deadline says nothing of WeChat.
		return nil
	}
	spec := j.p.Spec
	// Only failures of WeChat itself count; any answer (an errcode
	// included) shows it up.
	failed := wechat.ClassOf(callErr) == wechat.ClassTransient
	v, err := j.g.Breaker.Record(ctx, LimitKey(spec.AppID, api), failed)
	if err != nil {
		j.log.Warn().Err(err).Msg("could not count the call in the circuit breaker")
		return nil
	}
	if !failed || !v.Outage {
		return nil
	}
	if v.Opened {
		return j.pause(ctx, pause{
			classes: classesCalling(spec.Kind.AppType(), api),
			reason:  ReasonWeChatUnavailable,
			advice: fmt.Sprintf("WeChat's %s fails for many calls: circuit breaker open, queue paused for every worker for %s; its tasks are kept",
				api, v.Wait),
			resumeAt: j.g.Now().Add(v.Wait),
			cause:    callErr,
		})
	}
	return wait(max(v.Wait, j.g.PausedRetry), WaitOutage, "WeChat's %s is unavailable for %s: %v", api, spec.AppID, callErr)
}

// notePut counts a put of an image in the storage watch, and pauses the
// app's queues when storage is down.
func (j *generation) notePut(ctx context.Context, putErr error) {
	if j.g.StorageHealth == nil {
		return
	}
	if putErr != nil && (ctx.Err() != nil || errors.Is(putErr, storage.ErrInvalidKey) || errors.Is(putErr, storage.ErrInvalidMeta)) {
		return // the task's own deadline or its own key: storage is not to blame
	}
	down, err := j.g.StorageHealth.RecordPut(ctx, putErr != nil)
	if err != nil {
		j.log.Warn().Err(err).Msg("could not count the put in the storage watch")
		return
	}
	if down {
		_ = j.pauseStorage(ctx, putErr) // the run ends as a wait either way
	}
}

// pauseStorage pauses every queue of the task's app until storage answers
// again (the worker's StorageProbe ends the pause).
func (j *generation) pauseStorage(ctx context.Context, cause error) error {
	return j.pause(ctx, pause{
		classes:  j.p.Spec.Kind.AppType().Classes(),
		reason:   ReasonStorage,
		advice:   "storage fails: queue paused for every worker until it answers again; no code is made meanwhile, nothing is lost",
		resumeAt: j.g.StorageHealth.HoldUntil(j.g.Now()),
		cause:    cause,
	})
}
