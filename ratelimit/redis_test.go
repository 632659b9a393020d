package ratelimit_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/wxqr/wxqr/internal/testenv"
	"github.com/wxqr/wxqr/ratelimit"
)

func TestLimiterPacesCallsAcrossInstances(t *testing.T) {
	// 12 calls at 20/s with a burst of 1, through two limiters on two
	// connections. GCRA admits them at least 50ms apart by the Redis clock,
	// and the span from before the first call to after the last covers
	// every admission, so it cannot be shorter than 11 intervals however
	// the machine is loaded. (How fast calls go is measured by
	// BenchmarkWait, not asserted here.)
	const calls, goroutines = 12, 4
	limit := ratelimit.PerSecond(20)
	first, second := twoClients(t)
	cfg := ratelimit.Config{Limits: fixed(map[string][]ratelimit.Limit{"k": {limit}})}
	limiters := []*ratelimit.Limiter{ratelimit.NewLimiter(first, cfg), ratelimit.NewLimiter(second, cfg)}

	var waited [goroutines]time.Duration
	start := time.Now()
	var wg sync.WaitGroup
	for g := range goroutines {
		l := limiters[g%len(limiters)]
		wg.Go(func() {
			for range calls / goroutines {
				d, err := l.Wait(t.Context(), "k")
				if err != nil {
					t.Errorf("Wait: %v", err)
					return
				}
				waited[g] += d
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)

	if want := (calls - 1) * (time.Second / 20); elapsed < want {
		t.Errorf("%d calls took %s, want at least %s", calls, elapsed, want)
	}
	var total time.Duration
	for _, d := range waited {
		total += d
	}
	// Only one call can find the bucket full; the others must have slept.
	if total == 0 {
		t.Error("no Wait reported sleeping, want the paced calls to report their delays")
	}
}

func TestLimiterWaitReturnsPromptlyWhenContextEnds(t *testing.T) {
	rdb := testenv.Redis(t)
	l := ratelimit.NewLimiter(rdb, ratelimit.Config{
		Limits:  fixed(map[string][]ratelimit.Limit{"k": {hourly(1)}}),
		MaxWait: 2 * time.Hour,
	})
	sleeping := make(chan time.Duration, 1)
	ratelimit.SetSleep(l, func(ctx context.Context, d time.Duration) error {
		sleeping <- d
		return ratelimit.Sleep(ctx, d)
	})
	if _, err := l.Wait(t.Context(), "k"); err != nil {
		t.Fatalf("first Wait: %v", err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	type result struct {
		waited time.Duration
		err    error
	}
	done := make(chan result, 1)
	go func() {
		waited, err := l.Wait(ctx, "k")
		done <- result{waited, err}
	}()
	if d := <-sleeping; d <= 59*time.Minute {
		t.Errorf("Wait sleeps %s, want nearly an hour", d)
	}
	cancel()
	select {
	case r := <-done:
		if !errors.Is(r.err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", r.err)
		}
		if r.waited >= time.Hour {
			t.Errorf("waited = %s, want the time until the cancel", r.waited)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Wait did not return within 30s of the cancel (it was asked to sleep an hour)")
	}
}

func TestLimiterKeyPrefix(t *testing.T) {
	rdb := testenv.Redis(t)
	limits := fixed(map[string][]ratelimit.Limit{"app1:create": {hourly(1), ratelimit.PerSecond(10)}})
	byDefault := ratelimit.NewLimiter(rdb, ratelimit.Config{Limits: limits, MaxWait: -1})
	other := ratelimit.NewLimiter(rdb, ratelimit.Config{Limits: limits, MaxWait: -1, KeyPrefix: "other:"})

	if _, err := byDefault.Wait(t.Context(), "app1:create"); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	for _, key := range []string{"rate:wxqr:rl:app1:create:1h0m0s", "rate:wxqr:rl:app1:create:1s"} {
		if n, err := rdb.Exists(t.Context(), key).Result(); err != nil || n != 1 {
			t.Errorf("EXISTS %s = %d, %v; want 1", key, n, err)
		}
	}
	// The hourly slot is spent under the default prefix, not under another.
	if _, err := other.Wait(t.Context(), "app1:create"); err != nil {
		t.Errorf("Wait under another prefix: %v, want nil", err)
	}
	if _, err := byDefault.Wait(t.Context(), "app1:create"); !errors.Is(err, ratelimit.ErrLimited) {
		t.Errorf("second Wait under the default prefix: %v, want ErrLimited", err)
	}
}

func TestLimiterWithoutLimitsLeavesRedisAlone(t *testing.T) {
	rdb := testenv.Redis(t)
	l := ratelimit.NewLimiter(rdb, ratelimit.Config{Limits: fixed(nil)})
	if _, err := l.Wait(t.Context(), "k"); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if n, err := rdb.DBSize(t.Context()).Result(); err != nil || n != 0 {
		t.Errorf("DBSIZE = %d, %v; want 0", n, err)
	}
}

func TestLimiterReportsRedisErrors(t *testing.T) {
	rdb := testenv.Redis(t)
	l := ratelimit.NewLimiter(rdb, ratelimit.Config{Limits: fixed(map[string][]ratelimit.Limit{"k": {hourly(1)}})})
	rdb.Close()
	_, err := l.Wait(t.Context(), "k")
	if err == nil || errors.Is(err, ratelimit.ErrLimited) {
		t.Errorf("Wait on a closed client: %v, want a Redis error", err)
	}
}

// BenchmarkWait measures what a Wait costs when the limit has room: one
// Redis round trip per limit (plus one peek per extra limit), or a mutex
// for Local.
func BenchmarkWait(b *testing.B) {
	roomy := ratelimit.Limit{Rate: 1_000_000_000, Per: time.Second, Burst: 1_000_000}
	perMinute := ratelimit.Limit{Rate: 1_000_000_000, Per: time.Minute, Burst: 1_000_000}
	benchmarks := []struct {
		name   string
		limits []ratelimit.Limit
		local  bool
	}{
		{name: "redis/one-limit", limits: []ratelimit.Limit{roomy}},
		{name: "redis/two-limits", limits: []ratelimit.Limit{roomy, perMinute}},
		{name: "local/one-limit", limits: []ratelimit.Limit{roomy}, local: true},
		{name: "local/two-limits", limits: []ratelimit.Limit{roomy, perMinute}, local: true},
	}
	for _, bm := range benchmarks {
		b.Run(bm.name, func(b *testing.B) {
			limits := fixed(map[string][]ratelimit.Limit{"k": bm.limits})
			var w ratelimit.Waiter
			if bm.local {
				w = ratelimit.NewLocal(ratelimit.LocalConfig{Limits: limits})
			} else {
				w = ratelimit.NewLimiter(testenv.Redis(b), ratelimit.Config{Limits: limits})
			}
			for b.Loop() {
				if _, err := w.Wait(b.Context(), "k"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
