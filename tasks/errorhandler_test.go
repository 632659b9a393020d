package tasks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/internal/testenv"
	"github.com/wxqr/wxqr/tasks"
)

// recordedFailures is a tasks.Failures that remembers each failure, and
// tasks.Notices that remembers each failure it is told of.
type recordedFailures struct {
	mu      sync.Mutex
	failed  map[string]string // campaign/id -> reason
	noticed map[string]string // campaign/id -> reason, as Notices.Failed heard
}

func (f *recordedFailures) Fail(_ context.Context, campaign, id, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failed[campaign+"/"+id] = reason
	return nil
}

func (f *recordedFailures) reason(campaign, id string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.failed[campaign+"/"+id]
	return r, ok
}

func (f *recordedFailures) Failed(_ context.Context, p tasks.GeneratePayload, reason string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.noticed[p.Campaign+"/"+p.ID] = reason
}

func (f *recordedFailures) noticedReason(campaign, id string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.noticed[campaign+"/"+id]
	return r, ok
}

func (f *recordedFailures) Paused(context.Context, tasks.PauseState, string, int) {}
func (f *recordedFailures) Made(context.Context, tasks.GeneratePayload)           {}

// lockedBuffer is a log sink the server's workers may write to at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// lines returns the log lines that name task id.
func (l *lockedBuffer) lines(t *testing.T, id string) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for line := range strings.Lines(l.b.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["task_id"] == id {
			out = append(out, m)
		}
	}
	return out
}

// TestErrorHandler runs generate tasks on asynq's own server with the
// worker's policy: the error handler logs each outcome once, at its level,
// and records as failed in its campaign each task that asynq archives
// (whether the handler archived it or asynq ran out of retries), and no
// other.
func TestErrorHandler(t *testing.T) {
	tests := []struct {
		name   string
		result error // what the handler returns, in asynq's terms
		// spent queues the task with asynq's own retries spent (MaxRetry 0)
		spent     bool
		wantState asynq.TaskState
		wantLevel string
		wantOut   string // outcome and reason logged
	}{
		{
			name:      "archived bad request",
			result:    tasks.AsynqResult(&tasks.Outcome{Kind: tasks.OutcomeArchive, Archive: tasks.ArchiveBadRequest, Err: errors.New("invalid page")}, 0),
			wantState: asynq.TaskStateArchived, wantLevel: "error", wantOut: "archive/bad_request",
		},
		{
			name:      "retries spent",
			result:    tasks.AsynqResult(errors.New("storage unavailable"), tasks.GenerateMaxRetry),
			wantState: asynq.TaskStateArchived, wantLevel: "error", wantOut: "archive/retries_spent",
		},
		{
			name:      "wait",
			result:    tasks.AsynqResult(&tasks.Outcome{Kind: tasks.OutcomeWait, After: time.Hour, Wait: tasks.WaitPaused, Err: errors.New("paused")}, 0),
			wantState: asynq.TaskStateRetry, wantLevel: "debug", wantOut: "wait/paused",
		},
		{
			name:      "failure",
			result:    tasks.AsynqResult(errors.New("storage unavailable"), 0),
			wantState: asynq.TaskStateRetry, wantLevel: "warn", wantOut: "fail/internal",
		},
		{
			// asynq's own cap, were it ever reached, archives whatever the
			// error: the handler goes by asynq's rule, not the outcome.
			name:      "asynq's own cap",
			result:    tasks.AsynqResult(&tasks.Outcome{Kind: tasks.OutcomeWait, After: time.Hour, Wait: tasks.WaitPaused, Err: errors.New("paused")}, 0),
			spent:     true,
			wantState: asynq.TaskStateArchived, wantLevel: "error", wantOut: "wait/paused",
		},
	}
	rdb := testenv.Redis(t)
	failures := &recordedFailures{failed: map[string]string{}, noticed: map[string]string{}}
	var logs lockedBuffer
	results := map[string]error{} // task id -> result
	var ids []string
	var queue string
	var tasksToRun []*asynq.Task
	var opts [][]asynq.Option
	for i, tt := range tests {
		p := tasks.GeneratePayload{Spec: wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: oaApp, SceneID: int64(i + 1)}, Campaign: "spring"}
		var o []asynq.Option
		if tt.spent {
			o = append(o, asynq.MaxRetry(0))
		}
		task := generateTask(t, p)
		ids = append(ids, p.TaskID())
		results[p.TaskID()] = tt.result
		queue = tasks.QueueName(oaApp, wxqr.ClassOAPerm)
		tasksToRun, opts = append(tasksToRun, task), append(opts, o)
	}
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Concurrency:    2,
		Queues:         map[string]int{queue: 1},
		IsFailure:      tasks.IsFailure,
		RetryDelayFunc: tasks.RetryDelay,
		ErrorHandler:   tasks.NewErrorHandler(zerolog.New(&logs), failures, failures),
		LogLevel:       asynq.FatalLevel,
	})
	if err := srv.Start(asynq.HandlerFunc(func(ctx context.Context, _ *asynq.Task) error {
		id, _ := asynq.GetTaskID(ctx)
		return results[id]
	})); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	client := asynq.NewClientFromRedisClient(rdb)
	for i, task := range tasksToRun {
		if _, err := client.EnqueueContext(t.Context(), task, opts[i]...); err != nil {
			t.Fatal(err)
		}
	}
	inspector := asynq.NewInspectorFromRedisClient(rdb)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := ids[i]
			spec := wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: oaApp, SceneID: int64(i + 1)}.Normalize()
			if state := taskRests(t, inspector, queue, id); state != tt.wantState {
				t.Fatalf("task in state %v, want %v", state, tt.wantState)
			}
			reason, failed := failures.reason("spring", spec.ID())
			if archived := tt.wantState == asynq.TaskStateArchived; failed != archived {
				t.Errorf("recorded as failed: %v (%q), want %v", failed, reason, archived)
			} else if failed && reason != tt.result.Error() {
				t.Errorf("recorded reason %q, want the task's error %q", reason, tt.result.Error())
			}
			if noticed, ok := failures.noticedReason("spring", spec.ID()); ok != failed || noticed != reason {
				t.Errorf("notices told of a failure: %v (%q), want %v (%q) as recorded", ok, noticed, failed, reason)
			}
			lines := logs.lines(t, id)
			if len(lines) != 1 {
				t.Fatalf("%d log lines for the task, want 1: %v", len(lines), lines)
			}
			l := lines[0]
			if got := fmt.Sprint(l["outcome"], "/", l["reason"]); l["level"] != tt.wantLevel || got != tt.wantOut {
				t.Errorf("logged at %v with %s, want %s with %s", l["level"], got, tt.wantLevel, tt.wantOut)
			}
			if l["campaign"] != "spring" || l["app_id"] != oaApp {
				t.Errorf("log line %v does not name the code's campaign and app", l)
			}
		})
	}
}

// taskRests polls the task until it rests after its run: archived, or
// waiting for a retry.
func taskRests(t *testing.T, inspector *asynq.Inspector, queue, id string) asynq.TaskState {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := inspector.GetTaskInfo(queue, id)
		if err != nil {
			t.Fatal(err)
		}
		if info.State == asynq.TaskStateArchived || info.State == asynq.TaskStateRetry {
			return info.State
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %s still %v after 10 s", id, info.State)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
