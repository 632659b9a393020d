package tasks_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/tasks"
)

// fakeChecker is a storage whose check fails while err is set.
type fakeChecker struct {
	mu     sync.Mutex
	err    error
	checks int
}

func (c *fakeChecker) Check(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.checks++
	return c.err
}

func (c *fakeChecker) checkCalls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.checks
}

func (c *fakeChecker) set(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.err = err
}

func TestStorageHealthCountsPutsInARow(t *testing.T) {
	ctx := t.Context()
	_, _, rdb := newPauses(t)
	var staged int64
	h, err := tasks.NewStorageHealth(rdb, func(context.Context) (int64, error) { return staged, nil },
		tasks.StorageHealthConfig{Failures: 3, MaxStagedBytes: 1000})
	if err != nil {
		t.Fatal(err)
	}
	put := func(failed bool) bool {
		t.Helper()
		down, err := h.RecordPut(ctx, failed)
		if err != nil {
			t.Fatal(err)
		}
		return down
	}
	blocked := func() (string, bool) {
		t.Helper()
		why, down, err := h.Blocked(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return why, down
	}
	if put(true) || put(true) {
		t.Error("down after 2 failed puts, want 3 in a row")
	}
	// A success ends the run.
	put(false)
	if put(true) || put(true) {
		t.Error("down after a success and 2 failed puts, want 3 in a row")
	}
	if why, _ := blocked(); why != "" {
		t.Errorf("Blocked = %q with 2 failures in a row, want nothing", why)
	}
	if !put(true) {
		t.Error("not down after 3 failed puts in a row")
	}
	if why, down := blocked(); why == "" || !down {
		t.Errorf("Blocked = %q, %v after 3 failed puts, want storage down", why, down)
	}
	put(false)

	// Past the cap of staged bytes, codes wait, storage is not down.
	staged = 1000
	if why, down := blocked(); why == "" || down {
		t.Errorf("Blocked = %q, %v at the cap of staged bytes, want a wait, not storage down", why, down)
	}
	staged = 999
	if why, _ := blocked(); why != "" {
		t.Errorf("Blocked = %q under the cap, want nothing", why)
	}
}

// TestStorageHealthSuccessEndsTheKnownRun checks, with two workers' watches
// on one Redis, that a success ends the run of failed puts that its worker
// knows of, and sends nothing to Redis when it knows of none.
func TestStorageHealthSuccessEndsTheKnownRun(t *testing.T) {
	ctx := t.Context()
	_, _, rdb := newPauses(t)
	newHealth := func() *tasks.StorageHealth {
		t.Helper()
		h, err := tasks.NewStorageHealth(rdb, func(context.Context) (int64, error) { return 0, nil },
			tasks.StorageHealthConfig{Failures: 3})
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	one, two := newHealth(), newHealth()
	put := func(h *tasks.StorageHealth, failed bool) bool {
		t.Helper()
		down, err := h.RecordPut(ctx, failed)
		if err != nil {
			t.Fatal(err)
		}
		return down
	}
	blocked := func(h *tasks.StorageHealth) bool {
		t.Helper()
		_, down, err := h.Blocked(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return down
	}

	// Two's success comes before it has seen one's failures: it ends no run.
	put(one, true)
	put(one, true)
	put(two, false)
	if !put(one, true) {
		t.Error("not down after 3 failed puts in a row and a success that knew of none")
	}
	// Two sees the run before its next code: its success then ends it.
	if !blocked(two) {
		t.Fatal("Blocked: storage not down after 3 failed puts in a row")
	}
	put(two, false)
	if blocked(one) {
		t.Error("Blocked: storage down after a success, want the run ended")
	}
	// One's own failure is known to it: its next success ends the run.
	put(one, true)
	put(one, false)
	if put(two, true) || put(two, true) {
		t.Error("down after a success and 2 failed puts, want 3 in a row")
	}
}

// TestStorageHealthTrustsAnAllClear checks that Blocked reads Redis again
// once SyncEvery is over or a put of its worker failed, and reads a block
// again each time.
func TestStorageHealthTrustsAnAllClear(t *testing.T) {
	ctx := t.Context()
	_, _, rdb := newPauses(t)
	var staged atomic.Int64
	newHealth := func(every time.Duration) *tasks.StorageHealth {
		t.Helper()
		h, err := tasks.NewStorageHealth(rdb, func(context.Context) (int64, error) { return staged.Load(), nil },
			tasks.StorageHealthConfig{Failures: 2, MaxStagedBytes: 1000, SyncEvery: every})
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	blocked := func(h *tasks.StorageHealth) (string, bool) {
		t.Helper()
		why, down, err := h.Blocked(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return why, down
	}
	slow, quick, other := newHealth(time.Hour), newHealth(20*time.Millisecond), newHealth(time.Hour)
	if why, _ := blocked(slow); why != "" {
		t.Fatalf("Blocked = %q, want an all-clear", why)
	}
	blocked(quick)

	// The cap reached: slow trusts its all-clear, quick reads again once
	// its SyncEvery is over.
	staged.Store(1000)
	if why, _ := blocked(slow); why != "" {
		t.Errorf("Blocked within SyncEvery of an all-clear = %q, want the all-clear", why)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		why, down := blocked(quick)
		if why != "" && !down {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Blocked never read the staged bytes at the cap")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// A block is read each time: under the cap again, codes go at once.
	staged.Store(0)
	if why, _ := blocked(quick); why != "" {
		t.Errorf("Blocked under the cap = %q, want an all-clear", why)
	}

	// Storage down by another worker's puts: slow hears of it once a put
	// of its own fails.
	for range 2 {
		if _, err := other.RecordPut(ctx, true); err != nil {
			t.Fatal(err)
		}
	}
	if why, _ := blocked(slow); why != "" {
		t.Errorf("Blocked within SyncEvery of an all-clear = %q, want the all-clear", why)
	}
	if down, err := slow.RecordPut(ctx, true); err != nil || !down {
		t.Fatalf("RecordPut = %v, %v; want storage down", down, err)
	}
	if why, down := blocked(slow); why == "" || !down {
		t.Errorf("Blocked after a failed put = %q, %v; want storage down", why, down)
	}
}

// TestStorageProbe checks that a failing probe pauses the worker's queues,
// keeps them paused while it fails, and resumes them (only those it paused)
// once storage answers.
func TestStorageProbe(t *testing.T) {
	ctx := t.Context()
	p, inspector, rdb := newPauses(t)
	h, err := tasks.NewStorageHealth(rdb, func(context.Context) (int64, error) { return 0, nil },
		tasks.StorageHealthConfig{Failures: 1, ProbeInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	store := &fakeChecker{}
	probe := &tasks.StorageProbe{Store: store, Health: h, Pauses: p, Logger: zerolog.Nop(), Queues: []tasks.ServedQueue{
		{AppID: "wxa", Class: wxqr.ClassOAPerm}, {AppID: "wxa", Class: wxqr.ClassOATemp}, {AppID: "wxb", Class: wxqr.ClassOAPerm},
	}}
	at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	// wxa.oa_temp is paused by hand, wxb.oa_perm for its daily quota.
	if err := inspector.PauseQueue("wxa.oa_temp"); err != nil {
		t.Fatal(err)
	}
	daily := tasks.PauseState{Queue: "wxb.oa_perm", AppID: "wxb", Class: wxqr.ClassOAPerm, Errcode: 45009,
		Reason: "daily quota", PausedAt: at, ResumeAt: at.Add(10 * time.Hour)}
	if _, err := p.Pause(ctx, daily); err != nil {
		t.Fatal(err)
	}
	// With no doubt about storage, the probe does not touch it.
	store.set(errors.New("connection refused"))
	if err := probe.Probe(ctx, at); err != nil || store.checkCalls() != 0 {
		t.Fatalf("Probe with no failed put = %v after %d checks, want nil without a check", err, store.checkCalls())
	}
	if s, _ := p.Paused(ctx, "wxa.oa_perm"); s != nil {
		t.Fatalf("Paused with no failed put = %+v, want running", s)
	}
	if _, err := h.RecordPut(ctx, true); err != nil {
		t.Fatal(err)
	}

	for i, now := range []time.Time{at, at.Add(2 * time.Second)} {
		if err := probe.Probe(ctx, now); err == nil {
			t.Fatal("Probe = nil, want the check's error")
		}
		s, err := p.Paused(ctx, "wxa.oa_perm")
		if err != nil || s == nil {
			t.Fatalf("probe %d: Paused = %+v, %v; want paused", i, s, err)
		}
		if s.Reason != tasks.ReasonStorage || !s.PausedAt.Equal(at) || !s.ResumeAt.Equal(now.Add(3*time.Second)) {
			t.Errorf("probe %d: pause = %+v, want reason storage since %s until %s", i, s, at, now.Add(3*time.Second))
		}
	}
	if s, _ := p.Paused(ctx, "wxb.oa_perm"); s == nil || s.Reason != daily.Reason || !s.ResumeAt.Equal(daily.ResumeAt) {
		t.Errorf("daily pause = %+v, want it untouched", s)
	}
	if s, _ := p.Paused(ctx, "wxa.oa_temp"); s != nil {
		t.Errorf("the pause by hand got a state %+v, want none", s)
	}

	store.set(nil)
	if err := probe.Probe(ctx, at.Add(4*time.Second)); err != nil {
		t.Fatalf("Probe = %v, want nil", err)
	}
	if s, err := p.Paused(ctx, "wxa.oa_perm"); s != nil || err != nil {
		t.Errorf("Paused after storage came back = %+v, %v; want running", s, err)
	}
	info, err := inspector.GetQueueInfo("wxa.oa_perm")
	if err != nil || info.Paused {
		t.Errorf("asynq says paused = %v (%v), want running", info.Paused, err)
	}
	if info, err := inspector.GetQueueInfo("wxa.oa_temp"); err != nil || !info.Paused {
		t.Errorf("the queue paused by hand runs (%v), want it still paused", err)
	}
	if s, _ := p.Paused(ctx, "wxb.oa_perm"); s == nil || s.Reason != daily.Reason {
		t.Errorf("daily pause = %+v after storage came back, want it kept", s)
	}
	if why, _, err := h.Blocked(ctx); why != "" || err != nil {
		t.Errorf("Blocked = %q, %v after storage came back, want the failed puts forgotten", why, err)
	}
	// No doubt left: no more checks.
	checks := store.checkCalls()
	if err := probe.Probe(ctx, at.Add(5*time.Second)); err != nil || store.checkCalls() != checks {
		t.Errorf("Probe once storage is back = %v, %d more checks; want none", err, store.checkCalls()-checks)
	}
}

func TestHoldRefusesOtherReasons(t *testing.T) {
	p, _, _ := newPauses(t)
	at := time.Now()
	for _, s := range []tasks.PauseState{
		{Queue: "wxa.oa_perm", Reason: "daily quota", PausedAt: at, ResumeAt: at.Add(time.Hour)},
		{Queue: "wxa.oa_perm", Reason: tasks.ReasonStorage, PausedAt: at},
	} {
		if _, err := p.Hold(t.Context(), s); err == nil {
			t.Errorf("Hold(%+v) succeeded, want an error", s)
		}
	}
}
