package tasks_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/wxqr/wxqr/internal/testenv"
	"github.com/wxqr/wxqr/tasks"
)

func newBreaker(t *testing.T, cfg tasks.BreakerConfig) *tasks.Breaker {
	t.Helper()
	return newBreakerOn(t, testenv.Redis(t), cfg)
}

// newBreakerOn returns a breaker on rdb, closed when the test ends (before
// rdb, when rdb was made first).
func newBreakerOn(t *testing.T, rdb redis.UniversalClient, cfg tasks.BreakerConfig) *tasks.Breaker {
	t.Helper()
	b, err := tasks.NewBreaker(rdb, cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close(context.Background()) })
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

// TestBreakerHoldsSuccesses checks that successes, held in each worker,
// count for the fleet as they did one by one: with the next failure of the
// same worker, at Close, and by themselves after SyncEvery.
func TestBreakerHoldsSuccesses(t *testing.T) {
	const key = "wxa:qrcode/create"
	cfg := tasks.BreakerConfig{Failures: 5, Ratio: 0.5, Window: time.Minute, Pause: time.Minute,
		SyncEvery: time.Hour}

	t.Run("with the next failure", func(t *testing.T) {
		rdb := testenv.Redis(t)
		one, two := newBreakerOn(t, rdb, cfg), newBreakerOn(t, rdb, cfg)
		for i, v := range record(t, one, key, false, 10) {
			if v != (tasks.Verdict{}) {
				t.Fatalf("success %d: %+v, want the zero verdict", i+1, v)
			}
		}
		// Five failures would open the breaker on their own: the first one
		// brings the 10 successes along.
		record(t, one, key, true, 1)
		for i, v := range record(t, two, key, true, 8) {
			if v.Opened || v.Outage {
				t.Fatalf("failure %d of 19 calls: %+v, want the breaker closed (below the ratio)", i+2, v)
			}
		}
		if v := record(t, two, key, true, 1)[0]; !v.Opened {
			t.Errorf("10th failure of 20 calls, on another breaker: %+v, want it opened", v)
		}
	})
	t.Run("at Close", func(t *testing.T) {
		rdb := testenv.Redis(t)
		one, two := newBreakerOn(t, rdb, cfg), newBreakerOn(t, rdb, cfg)
		record(t, one, key, false, 10)
		if n := countedCalls(t, rdb, key); n != 0 {
			t.Fatalf("%d calls counted before Close, want the successes held", n)
		}
		one.Close(t.Context())
		if n := countedCalls(t, rdb, key); n != 10 {
			t.Fatalf("%d calls counted after Close, want the 10 successes", n)
		}
		// Once closed, a breaker counts a success at once.
		record(t, one, key, false, 1)
		if n := countedCalls(t, rdb, key); n != 11 {
			t.Fatalf("%d calls counted after a success past Close, want 11", n)
		}
		if v := record(t, two, key, true, 10)[9]; v.Opened {
			t.Errorf("10th failure of 21 calls: %+v, want the breaker closed (below the ratio)", v)
		}
		if v := record(t, two, key, true, 1)[0]; !v.Opened {
			t.Errorf("11th failure of 22 calls: %+v, want the breaker opened", v)
		}
	})
	t.Run("after SyncEvery", func(t *testing.T) {
		rdb := testenv.Redis(t)
		quick := cfg
		quick.SyncEvery = 20 * time.Millisecond
		one, two := newBreakerOn(t, rdb, quick), newBreakerOn(t, rdb, cfg)
		record(t, one, key, false, 10)
		deadline := time.Now().Add(10 * time.Second)
		for {
			n := countedCalls(t, rdb, key)
			if n == 10 {
				break
			}
			if n > 10 || time.Now().After(deadline) {
				t.Fatalf("%d calls counted, want the 10 successes", n)
			}
			time.Sleep(5 * time.Millisecond)
		}
		if v := record(t, two, key, true, 9)[8]; v.Opened {
			t.Errorf("9th failure of 19 calls: %+v, want the breaker closed", v)
		}
		if v := record(t, two, key, true, 1)[0]; !v.Opened {
			t.Errorf("10th failure of 20 calls: %+v, want the breaker opened", v)
		}
	})
}

