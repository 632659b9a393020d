// Package tasks is the contract between the producer and the workers: task
// type names, payloads, their default options, and the handlers that run
// them.
package tasks

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wxqr/wxqr"
)

// TypeGenerate makes one code: first generation or a regeneration. The name
// is stable: tasks already queued under it must keep running after upgrades.
const TypeGenerate = "wxqr:generate"

// GeneratePayload asks for one code: a wxqr.Request, whose fields and JSON
// it shares. It carries no secret: the worker looks up the app's
// credentials in its own configuration.
type GeneratePayload wxqr.Request

// LimitKey is the key of an app's rate limit and daily budget for one WeChat
// API: "{app_id}:{api}".
func LimitKey(appID, api string) string { return appID + ":" + api }

// QueueName is the queue for one quota class of one app, so that a quota
// error can pause exactly that: `{app_id}.{class}`. ParseQueueName reads it
// back.
func QueueName(appID string, class wxqr.QuotaClass) string {
	return appID + "." + string(class)
}

// ParseQueueName splits a queue name made by QueueName into its app and
// quota class; ok is false for any other queue (regen's, for one).
func ParseQueueName(name string) (appID string, class wxqr.QuotaClass, ok bool) {
	// The class is the part after the last dot: it has none, and so an
	// app id with dots reads back whole.
	i := strings.LastIndexByte(name, '.')
	if i <= 0 {
		return "", "", false
	}
	class, ok = wxqr.ParseQuotaClass(name[i+1:])
	if !ok {
		return "", "", false
	}
	return name[:i], class, true
}

// queue is the queue of p's task.
func (p GeneratePayload) queue() string {
	return QueueName(p.Spec.AppID, p.Spec.Kind.Class())
}

// TaskID is the asynq task id for p: derived from the code's identity (and the
// generation when regenerating), so the same code is never queued twice.
func (p GeneratePayload) TaskID() string {
	id := p.ID
	if id == "" {
		id = p.Spec.ID()
	}
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

// NewGenerateTask returns the task for p with its default options: its
// queue, its identity-derived task id, retries and timeout. Options given
// here override them. It fails if p breaks a rule of wxqr.Request.Validate.
// The id p carries is trusted (the worker checks it); without one, the
// spec's is worked out here.
func NewGenerateTask(p GeneratePayload, opts ...asynq.Option) (*asynq.Task, error) {
	if errs := wxqr.Request(p).Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("generate task: %w", errors.Join(errs...))
	}
	p = GeneratePayload(wxqr.Request(p).Normalize())
	payload, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode generate payload: %w", err)
	}
	defaults := []asynq.Option{
		asynq.Queue(p.queue()),
		asynq.TaskID(p.TaskID()),
		asynq.MaxRetry(asynqMaxRetry),
		asynq.Timeout(GenerateTimeout),
	}
	return asynq.NewTask(TypeGenerate, payload, append(defaults, opts...)...), nil
}

// DecodeGenerate reads the payload of a generate task: normalised, its id
// checked against its spec (once: every step after trusts it) and its rules
// checked with wxqr.Request.Validate. Any error means the payload can never
// be run: an archive outcome (see AsynqResult).
func DecodeGenerate(data []byte) (GeneratePayload, error) {
	var r wxqr.Request
	if err := json.Unmarshal(data, &r); err != nil {
		return GeneratePayload{}, archive(ArchiveUndecodable, fmt.Errorf("decode generate payload: %v", err))
	}
	if err := r.CheckID(); err != nil {
		return GeneratePayload{}, archive(ArchiveUndecodable, fmt.Errorf("decode generate payload: %w", err))
	}
	if errs := r.Validate(); len(errs) > 0 {
		return GeneratePayload{}, archive(ArchiveBadRequest, fmt.Errorf("invalid code: %w", errors.Join(errs...)))
	}
	return GeneratePayload(r.Normalize()), nil
}
