package asynqx_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wxqr/wxqr/internal/asynqx"
	"github.com/wxqr/wxqr/internal/testenv"
)

// TestReadQueues pins ReadQueues to asynq's own Inspector: a real asynq
// server leaves tasks in every state, and ReadQueues must count what
// GetQueueInfo counts. An asynq upgrade that moves a key fails here.
func TestReadQueues(t *testing.T) {
	ctx := t.Context()
	rdb := testenv.Redis(t)
	client := asynq.NewClientFromRedisClient(rdb)
	inspector := asynq.NewInspectorFromRedisClient(rdb)
	const (
		busy      = "pin.busy"      // a task in every state
		scheduled = "pin.scheduled" // only a scheduled task: none pending to weigh
		paused    = "pin.paused"    // pending tasks, paused
		never     = "pin.never"     // configured, never used
	)

	// The handler keeps "block" tasks active until the test ends, fails
	// "fail" tasks (to retry in an hour) and completes the rest.
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Concurrency:    2,
		Queues:         map[string]int{busy: 1},
		RetryDelayFunc: func(int, error, *asynq.Task) time.Duration { return time.Hour },
		LogLevel:       asynq.FatalLevel,
	})
	err := srv.Start(asynq.HandlerFunc(func(ctx context.Context, task *asynq.Task) error {
		switch task.Type() {
		case "block":
			started <- struct{}{}
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil
		case "fail":
			return errors.New("boom")
		}
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	t.Cleanup(func() { close(release) })

	enqueue := func(typ, queue string, opts ...asynq.Option) string {
		t.Helper()
		info, err := client.EnqueueContext(ctx, asynq.NewTask(typ, []byte("a payload of a few bytes")), append(opts, asynq.Queue(queue))...)
		if err != nil {
			t.Fatal(err)
		}
		return info.ID
	}
	enqueue("ok", busy, asynq.Retention(time.Hour))
	enqueue("fail", busy, asynq.MaxRetry(3))
	enqueue("block", busy)
	<-started
	// Wait for the server to settle the first two: completed, and waiting
	// to retry.
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := inspector.GetQueueInfo(busy)
		if err != nil {
			t.Fatal(err)
		}
		if info.Completed == 1 && info.Retry == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("asynq did not settle the tasks: %+v", info)
		}
		time.Sleep(20 * time.Millisecond)
	}
	srv.Stop() // no more tasks taken; the blocked one stays active
	enqueue("ok", busy, asynq.ProcessIn(time.Hour))
	if err := inspector.ArchiveTask(busy, enqueue("ok", busy)); err != nil {
		t.Fatal(err)
	}
	enqueue("ok", busy)
	enqueue("ok", busy)
	enqueue("ok", scheduled, asynq.ProcessIn(time.Hour))
	enqueue("ok", paused)
	if err := inspector.PauseQueue(paused); err != nil {
		t.Fatal(err)
	}

	queues := []string{busy, scheduled, paused, never}
	got, err := asynqx.ReadQueues(ctx, rdb, queues, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(queues) {
		t.Fatalf("ReadQueues returned %d queues, want %d", len(got), len(queues))
	}
	for i, q := range queues {
		t.Run(q, func(t *testing.T) {
			s := got[i]
			if s.Queue != q {
				t.Fatalf("queue %d is %q, want %q", i, s.Queue, q)
			}
			want := &asynq.QueueInfo{Queue: q}
			if q != never {
				if want, err = inspector.GetQueueInfo(q); err != nil {
					t.Fatal(err)
				}
			}
			gotCounts := []int{s.Pending, s.Active, s.Scheduled, s.Retry, s.Archived, s.Completed, s.Size(), s.ProcessedTotal, s.FailedTotal}
			wantCounts := []int{want.Pending, want.Active, want.Scheduled, want.Retry, want.Archived, want.Completed, want.Size, want.ProcessedTotal, want.FailedTotal}
			if !slices.Equal(gotCounts, wantCounts) {
				t.Errorf("pending, active, scheduled, retry, archived, completed, size, processed, failed:\n got %v\nwant %v", gotCounts, wantCounts)
			}
			if s.Paused != want.Paused {
				t.Errorf("Paused = %v, want %v", s.Paused, want.Paused)
			}
			// Read a moment apart: within a second of each other.
			if d := s.Latency - want.Latency; d < -time.Second || d > time.Second {
				t.Errorf("Latency = %v, asynq says %v", s.Latency, want.Latency)
			}
			if (s.Pending > 0) != (s.Latency > 0) {
				t.Errorf("Latency = %v with %d pending", s.Latency, s.Pending)
			}
			// One sample against asynq's many: the same order of magnitude.
			if s.MemoryUsage < want.MemoryUsage/2 || s.MemoryUsage > want.MemoryUsage*2 {
				t.Errorf("MemoryUsage = %d, asynq estimates %d", s.MemoryUsage, want.MemoryUsage)
			}
			if (s.Size() > 0) != (s.MemoryUsage > 0) {
				t.Errorf("MemoryUsage = %d with %d tasks", s.MemoryUsage, s.Size())
			}
		})
	}

	t.Run("no queues", func(t *testing.T) {
		got, err := asynqx.ReadQueues(ctx, rdb, nil, time.Now())
		if err != nil || len(got) != 0 {
			t.Errorf("ReadQueues(nil) = %v, %v; want nothing", got, err)
		}
	})
	t.Run("known queues", func(t *testing.T) {
		known, err := asynqx.Queues(ctx, rdb)
		if err != nil {
			t.Fatal(err)
		}
		want, err := inspector.Queues()
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(known)
		slices.Sort(want)
		if !slices.Equal(known, want) {
			t.Errorf("Queues = %v, asynq's Inspector says %v", known, want)
		}
		if slices.Contains(known, never) {
			t.Errorf("Queues lists %s, which never held a task", never)
		}
	})
}
