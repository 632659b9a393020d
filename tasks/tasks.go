// Package tasks is the contract between the producer and the workers: task
// type names, payloads, their default options, and the handlers that run
// them.
package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wxqr/wxqr"
)

// TypeGenerate makes one code: first generation or a regeneration. The name
// is stable: tasks already queued under it must keep running after upgrades.
const TypeGenerate = "wxqr:generate"

// GeneratePayload asks for one code. It carries no secret: the worker looks up
// the app's credentials in its own configuration.
type GeneratePayload struct {
	Spec     wxqr.Spec `json:"spec"`
	Campaign string    `json:"campaign,omitempty"`
	// ExpireSeconds is the validity of a temporary code (oa_temp only).
	ExpireSeconds int `json:"expire_seconds,omitempty"`
	// Generation is 0 to make the code if it does not exist yet; n > 0 to
	// regenerate it as generation n (temporary codes only).
	Generation int `json:"generation,omitempty"`
	// Repair asks to mend a code whose stored image `enqueue verify` found
	// missing or broken: the worker checks the object again and, if it is
	// still broken, fetches the image again with the recorded ticket (no
	// quota), makes an expired temporary code anew, and asks WeChat again
	// for a Mini Program code only when nothing usable is left.
	Repair bool `json:"repair,omitempty"`
}

// LimitKey is the key of an app's rate limit and daily budget for one WeChat
// API: "{app_id}:{api}".
func LimitKey(appID, api string) string { return appID + ":" + api }

// QueueName is the queue for one quota class of one app, so that a quota
// error can pause exactly that: `{app_id}.{class}`.
func QueueName(appID string, class wxqr.QuotaClass) string {
	return appID + "." + string(class)
}

// TaskID is the asynq task id for p: derived from the code's identity (and the
// generation when regenerating), so the same code is never queued twice.
func (p GeneratePayload) TaskID() string {
	id := p.Spec.ID()
	if p.Generation > 0 {
		id += ":g" + strconv.Itoa(p.Generation)
	}
	if p.Repair {
		id += ":repair"
	}
	return id
}

// Defaults for generate tasks.
const (
	// GenerateMaxRetry bounds real failures before the code is made. Waits,
	// pauses and failures after WeChat made the code never use one up.
	// AsynqResult enforces it: asynq's own MaxRetry is set out of reach,
	// because asynq archives a task that reaches it whatever the last error.
	GenerateMaxRetry = 10
	GenerateTimeout  = 2 * time.Minute
)

// asynqMaxRetry keeps asynq from archiving a task that is only waiting.
const asynqMaxRetry = math.MaxInt32

// check enforces the rules of the payload beyond the spec's own: only
// temporary codes are regenerated (a second generation of any other kind
// would spend lifetime quota again), and a temporary code's validity is
// WeChat's 1 s .. 30 days, 0 meaning the default.
func (p *GeneratePayload) check() error {
	if p.Repair && p.Generation > 0 {
		return errors.New("a repair mends the current generation: it takes no generation")
	}
	if p.Generation > 0 && !p.Spec.Kind.Temporary() {
		return fmt.Errorf("generation %d of a %s code: only temporary codes are regenerated", p.Generation, p.Spec.Kind)
	}
	if !p.Spec.Kind.Temporary() {
		if p.ExpireSeconds != 0 {
			return fmt.Errorf("expire_seconds is for temporary codes only, not %s", p.Spec.Kind)
		}
		return nil
	}
	if p.ExpireSeconds == 0 {
		p.ExpireSeconds = int(wxqr.DefaultTempExpire / time.Second)
	}
	if max := int(wxqr.MaxTempExpire / time.Second); p.ExpireSeconds < 1 || p.ExpireSeconds > max {
		return fmt.Errorf("expire_seconds must be 1..%d, got %d", max, p.ExpireSeconds)
	}
	return nil
}

// NewGenerateTask returns the task for p with its default options: its
// queue, its identity-derived task id, retries and timeout. Options given
// here override them.
func NewGenerateTask(p GeneratePayload, opts ...asynq.Option) (*asynq.Task, error) {
	p.Spec = p.Spec.Normalize()
	if errs := p.Spec.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("generate task: %w", errors.Join(errs...))
	}
	if err := p.check(); err != nil {
		return nil, fmt.Errorf("generate task: %w", err)
	}
	payload, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode generate payload: %w", err)
	}
	defaults := []asynq.Option{
		asynq.Queue(QueueName(p.Spec.AppID, p.Spec.Kind.Class())),
		asynq.TaskID(p.TaskID()),
		asynq.MaxRetry(asynqMaxRetry),
		asynq.Timeout(GenerateTimeout),
	}
	return asynq.NewTask(TypeGenerate, payload, append(defaults, opts...)...), nil
}

// Enqueuer queues tasks; *asynq.Client implements it.
type Enqueuer interface {
	EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// RequeueArchived queues p afresh if its task waits in the archive (failed
// for good), and reports whether it did. Queueing a code whose task id asynq
// still holds fails with asynq.ErrTaskIDConflict: the task is on its way, or
// it is archived, and only this tells the two apart. Without it a code that
// failed once could never be queued again. The archived task is replaced,
// not run again: a new task starts with its retries whole and carries p (its
// campaign may have changed).
func RequeueArchived(ctx context.Context, client Enqueuer, inspector *asynq.Inspector, p GeneratePayload) (bool, error) {
	queue := QueueName(p.Spec.AppID, p.Spec.Kind.Class())
	info, err := inspector.GetTaskInfo(queue, p.TaskID())
	switch {
	case errors.Is(err, asynq.ErrTaskNotFound):
		return false, nil // it finished in the meantime
	case err != nil:
		return false, fmt.Errorf("inspect task %s: %w", p.TaskID(), err)
	case info.State != asynq.TaskStateArchived:
		return false, nil
	}
	task, err := NewGenerateTask(p)
	if err != nil {
		return false, err
	}
	if err := inspector.DeleteTask(queue, p.TaskID()); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) {
		return false, fmt.Errorf("replace archived task %s: %w", p.TaskID(), err)
	}
	_, err = client.EnqueueContext(ctx, task)
	switch {
	case errors.Is(err, asynq.ErrTaskIDConflict):
		return false, nil // another producer replaced it first
	case err != nil:
		return false, fmt.Errorf("replace archived task %s: %w", p.TaskID(), err)
	}
	return true, nil
}
