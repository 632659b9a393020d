package fleetclock_test

import (
	"testing"
	"time"

	"github.com/wxqr/wxqr/internal/fakeclock"
	"github.com/wxqr/wxqr/internal/fleetclock"
	"github.com/wxqr/wxqr/internal/testenv"
)

// slack covers the round trips of the test's own TIME calls.
const slack = 50 * time.Millisecond

func TestNowIsRedisTime(t *testing.T) {
	ctx := t.Context()
	rdb := testenv.Redis(t)
	clock, err := fleetclock.New(ctx, rdb, fleetclock.Config{})
	if err != nil {
		t.Fatal(err)
	}
	before, err := rdb.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	now := clock.Now()
	after, err := rdb.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	if now.Before(before.Add(-slack)) || now.After(after.Add(slack)) {
		t.Errorf("Now = %s, want between Redis's %s and %s", now, before, after)
	}
}

// TestNowIgnoresTheLocalWallClock runs the clock on a local clock set years
// off: Now follows Redis, carried forward by the local clock's elapsed time
// until the next refresh.
func TestNowIgnoresTheLocalWallClock(t *testing.T) {
	ctx := t.Context()
	rdb := testenv.Redis(t)
	local := fakeclock.New(time.Date(1999, 12, 31, 23, 0, 0, 0, time.UTC))
	clock, err := fleetclock.New(ctx, rdb, fleetclock.Config{Local: local.Now, Refresh: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	redisNow := func() time.Time {
		t.Helper()
		tm, err := rdb.Time(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	near := func(got, want time.Time) bool { return got.Sub(want).Abs() < slack }

	if now, want := clock.Now(), redisNow(); !near(now, want) {
		t.Errorf("Now = %s, want Redis's %s", now, want)
	}
	// Before the refresh, the local clock's elapsed time carries it forward.
	local.Advance(30 * time.Second)
	if now, want := clock.Now(), redisNow().Add(30*time.Second); !near(now, want) {
		t.Errorf("Now 30 s later on the local clock = %s, want %s", now, want)
	}
	// At the refresh it reads Redis again: the local clock's 90 s were not
	// Redis's.
	local.Advance(60 * time.Second)
	if now, want := clock.Now(), redisNow(); !near(now, want) {
		t.Errorf("Now after the refresh = %s, want Redis's %s", now, want)
	}
}

// TestNowCarriesOnWithoutRedis: a refresh that fails keeps the last reading.
func TestNowCarriesOnWithoutRedis(t *testing.T) {
	rdb := testenv.Redis(t)
	local := fakeclock.New(time.Date(1999, 12, 31, 23, 0, 0, 0, time.UTC))
	clock, err := fleetclock.New(t.Context(), rdb, fleetclock.Config{Local: local.Now, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	start := clock.Now()
	if err := rdb.Close(); err != nil {
		t.Fatal(err)
	}
	local.Advance(time.Hour)
	if got, want := clock.Now(), start.Add(time.Hour); !got.Equal(want) {
		t.Errorf("Now without Redis = %s, want the last reading carried forward: %s", got, want)
	}
}
