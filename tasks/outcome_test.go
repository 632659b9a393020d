package tasks_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wxqr/wxqr/tasks"
)

func TestRetryPolicy(t *testing.T) {
	later := &tasks.RetryLaterError{After: 2 * time.Second, Reason: "rate limit"}
	wrapped := fmt.Errorf("generate: %w", later)
	failure := errors.New("storage unavailable")
	task := asynq.NewTask(tasks.TypeGenerate, nil)

	if tasks.IsFailure(wrapped) {
		t.Error("IsFailure(retry later) = true, want false: waits must not use up retries")
	}
	if !tasks.IsFailure(failure) {
		t.Error("IsFailure(storage error) = false, want true")
	}
	for range 100 {
		if d := tasks.RetryDelay(5, wrapped, task); d < 2*time.Second || d > 2200*time.Millisecond+time.Millisecond {
			t.Fatalf("RetryDelay(retry later 2s) = %v, want 2s..2.2s", d)
		}
	}
	tests := []struct {
		retried  int
		min, max time.Duration
	}{
		{0, 500 * time.Millisecond, time.Second},
		{3, 4 * time.Second, 8 * time.Second},
		{12, tasks.MaxRetryDelay / 2, tasks.MaxRetryDelay},
		{100, tasks.MaxRetryDelay / 2, tasks.MaxRetryDelay},
	}
	for _, tt := range tests {
		for range 100 {
			if d := tasks.RetryDelay(tt.retried, failure, task); d < tt.min || d > tt.max {
				t.Fatalf("RetryDelay(%d retries) = %v, want %v..%v", tt.retried, d, tt.min, tt.max)
			}
		}
	}
}
