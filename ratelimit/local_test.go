package ratelimit_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/wxqr/wxqr/ratelimit"
)

// The Local tests run in a synctest bubble: its clock is fake, so the
// delays Wait reports are exact and nothing depends on the machine's speed.

func TestLocalReportsExactDelays(t *testing.T) {
	tests := []struct {
		name  string
		limit ratelimit.Limit
		want  []time.Duration // waited by successive calls
	}{
		{
			name:  "evenly spaced",
			limit: ratelimit.PerSecond(10),
			want:  []time.Duration{0, 100 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond},
		},
		{
			name:  "burst then spaced",
			limit: ratelimit.Limit{Rate: 4, Per: time.Second, Burst: 3},
			want:  []time.Duration{0, 0, 0, 250 * time.Millisecond, 250 * time.Millisecond},
		},
		{
			name:  "per minute",
			limit: ratelimit.PerMinute(2),
			want:  []time.Duration{0, 30 * time.Second, 30 * time.Second},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := ratelimit.NewLocal(ratelimit.LocalConfig{
					Limits:  fixed(map[string][]ratelimit.Limit{"k": {tt.limit}}),
					MaxWait: time.Minute,
				})
				for i, want := range tt.want {
					got, err := l.Wait(t.Context(), "k")
					if err != nil {
						t.Fatalf("call %d: %v", i, err)
					}
					// Delays are rounded up to the nanosecond.
					if got < want || got > want+time.Microsecond {
						t.Errorf("call %d waited %s, want %s", i, got, want)
					}
				}
			})
		})
	}
}

func TestLocalPacesConcurrentCallers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const goroutines, each = 4, 5
		l := ratelimit.NewLocal(ratelimit.LocalConfig{
			Limits:  fixed(map[string][]ratelimit.Limit{"k": {ratelimit.PerSecond(10)}}),
			MaxWait: time.Minute,
		})
		start := time.Now()
		var mu sync.Mutex
		var admissions []time.Duration
		var wg sync.WaitGroup
		for range goroutines {
			wg.Go(func() {
				for range each {
					if _, err := l.Wait(t.Context(), "k"); err != nil {
						t.Errorf("Wait: %v", err)
						return
					}
					mu.Lock()
					admissions = append(admissions, time.Since(start))
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(admissions) != goroutines*each {
			t.Fatalf("%d admissions, want %d", len(admissions), goroutines*each)
		}
		// One call per 100ms, in order of admission: the n-th at n×100ms.
		for i, at := range admissions {
			want := time.Duration(i) * 100 * time.Millisecond
			if at < want || at > want+time.Microsecond*time.Duration(i+1) {
				t.Errorf("admission %d at %s, want %s", i, at, want)
			}
		}
	})
}

func TestLocalWaitReturnsWhenContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := ratelimit.NewLocal(ratelimit.LocalConfig{
			Limits:  fixed(map[string][]ratelimit.Limit{"k": {hourly(1)}}),
			MaxWait: 2 * time.Hour,
		})
		if _, err := l.Wait(t.Context(), "k"); err != nil {
			t.Fatalf("first Wait: %v", err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		var waited time.Duration
		var err error
		done := make(chan struct{})
		go func() {
			defer close(done)
			waited, err = l.Wait(ctx, "k")
		}()
		// Let 10 minutes of fake time pass; the clock only moves once the
		// waiter is durably blocked, i.e. asleep for its hour.
		time.Sleep(10 * time.Minute)
		cancel()
		<-done
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
		if waited != 10*time.Minute {
			t.Errorf("waited = %s, want 10m (the time until the cancel)", waited)
		}
	})
}

func TestLocalKeepsStateAcrossRateChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		limit := ratelimit.Limit{Rate: 1, Per: time.Hour, Burst: 2}
		l := ratelimit.NewLocal(ratelimit.LocalConfig{
			Limits: func(string) []ratelimit.Limit {
				mu.Lock()
				defer mu.Unlock()
				return []ratelimit.Limit{limit}
			},
			MaxWait: -1,
		})
		if got := countAdmitted(t, l, 5); got != 2 {
			t.Fatalf("admitted %d, want 2", got)
		}
		mu.Lock()
		limit.Rate = 2 // same Per: the spent burst stays spent
		mu.Unlock()
		if _, err := l.Wait(t.Context(), "k"); !errors.Is(err, ratelimit.ErrLimited) {
			t.Fatalf("after raising the rate: %v, want ErrLimited", err)
		}
		time.Sleep(30 * time.Minute) // one token at the new rate
		if got := countAdmitted(t, l, 5); got != 1 {
			t.Errorf("30m later at 2/h: admitted %d, want 1", got)
		}
	})
}
