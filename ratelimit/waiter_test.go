package ratelimit_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr/internal/testenv"
	"github.com/wxqr/wxqr/ratelimit"
)

// setup is what the shared tests configure; each implementation turns it
// into two Waiters that share one limit state, as two processes would.
type setup struct {
	limits  func(key string) []ratelimit.Limit
	maxWait time.Duration
}

type implementation struct {
	name string
	new  func(t *testing.T, s setup) (a, b ratelimit.Waiter)
}

// implementations are the Waiters the shared tests run against: the Redis
// Limiter as two instances on two connections to one database, and one
// Local used twice (a Local is one process by definition).
var implementations = []implementation{
	{"redis", func(t *testing.T, s setup) (a, b ratelimit.Waiter) {
		first, second := twoClients(t)
		cfg := ratelimit.Config{Limits: s.limits, MaxWait: s.maxWait}
		return ratelimit.NewLimiter(first, cfg), ratelimit.NewLimiter(second, cfg)
	}},
	{"local", func(t *testing.T, s setup) (a, b ratelimit.Waiter) {
		l := ratelimit.NewLocal(ratelimit.LocalConfig{Limits: s.limits, MaxWait: s.maxWait})
		return l, l
	}},
}

// twoClients returns two clients with their own connections to one test
// database, standing in for two processes.
func twoClients(t *testing.T) (first, second *redis.Client) {
	t.Helper()
	first = testenv.Redis(t)
	// Only the address and credentials: Options also hold state the first
	// client set up for itself.
	o := first.Options()
	second = redis.NewClient(&redis.Options{
		Addr: o.Addr, Username: o.Username, Password: o.Password, DB: o.DB, TLSConfig: o.TLSConfig,
	})
	t.Cleanup(func() { second.Close() })
	return first, second
}

// fixed returns a Limits func giving each key of m its limits.
func fixed(m map[string][]ratelimit.Limit) func(string) []ratelimit.Limit {
	return func(key string) []ratelimit.Limit { return m[key] }
}

// hourly is a limit that refills so slowly that no test sees a refill.
func hourly(burst int) ratelimit.Limit {
	return ratelimit.Limit{Rate: 1, Per: time.Hour, Burst: burst}
}

// asDelay returns err as a *DelayError, failing the test if it is not one.
func asDelay(t *testing.T, err error) *ratelimit.DelayError {
	t.Helper()
	var de *ratelimit.DelayError
	if !errors.As(err, &de) {
		t.Fatalf("err = %v, want a *DelayError", err)
	}
	if !errors.Is(err, ratelimit.ErrLimited) {
		t.Errorf("errors.Is(%v, ErrLimited) = false, want true", err)
	}
	return de
}

func TestWaitAdmitsExactlyBurstAcrossInstances(t *testing.T) {
	const burst, callers = 5, 20
	for _, impl := range implementations {
		t.Run(impl.name, func(t *testing.T) {
			a, b := impl.new(t, setup{
				limits:  fixed(map[string][]ratelimit.Limit{"k": {hourly(burst)}}),
				maxWait: -1, // report every delay, so admissions can be counted
			})
			var admitted, limited atomic.Int32
			var wg sync.WaitGroup
			for i := range callers {
				w := a
				if i%2 == 1 {
					w = b
				}
				wg.Go(func() {
					waited, err := w.Wait(t.Context(), "k")
					if waited != 0 {
						t.Errorf("waited = %s with a negative MaxWait, want 0", waited)
					}
					if err == nil {
						admitted.Add(1)
						return
					}
					de := asDelay(t, err)
					// The next slot frees an interval after the burst began.
					if de.RetryAfter <= 59*time.Minute || de.RetryAfter > time.Hour {
						t.Errorf("RetryAfter = %s, want within (59m, 1h]", de.RetryAfter)
					}
					if de.Key != "k" {
						t.Errorf("Key = %q, want %q", de.Key, "k")
					}
					limited.Add(1)
				})
			}
			wg.Wait()
			if got := admitted.Load(); got != burst {
				t.Errorf("admitted %d calls, want %d", got, burst)
			}
			if got := limited.Load(); got != callers-burst {
				t.Errorf("limited %d calls, want %d", got, callers-burst)
			}
		})
	}
}

func TestWaitReturnsDelayErrorBeyondWhatCallerAllows(t *testing.T) {
	tests := []struct {
		name    string
		maxWait time.Duration
		timeout time.Duration // 0: no deadline
	}{
		{name: "beyond MaxWait", maxWait: time.Second},
		{name: "beyond the context deadline", maxWait: 2 * time.Hour, timeout: 10 * time.Second},
		{name: "negative MaxWait never sleeps", maxWait: -1},
	}
	for _, impl := range implementations {
		for _, tt := range tests {
			t.Run(impl.name+"/"+tt.name, func(t *testing.T) {
				w, _ := impl.new(t, setup{
					limits:  fixed(map[string][]ratelimit.Limit{"k": {hourly(1)}}),
					maxWait: tt.maxWait,
				})
				if _, err := w.Wait(t.Context(), "k"); err != nil {
					t.Fatalf("first Wait: %v", err)
				}
				ctx := t.Context()
				if tt.timeout > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.timeout)
					defer cancel()
				}
				waited, err := w.Wait(ctx, "k")
				de := asDelay(t, err)
				if de.RetryAfter <= 59*time.Minute || de.RetryAfter > time.Hour {
					t.Errorf("RetryAfter = %s, want within (59m, 1h]", de.RetryAfter)
				}
				if waited != 0 {
					t.Errorf("waited = %s, want 0: a delay known to be too long must not be slept", waited)
				}
			})
		}
	}
}

