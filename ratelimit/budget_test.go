package ratelimit_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	_ "time/tzdata" // the named zones below load on machines without a zone database

	"github.com/wxqr/wxqr/internal/fakeclock"
	"github.com/wxqr/wxqr/internal/testenv"
	"github.com/wxqr/wxqr/ratelimit"
)

// budgets returns a Limits func giving each key of m its daily limit.
func budgets(m map[string]int64) func(string) (int64, bool) {
	return func(key string) (int64, bool) {
		limit, ok := m[key]
		return limit, ok
	}
}

// concurrently runs f in n goroutines at once and counts those returning
// true.
func concurrently(n int, f func() bool) int {
	var count atomic.Int32
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if f() {
				count.Add(1)
			}
		})
	}
	wg.Wait()
	return int(count.Load())
}

func TestBudgetSpendIsAtomic(t *testing.T) {
	const goroutines = 50
	tests := []struct {
		name      string
		limit, n  int64
		wantSpent int
	}{
		{name: "one each", limit: 20, n: 1, wantSpent: 20},
		{name: "three each", limit: 20, n: 3, wantSpent: 6},
		{name: "more than the limit each", limit: 20, n: 21, wantSpent: 0},
		{name: "zero limit", limit: 0, n: 1, wantSpent: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := ratelimit.NewBudget(testenv.Redis(t), ratelimit.BudgetConfig{Limits: budgets(map[string]int64{"k": tt.limit})})
			spend := func() bool {
				ok, err := b.Spend(t.Context(), "k", tt.n)
				if err != nil {
					t.Errorf("Spend: %v", err)
				}
				return ok
			}
			if got := concurrently(goroutines, spend); got != tt.wantSpent {
				t.Errorf("%d spends of %d succeeded, want %d", got, tt.n, tt.wantSpent)
			}
			checkUsed(t, b, "k", int64(tt.wantSpent)*tt.n, tt.limit)

			// Refunds clamp at zero, however many race: the budget comes
			// back whole, and no more.
			refund := func() bool {
				if err := b.Refund(t.Context(), "k", tt.n); err != nil {
					t.Errorf("Refund: %v", err)
				}
				return true
			}
			concurrently(goroutines, refund)
			checkUsed(t, b, "k", 0, tt.limit)
			if got := concurrently(goroutines, spend); got != tt.wantSpent {
				t.Errorf("after refunds: %d spends succeeded, want %d", got, tt.wantSpent)
			}
		})
	}
}

func checkUsed(t *testing.T, b *ratelimit.Budget, key string, wantUsed, wantLimit int64) {
	t.Helper()
	used, limit, err := b.Used(t.Context(), key)
	if err != nil {
		t.Fatalf("Used: %v", err)
	}
	if used != wantUsed || limit != wantLimit {
		t.Errorf("Used = %d of %d, want %d of %d", used, limit, wantUsed, wantLimit)
	}
	remaining, err := b.Remaining(t.Context(), key)
	if err != nil {
		t.Fatalf("Remaining: %v", err)
	}
	if want := max(wantLimit-wantUsed, 0); remaining != want {
		t.Errorf("Remaining = %d, want %d", remaining, want)
	}
}