// countedCalls returns how many calls of key the fleet counts in the
// window: the members of the breaker's sorted set of calls.
func countedCalls(t *testing.T, rdb redis.UniversalClient, key string) int64 {
	t.Helper()
	n, err := rdb.ZCard(t.Context(), "wxqr:breaker:"+key+":calls").Result()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestBreakerOpenLags checks that a breaker asks the fleet whether it is
// open at most once per SyncEvery, but hears at once what the fleet answers
// its own failures.
func TestBreakerOpenLags(t *testing.T) {
	ctx := t.Context()
	const key = "wxa:qrcode/create"
	cfg := tasks.BreakerConfig{Failures: 3, Ratio: 0.5, Window: time.Minute, Pause: time.Minute, SyncEvery: time.Hour}
	open := func(b *tasks.Breaker) time.Duration {
		t.Helper()
		wait, err := b.Open(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		return wait
	}

	t.Run("another worker opens it", func(t *testing.T) {
		rdb := testenv.Redis(t)
		one, two := newBreakerOn(t, rdb, cfg), newBreakerOn(t, rdb, cfg)
		quick := cfg
		quick.SyncEvery = 20 * time.Millisecond
		three := newBreakerOn(t, rdb, quick)
		if open(two) != 0 || open(three) != 0 {
			t.Fatal("a breaker with no calls is open")
		}
		record(t, one, key, true, 3)
		if wait := open(one); wait <= 0 || wait > time.Minute {
			t.Errorf("Open on the breaker whose failure opened it = %s, want the pause", wait)
		}
		// Two asked within SyncEvery: it answers what it heard.
		if wait := open(two); wait != 0 {
			t.Errorf("Open within SyncEvery of the last answer = %s, want that answer (closed)", wait)
		}
		// Three asks again once its SyncEvery is over.
		deadline := time.Now().Add(10 * time.Second)
		for open(three) == 0 {
			if time.Now().After(deadline) {
				t.Fatal("a breaker never heard that another opened the fleet's breaker")
			}
			time.Sleep(5 * time.Millisecond)
		}
		// Two's own failure meets the breaker open, and says so.
		if v := record(t, two, key, true, 1)[0]; !v.Outage || v.Wait <= 0 {
			t.Fatalf("failure while open: %+v, want an outage", v)
		}
		if wait := open(two); wait <= 0 {
			t.Errorf("Open after a failure met the breaker open = %s, want the rest of the pause", wait)
		}
	})
	t.Run("open again after its pause", func(t *testing.T) {
		rdb := testenv.Redis(t)
		short := cfg
		short.Pause, short.ProbeFailures = 300*time.Millisecond, 1
		one, two := newBreakerOn(t, rdb, short), newBreakerOn(t, rdb, short)
		if v := record(t, one, key, true, 3)[2]; !v.Opened {
			t.Fatalf("third failure: %+v, want the breaker opened", v)
		}
		if v := record(t, two, key, true, 1)[0]; !v.Outage || v.Wait <= 0 {
			t.Fatalf("failure while open: %+v, want an outage", v)
		}
		waitClosed(t, one, key)
		// Half-open: one failure opens it again, for twice as long.
		if v := record(t, one, key, true, 1)[0]; !v.Opened {
			t.Fatalf("failure when half-open: %+v, want the breaker opened again", v)
		}
		// Two last heard it open, and that pause is over: it asks again,
		// whatever SyncEvery.
		if wait := open(two); wait <= 0 {
			t.Errorf("Open once the pause it heard of is over = %s, want the new pause", wait)
		}
	})
}

func TestBreakerConfigRefused(t *testing.T) {
	for _, cfg := range []tasks.BreakerConfig{
		{Failures: -1},
		{Ratio: 1.5},
		{Pause: time.Hour, MaxPause: time.Minute},
		{SyncEvery: time.Microsecond},
	} {
		if _, err := tasks.NewBreaker(testenv.Redis(t), cfg, zerolog.Nop()); err == nil {
			t.Errorf("NewBreaker(%+v) succeeded, want an error", cfg)
		}
	}
}
