package asynqx_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wxqr/wxqr/internal/asynqx"
	"github.com/wxqr/wxqr/internal/testenv"
)

// TestPausedKey pins the pause flag to asynq's: its own pause writes the
// key and its resume deletes it, and a value of wxqr's own there pauses the
// queue for asynq.
func TestPausedKey(t *testing.T) {
	ctx := t.Context()
	rdb := testenv.Redis(t)
	inspector := asynq.NewInspectorFromRedisClient(rdb)
	client := asynq.NewClientFromRedisClient(rdb)
	const queue = "wxa.oa_perm"
	if _, err := client.EnqueueContext(ctx, asynq.NewTask("pin", nil), asynq.Queue(queue)); err != nil {
		t.Fatal(err)
	}
	exists := func() bool {
		t.Helper()
		n, err := rdb.Exists(ctx, asynqx.PausedKey(queue)).Result()
		if err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	if err := inspector.PauseQueue(queue); err != nil {
		t.Fatal(err)
	}
	if !exists() {
		t.Fatalf("asynq paused %s without writing %s: its pause flag moved", queue, asynqx.PausedKey(queue))
	}
	if err := inspector.UnpauseQueue(queue); err != nil {
		t.Fatal(err)
	}
	if exists() {
		t.Fatalf("asynq resumed %s and left %s behind", queue, asynqx.PausedKey(queue))
	}
	if err := rdb.Set(ctx, asynqx.PausedKey(queue), "1746093600:wxqr:mark", 0).Err(); err != nil {
		t.Fatal(err)
	}
	info, err := inspector.GetQueueInfo(queue)
	if err != nil {
		t.Fatal(err)
	}
	if !info.Paused {
		t.Errorf("asynq reports %s running with wxqr's value in its pause flag, want paused", queue)
	}
}

// errWait is an error the server's IsFailure does not count as a failure.
var errWait = errors.New("not a failure")

// TestArchives runs asynq's own server and checks that Archives foretells
// what it does with each failed task: archived, retried or dropped.
func TestArchives(t *testing.T) {
	tests := []struct {
		name     string
		maxRetry int
		err      error
		want     asynq.TaskState // 0: dropped
	}{
		{"failure with retries left", 3, errors.New("boom"), asynq.TaskStateRetry},
		{"failure with no retry left", 0, errors.New("boom"), asynq.TaskStateArchived},
		{"failure on its last retry", 1, errors.New("boom"), asynq.TaskStateArchived},
		{"skip retry", 3, fmt.Errorf("bad request: %w", asynq.SkipRetry), asynq.TaskStateArchived},
		{"not a failure with no retry left", 0, errWait, asynq.TaskStateArchived},
		{"not a failure with retries left", 3, errWait, asynq.TaskStateRetry},
		{"revoked", 0, fmt.Errorf("gone: %w", asynq.RevokeTask), 0},
	}
	rdb := testenv.Redis(t)
	const queue = "pin"
	var mu sync.Mutex
	foretold := map[string]bool{} // task id -> Archives' answer at its last failure
	errs := map[string]error{}
	for _, tt := range tests {
		errs[tt.name] = tt.err
	}
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Concurrency: 2,
		Queues:      map[string]int{queue: 1},
		IsFailure:   func(err error) bool { return !errors.Is(err, errWait) },
		RetryDelayFunc: func(n int, _ error, t *asynq.Task) time.Duration {
			if t.Type() == "failure on its last retry" {
				return 0 // run it again at once, to reach its last retry
			}
			return time.Hour
		},
		DelayedTaskCheckInterval: 100 * time.Millisecond,
		ErrorHandler: asynq.ErrorHandlerFunc(func(ctx context.Context, _ *asynq.Task, err error) {
			id, _ := asynq.GetTaskID(ctx)
			archived, _ := asynqx.ArchivesTask(ctx, err)
			mu.Lock()
			defer mu.Unlock()
			foretold[id] = archived
		}),
		LogLevel: asynq.FatalLevel,
	})
	err := srv.Start(asynq.HandlerFunc(func(_ context.Context, t *asynq.Task) error {
		return errs[t.Type()]
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)

	client := asynq.NewClientFromRedisClient(rdb)
	inspector := asynq.NewInspectorFromRedisClient(rdb)
	for i, tt := range tests {
		id := fmt.Sprint("task-", i)
		if _, err := client.EnqueueContext(t.Context(), asynq.NewTask(tt.name, nil),
			asynq.Queue(queue), asynq.TaskID(id), asynq.MaxRetry(tt.maxRetry)); err != nil {
			t.Fatal(err)
		}
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := fmt.Sprint("task-", i)
			state := settled(t, inspector, queue, id, tt.want)
			if state != tt.want {
				t.Fatalf("asynq left the task in state %v, want %v", state, tt.want)
			}
			mu.Lock()
			got, ok := foretold[id]
			mu.Unlock()
			if want := tt.want == asynq.TaskStateArchived; !ok || got != want {
				t.Errorf("Archives = %v (error handler ran: %v), but asynq archived it: %v", got, ok, want)
			}
		})
	}
}

// settled polls the task until it rests where a failed task can: in the
// archive, gone (0), or, when want is a retry, waiting for it. A task made
// to run again at once passes through the retry state on its way.
func settled(t *testing.T, inspector *asynq.Inspector, queue, id string, want asynq.TaskState) asynq.TaskState {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var state asynq.TaskState
		info, err := inspector.GetTaskInfo(queue, id)
		switch {
		case errors.Is(err, asynq.ErrTaskNotFound):
		case err != nil:
			t.Fatal(err)
		default:
			state = info.State
		}
		if state == asynq.TaskStateArchived || state == 0 || (state == asynq.TaskStateRetry && want == asynq.TaskStateRetry) {
			return state
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %s still %v after 10 s, want %v", id, state, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
