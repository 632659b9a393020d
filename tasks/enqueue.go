package tasks

import (
	"context"
	"errors"
	"fmt"

	"github.com/hibiken/asynq"

	"github.com/wxqr/wxqr"
)

// Enqueuer queues tasks; *asynq.Client implements it.
type Enqueuer interface {
	EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// Enqueued is what Enqueue did with a code.
type Enqueued int

// What Enqueue did.
const (
	// Queued: a new task.
	Queued Enqueued = iota + 1
	// AlreadyQueued: the code's task is on its way; nothing was queued
	// twice.
	AlreadyQueued
	// Requeued: the code's task had failed for good (archived); a new one
	// replaced it.
	Requeued
)

func (e Enqueued) String() string {
	switch e {
	case Queued:
		return "queued"
	case AlreadyQueued:
		return "already queued"
	case Requeued:
		return "requeued"
	}
	return fmt.Sprintf("Enqueued(%d)", int(e))
}

// Enqueue queues the generate task of p, and says what it did. A code's task
// id derives from the code, so a task with the same id that asynq still
// holds is either on its way or in the archive (failed for good), and only
// the inspector tells the two apart: an archived task is replaced, so that
// a code that failed once can be queued again. Without an inspector (nil),
// every such task counts as on its way.
//
// The replacement is a new task, not the old one run again: it starts with
// its retries whole and carries p (its campaign may have changed).
func Enqueue(ctx context.Context, client Enqueuer, inspector *asynq.Inspector, p GeneratePayload) (Enqueued, error) {
	p = GeneratePayload(wxqr.Request(p).Normalize()) // the id, once
	task, err := NewGenerateTask(p)
	if err != nil {
		return 0, err
	}
	_, err = client.EnqueueContext(ctx, task)
	switch {
	case err == nil:
		return Queued, nil
	case !errors.Is(err, asynq.ErrTaskIDConflict):
		return 0, err
	case inspector == nil:
		return AlreadyQueued, nil
	}
	replaced, err := replaceArchived(ctx, client, inspector, p.queue(), p.TaskID(), task)
	if err != nil || !replaced {
		return AlreadyQueued, err
	}
	return Requeued, nil
}

// replaceArchived queues task afresh if the task with its id waits in the
// archive, and reports whether it did.
func replaceArchived(ctx context.Context, client Enqueuer, inspector *asynq.Inspector, queue, id string, task *asynq.Task) (bool, error) {
	info, err := inspector.GetTaskInfo(queue, id)
	switch {
	case errors.Is(err, asynq.ErrTaskNotFound):
		return false, nil // it finished in the meantime
	case err != nil:
		return false, fmt.Errorf("inspect task %s: %w", id, err)
	case info.State != asynq.TaskStateArchived:
		return false, nil
	}
	if err := inspector.DeleteTask(queue, id); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) {
		return false, fmt.Errorf("replace archived task %s: %w", id, err)
	}
	_, err = client.EnqueueContext(ctx, task)
	switch {
	case errors.Is(err, asynq.ErrTaskIDConflict):
		return false, nil // another producer replaced it first
	case err != nil:
		return false, fmt.Errorf("replace archived task %s: %w", id, err)
	}
	return true, nil
}
