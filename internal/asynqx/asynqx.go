// Package asynqx holds what wxqr relies on in asynq beyond its public API:
// the key of a queue's pause flag, which wxqr's Lua scripts write; the rule
// by which asynq archives a task whose handler failed, which wxqr's error
// handler needs to know before asynq applies it; and the layout of a
// queue's keys, which ReadQueues reads to count hundreds of queues in a few
// round trips where asynq's Inspector takes three per queue, and which
// SkipEmptyQueues recognises in asynq's look for a task, to skip a queue
// found empty. Each is read from asynq's source (v0.26.0:
// internal/base/base.go, processor.go, internal/rdb/inspect.go, rdb.go) and
// pinned by a test that runs asynq itself, so that an upgrade that changes
// any fails here rather than in production.
package asynqx

import (
	"context"
	"errors"

	"github.com/hibiken/asynq"
)

// PausedKey is asynq's pause flag of queue (base.PausedKey). asynq only
// tests whether the key exists, to skip the queue: its Inspector.PauseQueue
// writes the Unix time there with SETNX and UnpauseQueue deletes it, so a
// value of wxqr's own there pauses the queue just as well.
func PausedKey(queue string) string { return "asynq:{" + queue + "}:paused" }

// Archives reports whether asynq archives a task whose handler returned err
// after retried retries out of maxRetry (processor.handleFailedMessage): a
// task revoked with asynq.RevokeTask is dropped, never archived; otherwise
// asynq.SkipRetry, or the retries spent, send it to the archive, whatever
// the error and whatever IsFailure says of it.
func Archives(err error, retried, maxRetry int) bool {
	if errors.Is(err, asynq.RevokeTask) {
		return false
	}
	return retried >= maxRetry || errors.Is(err, asynq.SkipRetry)
}

// ArchivesTask is Archives for the task of ctx, a handler's or an error
// handler's context, which carries the task's retry counts. It also returns
// the retries the task has used.
func ArchivesTask(ctx context.Context, err error) (archived bool, retried int) {
	retried, _ = asynq.GetRetryCount(ctx)
	maxRetry, _ := asynq.GetMaxRetry(ctx)
	return Archives(err, retried, maxRetry), retried
}
