package tasks_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/tasks"
	"github.com/wxqr/wxqr/wechat"
)

// TestPermanentTicketPatienceCountsFromTheFirstRefusal: a permanent ticket
// that waited in Redis for hours (storage was down) is not archived at the
// first refusal of showqrcode: the task goes to the archive only once
// showqrcode has refused it for longer than the patience (an hour), and a
// ticket that showqrcode takes again in the meantime is stored.
func TestPermanentTicketPatienceCountsFromTheFirstRefusal(t *testing.T) {
	stagedAt := genNow.Add(-3 * time.Hour)
	tests := []struct {
		name string
		// after is when each run happens, from genNow; refused says
		// whether showqrcode refuses the ticket then.
		runs []struct {
			after   time.Duration
			refused bool
		}
		wantArchived bool
	}{
		{
			name: "refused for longer than the patience",
			runs: []struct {
				after   time.Duration
				refused bool
			}{{0, true}, {30 * time.Minute, true}, {time.Hour, true}, {time.Hour + time.Second, true}},
			wantArchived: true,
		},
		{
			name: "taken again within the patience",
			runs: []struct {
				after   time.Duration
				refused bool
			}{{0, true}, {50 * time.Minute, true}, {2 * time.Hour, false}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			id := permSpec.ID()
			h.mustStage(t, id, catalog.Staged{Generation: 1, Ticket: "ticket-old", URL: "http://weixin.qq.com/q/old", CreatedAt: stagedAt})
			for i, run := range tt.runs {
				h.clock.Set(genNow.Add(run.after))
				h.wechat.mu.Lock()
				h.wechat.deadTickets["ticket-old"] = run.refused
				h.wechat.mu.Unlock()
				err := h.run(t, generateTask(t, tasks.GeneratePayload{Spec: permSpec}))
				last := i == len(tt.runs)-1
				switch {
				case !run.refused:
					if err != nil {
						t.Fatalf("run %d (+%s), ticket taken: %v", i, run.after, err)
					}
					wantStored(t, h, permSpec, 1, "ticket-old")
				case last && tt.wantArchived:
					if !tasks.IsFailure(err) || !errors.Is(err, asynq.SkipRetry) || !errors.Is(err, wechat.ErrTicketNotFound) {
						t.Fatalf("run %d (+%s) = %v, want the archive: refused for longer than the patience", i, run.after, err)
					}
				default:
					wantRetryLater(t, err)
				}
				if !run.refused {
					continue
				}
				s := h.staged(t, id)
				if s == nil || s.Ticket != "ticket-old" {
					t.Fatalf("run %d: staged = %+v, want the ticket kept", i, s)
				}
				if !s.RefusedAt.Equal(genNow) {
					t.Errorf("run %d: staged RefusedAt = %s, want the first refusal's %s", i, s.RefusedAt, genNow)
				}
			}
			if creates := slices.Index(h.wechat.Calls(), apiCreate); creates >= 0 {
				t.Errorf("WeChat calls = %q, want no new code made", h.wechat.Calls())
			}
		})
	}
}

// TestDeadTicketDropIsFencedByTheLock: a run whose lock lapsed and was
// taken while showqrcode answered that its temporary ticket died leaves the
// staged result of the new holder alone, and calls WeChat no more.
func TestDeadTicketDropIsFencedByTheLock(t *testing.T) {
	h := newHarness(t)
	id := tempSpec.ID()
	h.wechat.deadTickets["ticket-old"] = true
	h.mustStage(t, id, catalog.Staged{Generation: 1, Ticket: "ticket-old", ExpireSeconds: tempSeconds, CreatedAt: genNow.Add(-10 * time.Minute)})
	newer := catalog.Staged{Generation: 1, Ticket: "ticket-newer", ExpireSeconds: tempSeconds, CreatedAt: genNow}
	h.wechat.onShow = func() {
		// The lock lapsed and another worker took the code and staged
		// what WeChat gave it.
		h.takeLock(t, id)
		h.mustStage(t, id, newer)
	}
	err := h.run(t, generateTask(t, tasks.GeneratePayload{Spec: tempSpec, ExpireSeconds: tempSeconds}))
	if later := wantRetryLater(t, err); later.Wait != tasks.WaitLocked {
		t.Errorf("wait = %v, want %s", later, tasks.WaitLocked)
	}
	if got := h.wechat.Calls(); !slices.Equal(got, []string{apiShow}) {
		t.Errorf("WeChat calls = %q, want only the showqrcode that found the ticket dead", got)
	}
	if s := h.staged(t, id); s == nil || s.Ticket != newer.Ticket {
		t.Errorf("staged = %+v, want the new holder's %q kept", s, newer.Ticket)
	}
	if holder := h.lockHolder(t, id); holder != otherWorker {
		t.Errorf("lock holder = %q, want the other worker's", holder)
	}
}
