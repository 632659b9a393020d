// Package tasks is the contract between the producer and the workers: task
// type names, payloads, their default options, and the handlers that run
// them.
package tasks

import (
	"encoding/json"
	"fmt"
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
}

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
	return id
}

// Defaults for generate tasks.
const (
	// GenerateMaxRetry bounds real failures only: rate-limit waits and quota
	// pauses never use up a retry.
	GenerateMaxRetry = 10
	GenerateTimeout  = 2 * time.Minute
)

// NewGenerateTask returns the task for p with its default options: its
// queue, its identity-derived task id, retries and timeout. Options given
// here override them.
func NewGenerateTask(p GeneratePayload, opts ...asynq.Option) (*asynq.Task, error) {
	p.Spec = p.Spec.Normalize()
	payload, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode generate payload: %w", err)
	}
	defaults := []asynq.Option{
		asynq.Queue(QueueName(p.Spec.AppID, p.Spec.Kind.Class())),
		asynq.TaskID(p.TaskID()),
		asynq.MaxRetry(GenerateMaxRetry),
		asynq.Timeout(GenerateTimeout),
	}
	return asynq.NewTask(TypeGenerate, payload, append(defaults, opts...)...), nil
}
