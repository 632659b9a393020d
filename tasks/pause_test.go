package tasks_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/internal/testenv"
	"github.com/wxqr/wxqr/tasks"
)

func newPauses(t *testing.T) (*tasks.Pauses, *asynq.Inspector, *redis.Client) {
	t.Helper()
	opts := testenv.RedisOptions(t)
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	inspector := asynq.NewInspector(asynq.RedisClientOpt{Addr: opts.Addr, DB: opts.DB})
	t.Cleanup(func() { inspector.Close() })
	// A queue exists in asynq once it has held a task.
	client := asynq.NewClient(asynq.RedisClientOpt{Addr: opts.Addr, DB: opts.DB})
	t.Cleanup(func() { client.Close() })
	for _, q := range []string{"wxa.oa_perm", "wxa.oa_temp"} {
		if _, err := client.Enqueue(asynq.NewTask("x", nil), asynq.Queue(q)); err != nil {
			t.Fatal(err)
		}
	}
	return tasks.NewPauses(rdb, inspector), inspector, rdb
}

func TestPauses(t *testing.T) {
	ctx := t.Context()
	p, inspector, rdb := newPauses(t)
	at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	daily := tasks.PauseState{Queue: "wxa.oa_perm", AppID: "wxa", Class: wxqr.ClassOAPerm, Errcode: 45009,
		Reason: "daily quota", PausedAt: at, ResumeAt: at.Add(6 * time.Hour)}
	total := tasks.PauseState{Queue: "wxa.oa_perm", AppID: "wxa", Class: wxqr.ClassOAPerm, Errcode: 45029,
		Reason: "lifetime quota", PausedAt: at}

	first, err := p.Pause(ctx, daily)
	if err != nil || !first {
		t.Fatalf("Pause = %v, %v; want the first pause", first, err)
	}
	// The pause flag is asynq's internal key; Pauses reads it directly.
	if n, _ := rdb.Exists(ctx, "asynq:{wxa.oa_perm}:paused").Result(); n != 1 {
		t.Fatal(`asynq's pause flag is no longer "asynq:{queue}:paused": update Pauses.asynqRunning`)
	}
	mustPause := func(s tasks.PauseState) bool {
		t.Helper()
		first, err := p.Pause(ctx, s)
		if err != nil {
			t.Fatalf("Pause(%d): %v", s.Errcode, err)
		}
		return first
	}
	if mustPause(daily) {
		t.Error("a second identical Pause reported itself first")
	}
	// A lifetime pause outranks a daily one (it must not resume at midnight)...
	if !mustPause(total) {
		t.Error("a 45029 pause over a 45009 one was not recorded")
	}
	// ...and is never downgraded by a daily one from a task still under way.
	if mustPause(daily) {
		t.Error("a 45009 pause replaced a 45029 one")
	}
	s, err := p.Paused(ctx, "wxa.oa_perm")
	if err != nil || s == nil || s.Errcode != 45029 || !s.ResumeAt.IsZero() {
		t.Fatalf("Paused = %+v, %v; want the 45029 pause, for good", s, err)
	}
	if resumed, _ := p.ResumeDue(ctx, at.Add(24*time.Hour)); len(resumed) != 0 {
		t.Errorf("ResumeDue resumed %v, want nothing: a 45029 pause waits for an operator", resumed)
	}

	// Resumed in the web UI: the state is stale, ignored, and overwritten by
	// the next pause.
	if err := inspector.UnpauseQueue("wxa.oa_perm"); err != nil {
		t.Fatal(err)
	}
	if s, _ := p.Paused(ctx, "wxa.oa_perm"); s != nil {
		t.Errorf("Paused after a resume in the web UI = %+v, want nil", s)
	}
	if list, _ := p.List(ctx); len(list) != 0 {
		t.Errorf("List after a resume in the web UI = %+v, want none", list)
	}
	if !mustPause(daily) {
		t.Error("a pause after a web UI resume was not recorded as first")
	}
	if resumed, err := p.ResumeDue(ctx, daily.ResumeAt); err != nil || len(resumed) != 1 {
		t.Fatalf("ResumeDue at the reset = %v, %v; want the daily pause resumed", resumed, err)
	}
	info, err := inspector.GetQueueInfo("wxa.oa_perm")
	if err != nil || info.Paused {
		t.Errorf("queue paused = %v (%v) after ResumeDue, want running", info.Paused, err)
	}

	// Paused by hand in the web UI: a daily pause must not take it over (it
	// would resume the queue at the reset), a pause for good may.
	if err := inspector.PauseQueue("wxa.oa_temp"); err != nil {
		t.Fatal(err)
	}
	byHand := daily
	byHand.Queue, byHand.Class = "wxa.oa_temp", wxqr.ClassOATemp
	if mustPause(byHand) {
		t.Error("a daily pause was recorded over a pause by hand")
	}
	if resumed, _ := p.ResumeDue(ctx, daily.ResumeAt.Add(time.Hour)); len(resumed) != 0 {
		t.Errorf("ResumeDue resumed %v, a queue paused by hand", resumed)
	}
	forGood := total
	forGood.Queue, forGood.Class = "wxa.oa_temp", wxqr.ClassOATemp
	if !mustPause(forGood) {
		t.Error("a pause for good over a pause by hand was not recorded")
	}
}

// TestPausesConcurrently races pauses of both kinds on one queue: exactly one
// is reported first... or two, when a pause for good takes over a daily one;
// in every order the pause for good is what remains.
func TestPausesConcurrently(t *testing.T) {
	ctx := t.Context()
	p, _, _ := newPauses(t)
	at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	states := []tasks.PauseState{
		{Queue: "wxa.oa_perm", Errcode: 45009, Reason: "daily", PausedAt: at, ResumeAt: at.Add(time.Hour)},
		{Queue: "wxa.oa_perm", Errcode: 45029, Reason: "total", PausedAt: at},
	}
	var firsts atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 20 {
		wg.Go(func() {
			<-start
			first, err := p.Pause(ctx, states[i%2])
			if err != nil {
				t.Error(err)
			}
			if first {
				firsts.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	if n := firsts.Load(); n < 1 || n > 2 {
		t.Errorf("%d pauses reported first, want 1 or 2", n)
	}
	s, err := p.Paused(ctx, "wxa.oa_perm")
	if err != nil || s == nil || s.Errcode != 45029 {
		t.Errorf("Paused = %+v, %v; want the pause for good", s, err)
	}
}