func TestWaitMultipleLimitsAllOrNothing(t *testing.T) {
	// roomy allows 5 calls, tight 2; while tight refuses, roomy must keep
	// its slots, which shows once tight is lifted.
	roomy := ratelimit.Limit{Rate: 1, Per: time.Hour, Burst: 5}
	tight := ratelimit.Limit{Rate: 1, Per: 24 * time.Hour, Burst: 2}
	tests := []struct {
		name   string
		limits []ratelimit.Limit
	}{
		{name: "refusing limit last", limits: []ratelimit.Limit{roomy, tight}},
		{name: "refusing limit first", limits: []ratelimit.Limit{tight, roomy}},
	}
	for _, impl := range implementations {
		for _, tt := range tests {
			t.Run(impl.name+"/"+tt.name, func(t *testing.T) {
				var onlyRoomy atomic.Bool
				w, _ := impl.new(t, setup{
					limits: func(string) []ratelimit.Limit {
						if onlyRoomy.Load() {
							return []ratelimit.Limit{roomy}
						}
						return tt.limits
					},
					maxWait: -1,
				})
				if got := countAdmitted(t, w, 10); got != 2 {
					t.Fatalf("under both limits: admitted %d of 10, want 2", got)
				}
				_, err := w.Wait(t.Context(), "k")
				if de := asDelay(t, err); de.RetryAfter <= 23*time.Hour {
					t.Errorf("RetryAfter = %s, want tight's (over 23h)", de.RetryAfter)
				}
				onlyRoomy.Store(true)
				if got := countAdmitted(t, w, 10); got != 3 {
					t.Errorf("under roomy alone: admitted %d of 10, want 3 (5 minus the 2 admitted)", got)
				}
			})
		}
	}
}

// countAdmitted calls w.Wait n times on key "k" and counts the calls
// admitted; every other call must be refused with a *DelayError.
func countAdmitted(t *testing.T, w ratelimit.Waiter, n int) int {
	t.Helper()
	admitted := 0
	for range n {
		_, err := w.Wait(t.Context(), "k")
		if err == nil {
			admitted++
			continue
		}
		asDelay(t, err)
	}
	return admitted
}

func TestWaitWithoutLimitsGoesAtOnce(t *testing.T) {
	tests := []struct {
		name   string
		limits func(string) []ratelimit.Limit
	}{
		{name: "nil Limits", limits: nil},
		{name: "key without limits", limits: fixed(map[string][]ratelimit.Limit{"other": {hourly(1)}})},
	}
	for _, impl := range implementations {
		for _, tt := range tests {
			t.Run(impl.name+"/"+tt.name, func(t *testing.T) {
				w, _ := impl.new(t, setup{limits: tt.limits, maxWait: -1})
				for range 100 {
					waited, err := w.Wait(t.Context(), "k")
					if waited != 0 || err != nil {
						t.Fatalf("Wait = %s, %v; want 0, nil", waited, err)
					}
				}
			})
		}
	}
}

func TestWaitRejectsInvalidLimits(t *testing.T) {
	tests := []struct {
		name   string
		limits []ratelimit.Limit
	}{
		{name: "zero rate", limits: []ratelimit.Limit{{Rate: 0, Per: time.Second}}},
		{name: "zero period", limits: []ratelimit.Limit{{Rate: 1}}},
		{name: "negative burst", limits: []ratelimit.Limit{{Rate: 1, Per: time.Second, Burst: -1}}},
		{name: "interval below a nanosecond", limits: []ratelimit.Limit{{Rate: 10, Per: 5}}},
		{name: "two limits with one period", limits: []ratelimit.Limit{ratelimit.PerSecond(1), ratelimit.PerSecond(2)}},
	}
	for _, impl := range implementations {
		for _, tt := range tests {
			t.Run(impl.name+"/"+tt.name, func(t *testing.T) {
				w, _ := impl.new(t, setup{limits: fixed(map[string][]ratelimit.Limit{"k": tt.limits})})
				_, err := w.Wait(t.Context(), "k")
				if err == nil {
					t.Fatal("Wait succeeded, want an error")
				}
				if errors.Is(err, ratelimit.ErrLimited) {
					t.Errorf("err = %v, want a configuration error, not ErrLimited", err)
				}
				if !strings.Contains(err.Error(), `"k"`) {
					t.Errorf("err = %q, want it to name the key", err)
				}
			})
		}
	}
}

func TestLimitHelpers(t *testing.T) {
	tests := []struct {
		got, want ratelimit.Limit
		str       string
	}{
		{ratelimit.PerSecond(10), ratelimit.Limit{Rate: 10, Per: time.Second}, "10/1s (burst 1)"},
		{ratelimit.PerMinute(5000), ratelimit.Limit{Rate: 5000, Per: time.Minute}, "5000/1m0s (burst 1)"},
		{ratelimit.Limit{Rate: 2, Per: time.Hour, Burst: 7}, ratelimit.Limit{Rate: 2, Per: time.Hour, Burst: 7}, "2/1h0m0s (burst 7)"},
	}
	for _, tt := range tests {
		t.Run(tt.str, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %+v, want %+v", tt.got, tt.want)
			}
			if s := tt.got.String(); s != tt.str {
				t.Errorf("String() = %q, want %q", s, tt.str)
			}
		})
	}
}

func TestDelayError(t *testing.T) {
	err := error(&ratelimit.DelayError{Key: "app:create", RetryAfter: 1500 * time.Millisecond})
	if want := `ratelimit: "app:create" limited, retry after 1.5s`; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
	wrapped := errors.Join(errors.New("handler"), err)
	if !errors.Is(wrapped, ratelimit.ErrLimited) {
		t.Error("a wrapped *DelayError does not match ErrLimited")
	}
	if errors.Is(errors.New("other"), ratelimit.ErrLimited) {
		t.Error("an unrelated error matches ErrLimited")
	}
}
