package tasks_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wxqr/wxqr/internal/asynqx"
	"github.com/wxqr/wxqr/tasks"
)

// generateMaxRetry is asynq's MaxRetry of every generate task
// (NewGenerateTask): out of reach, so that only AsynqResult archives.
const generateMaxRetry = math.MaxInt32

// TestAsynqResult turns each outcome into asynq's terms: the error asynq
// gets, whether it is a failure (a retry used up), when the task runs
// again, and whether asynq archives it.
func TestAsynqResult(t *testing.T) {
	storageDown := errors.New("storage unavailable")
	tests := []struct {
		name        string
		err         error
		retried     int
		wantNil     bool
		wantFailure bool
		wantArchive bool
		wantKind    tasks.OutcomeKind
		wantReason  tasks.ArchiveReason // of an archive
		wantClass   tasks.FailClass     // of a failure
		minDelay    time.Duration       // when it runs again, unless archived
		maxDelay    time.Duration
	}{
		{name: "done", err: nil, wantNil: true},
		{
			name:     "wait",
			err:      fmt.Errorf("generate: %w", &tasks.Outcome{Kind: tasks.OutcomeWait, After: 2 * time.Second, Wait: tasks.WaitRateLimit, Err: errors.New("rate limit")}),
			wantKind: tasks.OutcomeWait, minDelay: 2 * time.Second, maxDelay: 2200*time.Millisecond + time.Millisecond,
		},
		{
			// Waits use up no retry, so no number of them archives a task.
			name:     "wait after many retries",
			err:      &tasks.Outcome{Kind: tasks.OutcomeWait, After: time.Minute, Wait: tasks.WaitPaused, Err: errors.New("paused")},
			retried:  tasks.GenerateMaxRetry + 5,
			wantKind: tasks.OutcomeWait, minDelay: time.Minute, maxDelay: 66*time.Second + time.Millisecond,
		},
		{
			name:        "first failure",
			err:         storageDown,
			wantFailure: true, wantKind: tasks.OutcomeFail, wantClass: tasks.FailInternal,
			minDelay: 500 * time.Millisecond, maxDelay: time.Second,
		},
		{
			name:        "fourth failure backs off",
			err:         &tasks.Outcome{Kind: tasks.OutcomeFail, Class: tasks.FailWeChat, Err: storageDown},
			retried:     3,
			wantFailure: true, wantKind: tasks.OutcomeFail, wantClass: tasks.FailWeChat,
			minDelay: 4 * time.Second, maxDelay: 8 * time.Second,
		},
		{
			name:        "failure with one retry left",
			err:         storageDown,
			retried:     tasks.GenerateMaxRetry - 1,
			wantFailure: true, wantKind: tasks.OutcomeFail, wantClass: tasks.FailInternal,
			minDelay: tasks.FirstRetryDelay << (tasks.GenerateMaxRetry - 2), maxDelay: tasks.FirstRetryDelay << (tasks.GenerateMaxRetry - 1),
		},
		{
			name:        "failure at the cap",
			err:         storageDown,
			retried:     tasks.GenerateMaxRetry,
			wantFailure: true, wantArchive: true, wantKind: tasks.OutcomeArchive,
			wantReason: tasks.ArchiveRetriesSpent, wantClass: tasks.FailInternal,
		},
		{
			name:        "timeout",
			err:         fmt.Errorf("read catalog: %w", context.DeadlineExceeded),
			wantFailure: true, wantKind: tasks.OutcomeFail, wantClass: tasks.FailTimeout,
			minDelay: 500 * time.Millisecond, maxDelay: time.Second,
		},
		{
			name:        "archive",
			err:         &tasks.Outcome{Kind: tasks.OutcomeArchive, Archive: tasks.ArchiveBadRequest, Err: errors.New("invalid page")},
			wantFailure: true, wantArchive: true, wantKind: tasks.OutcomeArchive, wantReason: tasks.ArchiveBadRequest,
		},
	}
	task := asynq.NewTask(tasks.TypeGenerate, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tasks.AsynqResult(tt.err, tt.retried)
			if tt.wantNil {
				if got != nil {
					t.Fatalf("AsynqResult = %v, want nil", got)
				}
				return
			}
			if !errors.Is(got, tt.err) {
				t.Errorf("AsynqResult = %v, want it to wrap %v", got, tt.err)
			}
			if f := tasks.IsFailure(got); f != tt.wantFailure {
				t.Errorf("IsFailure = %v, want %v", f, tt.wantFailure)
			}
			if a := asynqx.Archives(got, tt.retried, generateMaxRetry); a != tt.wantArchive {
				t.Errorf("asynq archives it: %v, want %v", a, tt.wantArchive)
			}
			o := tasks.OutcomeOf(got)
			if o.Kind != tt.wantKind || o.Archive != tt.wantReason || o.Class != tt.wantClass {
				t.Errorf("outcome = %s (archive %q, class %q), want %s (archive %q, class %q)",
					o.Kind, o.Archive, o.Class, tt.wantKind, tt.wantReason, tt.wantClass)
			}
			if tt.wantArchive {
				return
			}
			for range 100 {
				if d := tasks.RetryDelay(tt.retried, got, task); d < tt.minDelay || d > tt.maxDelay {
					t.Fatalf("RetryDelay = %v, want %v..%v", d, tt.minDelay, tt.maxDelay)
				}
			}
		})
	}
}

// TestAsynqResultCapNamesRetries: a task archived at the cap says so, and
// its error still matches what failed.
func TestAsynqResultCapNamesRetries(t *testing.T) {
	cause := errors.New("storage unavailable")
	got := tasks.AsynqResult(cause, tasks.GenerateMaxRetry)
	if !errors.Is(got, cause) || !errors.Is(got, asynq.SkipRetry) {
		t.Errorf("AsynqResult = %v, want it to wrap the cause and asynq.SkipRetry", got)
	}
	if want := fmt.Sprintf("after %d retries", tasks.GenerateMaxRetry); !strings.Contains(got.Error(), want) {
		t.Errorf("AsynqResult = %q, want it to say %q", got, want)
	}
}

// TestRetryDelayBackoff: real failures back off from FirstRetryDelay,
// doubling, to MaxRetryDelay, however many retries.
func TestRetryDelayBackoff(t *testing.T) {
	failure := errors.New("storage unavailable")
	task := asynq.NewTask(tasks.TypeGenerate, nil)
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