func TestBudgetRollsOverAtMidnightInShanghai(t *testing.T) {
	shanghai := ratelimit.DefaultLocation()
	// 23:59:59 in Shanghai is 15:59:59 UTC: the UTC date does not change at
	// the Shanghai midnight, so a budget keyed by UTC days would fail here.
	beforeMidnight := time.Date(2025, 3, 9, 23, 59, 59, 0, shanghai)
	rdb := testenv.Redis(t)
	clk := fakeclock.New(beforeMidnight)
	b := ratelimit.NewBudget(rdb, ratelimit.BudgetConfig{
		Limits: budgets(map[string]int64{"k": 2}),
		Now:    clk.Now,
	})
	spend := func(want bool) {
		t.Helper()
		ok, err := b.Spend(t.Context(), "k", 1)
		if err != nil || ok != want {
			t.Fatalf("Spend at %s = %t, %v; want %t, nil", clk.Now().In(shanghai), ok, err, want)
		}
	}

	spend(true)
	spend(true)
	spend(false)
	checkUsed(t, b, "k", 2, 2)
	// The day's counter outlives the day by an hour, no more.
	ttl, err := rdb.PTTL(t.Context(), "wxqr:budget:k:2025-03-09").Result()
	if err != nil {
		t.Fatalf("PTTL: %v", err)
	}
	if want := time.Hour + time.Second; ttl <= time.Hour-time.Minute || ttl > want {
		t.Errorf("counter's TTL = %s, want within (59m, %s]", ttl, want)
	}

	clk.Set(beforeMidnight.Add(time.Second)) // 00:00:00 on the 10th
	checkUsed(t, b, "k", 0, 2)
	spend(true)
	spend(true)
	spend(false)
	if n, err := rdb.Exists(t.Context(), "wxqr:budget:k:2025-03-10").Result(); err != nil || n != 1 {
		t.Errorf("EXISTS of the new day's counter = %d, %v; want 1", n, err)
	}

	clk.Set(beforeMidnight) // a process whose clock lags still sees its day
	checkUsed(t, b, "k", 2, 2)
}

func TestBudgetLocation(t *testing.T) {
	// At 01:00 UTC on the 10th it is still the 9th in New York.
	newYork, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	rdb := testenv.Redis(t)
	b := ratelimit.NewBudget(rdb, ratelimit.BudgetConfig{
		KeyPrefix: "custom:",
		Location:  newYork,
		Limits:    budgets(map[string]int64{"k": 5}),
		Now:       func() time.Time { return time.Date(2025, 3, 10, 1, 0, 0, 0, time.UTC) },
	})
	if ok, err := b.Spend(t.Context(), "k", 1); err != nil || !ok {
		t.Fatalf("Spend = %t, %v; want true, nil", ok, err)
	}
	if n, err := rdb.Exists(t.Context(), "custom:k:2025-03-09").Result(); err != nil || n != 1 {
		t.Errorf("EXISTS custom:k:2025-03-09 = %d, %v; want 1", n, err)
	}
}

func TestBudgetWithoutLimit(t *testing.T) {
	rdb := testenv.Redis(t)
	b := ratelimit.NewBudget(rdb, ratelimit.BudgetConfig{Limits: budgets(map[string]int64{"other": 1})})
	for range 3 {
		if ok, err := b.Spend(t.Context(), "k", 1); err != nil || !ok {
			t.Fatalf("Spend = %t, %v; want true, nil", ok, err)
		}
	}
	if err := b.Refund(t.Context(), "k", 1); err != nil {
		t.Errorf("Refund: %v", err)
	}
	if _, _, err := b.Used(t.Context(), "k"); !errors.Is(err, ratelimit.ErrNoBudget) {
		t.Errorf("Used: %v, want ErrNoBudget", err)
	}
	if _, err := b.Remaining(t.Context(), "k"); !errors.Is(err, ratelimit.ErrNoBudget) {
		t.Errorf("Remaining: %v, want ErrNoBudget", err)
	}
	if n, err := rdb.DBSize(t.Context()).Result(); err != nil || n != 0 {
		t.Errorf("DBSIZE = %d, %v; want 0: a key without a budget counts nothing", n, err)
	}
}

func TestBudgetRejectsInvalidInput(t *testing.T) {
	b := ratelimit.NewBudget(testenv.Redis(t), ratelimit.BudgetConfig{
		Limits: budgets(map[string]int64{"k": 5, "negative": -1}),
	})
	tests := []struct {
		name string
		call func() error
	}{
		{"spend zero", func() error { _, err := b.Spend(t.Context(), "k", 0); return err }},
		{"spend negative", func() error { _, err := b.Spend(t.Context(), "k", -2); return err }},
		{"refund zero", func() error { return b.Refund(t.Context(), "k", 0) }},
		{"negative limit", func() error { _, err := b.Spend(t.Context(), "negative", 1); return err }},
		{"used of a negative limit", func() error { _, _, err := b.Used(t.Context(), "negative"); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); err == nil {
				t.Error("succeeded, want an error")
			}
		})
	}
}

