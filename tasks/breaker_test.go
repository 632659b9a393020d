package tasks_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxqr/wxqr/internal/testenv"
	"github.com/wxqr/wxqr/tasks"
)

func newBreaker(t *testing.T, cfg tasks.BreakerConfig) *tasks.Breaker {
	t.Helper()
	b, err := tasks.NewBreaker(testenv.Redis(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// record counts n calls of key and returns the verdicts.
func record(t *testing.T, b *tasks.Breaker, key string, failed bool, n int) []tasks.Verdict {
	t.Helper()
	var vs []tasks.Verdict
	for range n {
		v, err := b.Record(t.Context(), key, failed)
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	return vs
}

// waitClosed polls until the breaker of key lets calls through again.
func waitClosed(t *testing.T, b *tasks.Breaker, key string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		wait, err := b.Open(t.Context(), key)
		if err != nil {
			t.Fatal(err)
		}
		if wait == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the breaker of %s is still open", key)
		}
		time.Sleep(wait)
	}
}

func TestBreakerOpensOnManyFailures(t *testing.T) {
	ctx := t.Context()
	b := newBreaker(t, tasks.BreakerConfig{Failures: 5, Ratio: 0.5, Window: time.Minute, Pause: 300 * time.Millisecond,
		MaxPause: 500 * time.Millisecond, ProbeFailures: 2, ProbationFor: time.Minute})
	const key = "wxa:qrcode/create"

	// Failures among many successes: below the ratio, the breaker stays
	// closed.
	record(t, b, key, false, 10)
	for i, v := range record(t, b, key, true, 9) {
		if v.Opened || v.Outage {
			t.Fatalf("failure %d of 19 calls: %+v, want the breaker closed (below the ratio)", i+1, v)
		}
	}
	// The 10th failure of 20 calls reaches the ratio.
	v := record(t, b, key, true, 1)[0]
	if !v.Opened || !v.Outage || v.Wait != 300*time.Millisecond {
		t.Fatalf("10th failure of 20 calls: %+v, want the breaker opened for 300ms", v)
	}
	if wait, err := b.Open(ctx, key); err != nil || wait <= 0 || wait > 300*time.Millisecond {
		t.Errorf("Open = %s, %v; want the rest of the pause", wait, err)
	}
	// Other apps and APIs have their own breaker.
	for _, other := range []string{"wxb:qrcode/create", "wxa:showqrcode"} {
		if wait, err := b.Open(ctx, other); err != nil || wait != 0 {
			t.Errorf("Open(%s) = %s, %v; want closed", other, wait, err)
		}
	}
	// Calls under way when it opened belong to the outage, uncounted.
	if v := record(t, b, key, true, 1)[0]; v.Opened || !v.Outage || v.Wait <= 0 {
		t.Errorf("failure while open: %+v, want an outage, not a second opening", v)
	}

	// Half-open after the pause: fewer failures open it again, for longer.
	waitClosed(t, b, key)
	if v := record(t, b, key, true, 1)[0]; v.Opened || !v.Outage {
		t.Errorf("first failure when half-open: %+v, want an outage (not the task's failure) that does not open yet", v)
	}
	if v := record(t, b, key, true, 1)[0]; !v.Opened || v.Wait != 500*time.Millisecond {
		t.Errorf("second failure when half-open: %+v, want the breaker opened again, for 600ms capped at 500ms", v)
	}
	waitClosed(t, b, key)
	// A success when half-open is no failure.
	if v := record(t, b, key, false, 1)[0]; v.Opened || v.Outage {
		t.Errorf("success when half-open: %+v, want nothing", v)
	}
}

func TestBreakerWindowSlides(t *testing.T) {
	b := newBreaker(t, tasks.BreakerConfig{Failures: 3, Window: 200 * time.Millisecond})
	const key = "wxa:qrcode/create"
	record(t, b, key, true, 2)
	start := time.Now()
	deadline := start.Add(10 * time.Second)
	// Once the window has passed, the two failures no longer count.
	for time.Since(start) < 250*time.Millisecond {
		if time.Now().After(deadline) {
			t.Fatal("time does not pass")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if v := record(t, b, key, true, 1)[0]; v.Opened {
		t.Errorf("third failure, two of them out of the window: %+v, want closed", v)
	}
	if v := record(t, b, key, true, 2)[1]; !v.Opened {
		t.Errorf("third failure within the window: %+v, want open", v)
	}
}

// TestBreakerOpensOnceForTheFleet checks that concurrent failures, as from
// many workers, open the breaker once.
func TestBreakerOpensOnceForTheFleet(t *testing.T) {
	b := newBreaker(t, tasks.BreakerConfig{Failures: 20, Pause: time.Minute})
	var opened atomic.Int32
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			for range 10 {
				v, err := b.Record(t.Context(), "wxa:qrcode/create", true)
				if err != nil {
					t.Error(err)
					return
				}
				if v.Opened {
					opened.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if got := opened.Load(); got != 1 {
		t.Errorf("the breaker opened %d times, want once", got)
	}
}

func TestBreakerConfigRefused(t *testing.T) {
	for _, cfg := range []tasks.BreakerConfig{
		{Failures: -1},
		{Ratio: 1.5},
		{Pause: time.Hour, MaxPause: time.Minute},
	} {
		if _, err := tasks.NewBreaker(testenv.Redis(t), cfg); err == nil {
			t.Errorf("NewBreaker(%+v) succeeded, want an error", cfg)
		}
	}
}
