package tasks_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/internal/asynqx"
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
	// The pause flag is asynq's internal key (asynqx pins it to asynq's).
	if n, _ := rdb.Exists(ctx, asynqx.PausedKey("wxa.oa_perm")).Result(); n != 1 {
		t.Fatal("Pause did not write asynq's pause flag")
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

// TestPauseByHandOutlivesAnOldState is the sequence an operator follows: a
// daily pause is resumed early (with Resume, or straight through asynq),
// then the queue is paused by hand. When the daily pause's time comes, the
// queue stays paused: only the operator ends their pause.
func TestPauseByHandOutlivesAnOldState(t *testing.T) {
	at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	daily := tasks.PauseState{Queue: "wxa.oa_temp", AppID: "wxa", Class: wxqr.ClassOATemp, Errcode: 45009,
		Reason: "daily quota", PausedAt: at, ResumeAt: at.Add(14 * time.Hour)}
	for _, tc := range []struct {
		name   string
		resume func(*tasks.Pauses, *asynq.Inspector) error
	}{
		{"resumed by wxqr", func(p *tasks.Pauses, _ *asynq.Inspector) error { return p.Resume(t.Context(), daily.Queue) }},
		{"resumed through asynq alone", func(_ *tasks.Pauses, i *asynq.Inspector) error { return i.UnpauseQueue(daily.Queue) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			p, inspector, rdb := newPauses(t)
			if first, err := p.Pause(ctx, daily); err != nil || !first {
				t.Fatalf("Pause = %v, %v", first, err)
			}
			if err := tc.resume(p, inspector); err != nil {
				t.Fatal(err)
			}
			if err := inspector.PauseQueue(daily.Queue); err != nil {
				t.Fatal(err)
			}
			if s, err := p.Paused(ctx, daily.Queue); err != nil || s != nil {
				t.Errorf("Paused after a pause by hand = %+v, %v; want no state", s, err)
			}
			resumed, err := p.ResumeDue(ctx, daily.ResumeAt.Add(time.Minute))
			if err != nil || len(resumed) != 0 {
				t.Errorf("ResumeDue = %+v, %v; want nothing resumed", resumed, err)
			}
			if info, err := inspector.GetQueueInfo(daily.Queue); err != nil || !info.Paused {
				t.Fatalf("queue info %+v, %v; want the pause by hand to hold", info, err)
			}
			// The stale state is gone: nothing is left that could resume it.
			if n, err := rdb.Exists(ctx, "wxqr:pause:queue:"+daily.Queue).Result(); err != nil || n != 0 {
				t.Errorf("stale pause state still stored (%d, %v)", n, err)
			}
			if n, err := rdb.SCard(ctx, "wxqr:pause:queues").Result(); err != nil || n != 0 {
				t.Errorf("index of pauses holds %d queues (%v), want none", n, err)
			}
		})
	}
}

// TestResumeIsOneStep checks that Resume ends both halves of a pause: the
// flag asynq reads and the state wxqr reads.
func TestResumeIsOneStep(t *testing.T) {
	ctx := t.Context()
	p, inspector, rdb := newPauses(t)
	at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	if _, err := p.Pause(ctx, tasks.PauseState{Queue: "wxa.oa_perm", Errcode: 45029, Reason: "total", PausedAt: at}); err != nil {
		t.Fatal(err)
	}
	if err := p.Resume(ctx, "wxa.oa_perm"); err != nil {
		t.Fatal(err)
	}
	if info, err := inspector.GetQueueInfo("wxa.oa_perm"); err != nil || info.Paused {
		t.Errorf("queue info %+v, %v; want running", info, err)
	}
	if n, err := rdb.Exists(ctx, "wxqr:pause:queue:wxa.oa_perm", "wxqr:pause:queues").Result(); err != nil || n != 0 {
		t.Errorf("%d pause keys left (%v), want none", n, err)
	}
	// Resuming a running queue is what was asked: no error.
	if err := p.Resume(ctx, "wxa.oa_perm"); err != nil {
		t.Errorf("Resume of a running queue: %v", err)
	}
}

// TestPauseStateFromEarlierVersions: a state recorded before states named
// their flag holds while the flag holds its pause time, as those versions
// wrote it, and still resumes at its time.
func TestPauseStateFromEarlierVersions(t *testing.T) {
	ctx := t.Context()
	p, inspector, rdb := newPauses(t)
	at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	old := `{"queue":"wxa.oa_temp","app_id":"wxa","class":"oa_temp","errcode":45009,"reason":"daily quota","paused_at":"2026-05-01T10:00:00Z","resume_at":"2026-05-01T16:00:00Z"}`
	if err := rdb.Set(ctx, asynqx.PausedKey("wxa.oa_temp"), at.Unix(), 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(ctx, "wxqr:pause:queue:wxa.oa_temp", old, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.SAdd(ctx, "wxqr:pause:queues", "wxa.oa_temp").Err(); err != nil {
		t.Fatal(err)
	}
	if s, err := p.Paused(ctx, "wxa.oa_temp"); err != nil || s == nil || s.Errcode != 45009 {
		t.Fatalf("Paused = %+v, %v; want the recorded daily pause", s, err)
	}
	resumed, err := p.ResumeDue(ctx, at.Add(6*time.Hour))
	if err != nil || len(resumed) != 1 {
		t.Fatalf("ResumeDue = %+v, %v; want the daily pause resumed", resumed, err)
	}
	if info, err := inspector.GetQueueInfo("wxa.oa_temp"); err != nil || info.Paused {
		t.Errorf("queue info %+v, %v; want running", info, err)
	}
}

// TestHoldNeverEndsAPauseByHand checks a self-healing pause (storage) the
// same way: resumed through asynq alone, then paused by hand, the queue is
// neither extended nor released by the storage probe's record.
func TestHoldNeverEndsAPauseByHand(t *testing.T) {
	ctx := t.Context()
	p, inspector, _ := newPauses(t)
	at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	hold := tasks.PauseState{Queue: "wxa.oa_perm", AppID: "wxa", Class: wxqr.ClassOAPerm,
		Reason: tasks.ReasonStorage, PausedAt: at, ResumeAt: at.Add(15 * time.Second)}
	if first, err := p.Hold(ctx, hold); err != nil || !first {
		t.Fatalf("Hold = %v, %v; want the queue paused", first, err)
	}
	if err := inspector.UnpauseQueue(hold.Queue); err != nil {
		t.Fatal(err)
	}
	if err := inspector.PauseQueue(hold.Queue); err != nil {
		t.Fatal(err)
	}
	hold.ResumeAt = hold.ResumeAt.Add(time.Minute)
	if first, err := p.Hold(ctx, hold); err != nil || first {
		t.Errorf("Hold over a pause by hand = %v, %v; want it left alone", first, err)
	}
	if released, err := p.Release(ctx, hold.Queue, tasks.ReasonStorage); err != nil || released {
		t.Errorf("Release = %v, %v; want the pause by hand left alone", released, err)
	}
	if info, err := inspector.GetQueueInfo(hold.Queue); err != nil || !info.Paused {
		t.Fatalf("queue info %+v, %v; want the pause by hand to hold", info, err)
	}
	if s, err := p.Paused(ctx, hold.Queue); err != nil || s != nil {
		t.Errorf("Paused = %+v, %v; want no wxqr state over a pause by hand", s, err)
	}
}