func TestNextReset(t *testing.T) {
	shanghai := ratelimit.DefaultLocation()
	newYork, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		t    time.Time
		loc  *time.Location
		want time.Time
	}{
		{
			name: "just before midnight",
			t:    time.Date(2025, 3, 9, 23, 59, 59, 999_999_999, shanghai),
			loc:  shanghai,
			want: time.Date(2025, 3, 10, 0, 0, 0, 0, shanghai),
		},
		{
			name: "exactly midnight is the next day's",
			t:    time.Date(2025, 3, 10, 0, 0, 0, 0, shanghai),
			loc:  shanghai,
			want: time.Date(2025, 3, 11, 0, 0, 0, 0, shanghai),
		},
		{
			name: "just after midnight",
			t:    time.Date(2025, 3, 10, 0, 0, 0, 1, shanghai),
			loc:  shanghai,
			want: time.Date(2025, 3, 11, 0, 0, 0, 0, shanghai),
		},
		{
			name: "UTC input before the Shanghai midnight",
			t:    time.Date(2025, 3, 9, 15, 59, 59, 0, time.UTC),
			loc:  shanghai,
			want: time.Date(2025, 3, 10, 0, 0, 0, 0, shanghai),
		},
		{
			name: "UTC input at the Shanghai midnight",
			t:    time.Date(2025, 3, 9, 16, 0, 0, 0, time.UTC),
			loc:  shanghai,
			want: time.Date(2025, 3, 11, 0, 0, 0, 0, shanghai),
		},
		{
			name: "UTC input on the next UTC day",
			t:    time.Date(2025, 3, 10, 1, 0, 0, 0, time.UTC),
			loc:  shanghai,
			want: time.Date(2025, 3, 11, 0, 0, 0, 0, shanghai),
		},
		{
			name: "end of year",
			t:    time.Date(2025, 12, 31, 12, 0, 0, 0, shanghai),
			loc:  shanghai,
			want: time.Date(2026, 1, 1, 0, 0, 0, 0, shanghai),
		},
		{
			name: "leap day",
			t:    time.Date(2028, 2, 28, 8, 0, 0, 0, shanghai),
			loc:  shanghai,
			want: time.Date(2028, 2, 29, 0, 0, 0, 0, shanghai),
		},
		{
			name: "in UTC",
			t:    time.Date(2025, 3, 9, 23, 0, 0, 0, time.UTC),
			loc:  time.UTC,
			want: time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC),
		},
		{
			name: "on a 23-hour day (daylight saving starts at 02:00)",
			t:    time.Date(2025, 3, 9, 1, 0, 0, 0, newYork),
			loc:  newYork,
			want: time.Date(2025, 3, 10, 0, 0, 0, 0, newYork),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ratelimit.NextReset(tt.t, tt.loc)
			if !got.Equal(tt.want) {
				t.Errorf("NextReset(%s) = %s, want %s", tt.t, got, tt.want)
			}
			if got.Location() != tt.loc {
				t.Errorf("NextReset(%s) is in %s, want %s", tt.t, got.Location(), tt.loc)
			}
		})
	}
}

func TestDefaultLocation(t *testing.T) {
	loc := ratelimit.DefaultLocation()
	if loc.String() != "Asia/Shanghai" {
		t.Errorf("DefaultLocation() = %s, want Asia/Shanghai", loc)
	}
	if _, offset := time.Date(2025, 7, 1, 0, 0, 0, 0, loc).Zone(); offset != 8*3600 {
		t.Errorf("offset = %ds, want +8h", offset)
	}
}

// Without a zone database (a library user whose main does not import
// time/tzdata, on a machine without one) the default zone is UTC+8 still, so
// budgets reset at the same instants.
func TestDefaultLocationWithoutZoneDatabase(t *testing.T) {
	noDatabase := func(name string) (*time.Location, error) {
		return nil, errors.New("unknown time zone " + name)
	}
	loc := ratelimit.LoadShanghai(noDatabase)
	for _, day := range []time.Time{
		time.Date(1992, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2031, 12, 31, 0, 0, 0, 0, time.UTC),
	} {
		got := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, loc)
		want := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, ratelimit.DefaultLocation())
		if !got.Equal(want) {
			t.Errorf("midnight of %s without a zone database is %s, want %s", day.Format(time.DateOnly), got.UTC(), want.UTC())
		}
	}
}
