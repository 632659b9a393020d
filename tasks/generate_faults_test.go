package tasks_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/tasks"
	"github.com/wxqr/wxqr/wechat"
)

// TestGenerateFetchesTheImageOfAStagedTicket is the path of a ticket made
// by qrcode/create whose showqrcode failed: the ticket is staged without an
// image, Redis hands the field back as an empty string, and the next run
// must fetch the image with that ticket, not store nothing.
func TestGenerateFetchesTheImageOfAStagedTicket(t *testing.T) {
	for _, payload := range []tasks.GeneratePayload{
		{Spec: permSpec},
		{Spec: tempSpec, ExpireSeconds: tempSeconds},
	} {
		t.Run(string(payload.Spec.Kind), func(t *testing.T) {
			h := newHarness(t)
			spec := payload.Spec
			task := generateTask(t, payload)
			h.wechat.showErr = errors.New("wechat: showqrcode: connection reset by peer")
			wantRetryLater(t, h.run(t, task))
			wantNothingStored(t, h, spec)

			field, err := h.rdb.HGet(t.Context(), catalog.DefaultPrefix+"staged:"+spec.ID(), "image").Result()
			if err != nil || field != "" {
				t.Fatalf("the staged image field = %q (%v), want an empty string in Redis", field, err)
			}
			if s := h.staged(t, spec.ID()); s == nil || s.Ticket != "ticket-1" || len(s.Image) != 0 {
				t.Fatalf("staged = %+v, want ticket-1 without its image", s)
			}

			h.wechat.showErr = nil
			if err := h.run(t, task); err != nil {
				t.Fatalf("ProcessTask once showqrcode answers: %v", err)
			}
			if got, want := h.wechat.Calls(), []string{apiCreate, apiShow, apiShow}; !slices.Equal(got, want) {
				t.Errorf("WeChat calls = %q, want %q: the staged ticket is fetched again, never made again", got, want)
			}
			if got := h.wechat.Tickets(); !slices.Equal(got, []string{"ticket-1", "ticket-1"}) {
				t.Errorf("showqrcode tickets = %q, want the staged ticket-1 twice", got)
			}
			wantStored(t, h, spec, 1, "ticket-1")
		})
	}
}

// TestGenerateRefusesBrokenShowQRCodeImages: a body that is not a whole
// image is a failure of showqrcode, fetched again with the staged ticket;
// nothing is stored or recorded from it.
func TestGenerateRefusesBrokenShowQRCodeImages(t *testing.T) {
	for _, tt := range []struct {
		name string
		body func(t *testing.T) []byte
	}{
		{"truncated jpeg", func(t *testing.T) []byte { return truncatedJPEG(t) }},
		{"0 bytes", func(*testing.T) []byte { return []byte{} }},
		{"json error body", func(*testing.T) []byte { return jsonErrorBody }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			task := generateTask(t, tasks.GeneratePayload{Spec: permSpec})
			h.wechat.showBodies = [][]byte{tt.body(t)}

			wantRetryLater(t, h.run(t, task))
			wantNothingStored(t, h, permSpec)
			if puts, _ := h.store.counts(); puts != 0 {
				t.Errorf("storage puts %d, want none", puts)
			}
			if _, _, _, puts := h.catalog.counts(); puts != 0 {
				t.Errorf("catalog puts %d, want none", puts)
			}
			if s := h.staged(t, permSpec.ID()); s == nil || s.Ticket != "ticket-1" || len(s.Image) != 0 {
				t.Fatalf("staged = %+v, want ticket-1 still staged, without an image", s)
			}

			if err := h.run(t, task); err != nil {
				t.Fatalf("ProcessTask again: %v", err)
			}
			if got, want := h.wechat.Calls(), []string{apiCreate, apiShow, apiShow}; !slices.Equal(got, want) {
				t.Errorf("WeChat calls = %q, want %q", got, want)
			}
			wantStored(t, h, permSpec, 1, "ticket-1")
			if spent, _, _ := h.budget.counts(t, tasks.LimitKey(oaApp, apiCreate)); spent != 1 {
				t.Errorf("budget spent %d, want 1", spent)
			}
		})
	}
}

// TestGenerateRefusesBrokenMiniProgramImages: a Mini Program call whose
// image is not whole made nothing usable: it is a failure, nothing is staged,
// and the next attempt calls again. A staged image that is not whole is not
// used.
func TestGenerateRefusesBrokenMiniProgramImages(t *testing.T) {
	limitKey := tasks.LimitKey(mpApp, apiWxaQR)
	t.Run("answered", func(t *testing.T) {
		h := newHarness(t)
		task := generateTask(t, tasks.GeneratePayload{Spec: wxaSpec})
		h.wechat.wxaBodies = [][]byte{truncatedJPEG(t)}

		err := h.run(t, task)
		if !tasks.IsFailure(err) || errors.Is(err, asynq.SkipRetry) || !errors.Is(err, wechat.ErrTransient) {
			t.Fatalf("err = %v, want a transient failure that is retried", err)
		}
		if s := h.staged(t, wxaSpec.ID()); s != nil {
			t.Errorf("staged %d bytes of a broken image", len(s.Image))
		}
		wantNothingStored(t, h, wxaSpec)

		if err := h.run(t, task); err != nil {
			t.Fatalf("ProcessTask again: %v", err)
		}
		if got, want := h.wechat.Calls(), []string{apiWxaQR, apiWxaQR}; !slices.Equal(got, want) {
			t.Errorf("WeChat calls = %q, want %q", got, want)
		}
		wantStored(t, h, wxaSpec, 1, wxaContent(wxaSpec.Path, 2))
		if spent, refunded, _ := h.budget.counts(t, limitKey); spent != 2 || refunded != 0 {
			t.Errorf("budget spent %d, refunded %d; want 2, 0: WeChat answered both calls", spent, refunded)
		}
	})
	t.Run("staged", func(t *testing.T) {
		h := newHarness(t)
		h.mustStage(t, wxaSpec.ID(), catalog.Staged{Generation: 1, Image: truncatedJPEG(t),
			ContentType: wxqr.ContentTypeJPEG, CreatedAt: genNow.Add(-time.Minute)})
		if err := h.run(t, generateTask(t, tasks.GeneratePayload{Spec: wxaSpec})); err != nil {
			t.Fatalf("ProcessTask: %v", err)
		}
		if got, want := h.wechat.Calls(), []string{apiWxaQR}; !slices.Equal(got, want) {
			t.Errorf("WeChat calls = %q, want %q", got, want)
		}
		wantStored(t, h, wxaSpec, 1, wxaContent(wxaSpec.Path, 1))
	})
	t.Run("staged whole, storage failing twice", func(t *testing.T) {
		h := newHarness(t)
		task := generateTask(t, tasks.GeneratePayload{Spec: wxaSpec})
		h.store.setPutErr(errors.New("bucket unavailable"))
		wantRetryLater(t, h.run(t, task))
		wantRetryLater(t, h.run(t, task))
		h.store.setPutErr(nil)
		if err := h.run(t, task); err != nil {
			t.Fatalf("ProcessTask once storage is back: %v", err)
		}
		if got, want := h.wechat.Calls(), []string{apiWxaQR}; !slices.Equal(got, want) {
			t.Errorf("WeChat calls = %q, want exactly %q", got, want)
		}
		wantStored(t, h, wxaSpec, 1, wxaContent(wxaSpec.Path, 1))
	})
}

// TestGenerateAdoptsStoredCode: an attempt that asked WeChat, stored the
// image with its record, and then lost both the catalog write and the
// staged result leaves the code in the bucket; the next attempt records it
// from the image's record without calling WeChat.
func TestGenerateAdoptsStoredCode(t *testing.T) {
	for _, tt := range []struct {
		payload tasks.GeneratePayload
		calls   []string
		content string
	}{
		{tasks.GeneratePayload{Spec: permSpec, Campaign: "spring", Name: "Store 12"}, []string{apiCreate, apiShow}, "ticket-1"},
		{tasks.GeneratePayload{Spec: wxaSpec, Campaign: "spring", Name: "Store 12"}, []string{apiWxaQR}, wxaContent(wxaSpec.Path, 1)},
	} {
		spec := tt.payload.Spec
		t.Run(string(spec.Kind), func(t *testing.T) {
			h := newHarness(t)
			task := generateTask(t, tt.payload)
			h.catalog.setPutErr(errors.New("READONLY You can't write against a read only replica"))
			wantRetryLater(t, h.run(t, task))
			if h.called(t, spec.ID()) != 1 {
				t.Fatal("the first attempt left no call mark")
			}
			// The staged result is lost (a failover); the mark survived.
			if err := h.rdb.Del(t.Context(), catalog.DefaultPrefix+"staged:"+spec.ID()).Err(); err != nil {
				t.Fatal(err)
			}
			h.catalog.setPutErr(nil)
			_, getsBefore := h.store.counts()

			if err := h.run(t, task); err != nil {
				t.Fatalf("ProcessTask: %v", err)
			}
			if got := h.wechat.Calls(); !slices.Equal(got, tt.calls) {
				t.Errorf("WeChat calls = %q, want only the first attempt's %q", got, tt.calls)
			}
			if _, gets := h.store.counts(); gets == getsBefore {
				t.Error("the run did not read the bucket, yet recorded the code")
			}
			rec := wantStored(t, h, spec, 1, tt.content)
			if rec.Campaign != "spring" || rec.Name != "Store 12" {
				t.Errorf("record campaign, name = %q, %q, want spring, Store 12", rec.Campaign, rec.Name)
			}
			if spent, _, _ := h.budget.counts(t, tasks.LimitKey(spec.AppID, spec.Kind.API())); spent != 1 {
				t.Errorf("budget spent %d, want 1", spent)
			}
		})
	}
	t.Run("stored image broken", func(t *testing.T) {
		h := newHarness(t)
		task := generateTask(t, tasks.GeneratePayload{Spec: wxaSpec})
		h.catalog.setPutErr(errors.New("READONLY"))
		wantRetryLater(t, h.run(t, task))
		if err := h.rdb.Del(t.Context(), catalog.DefaultPrefix+"staged:"+wxaSpec.ID()).Err(); err != nil {
			t.Fatal(err)
		}
		h.catalog.setPutErr(nil)
		h.breakObject(t, wxaSpec, truncatedJPEG(t))

		if err := h.run(t, task); err != nil {
			t.Fatalf("ProcessTask: %v", err)
		}
		if got, want := h.wechat.Calls(), []string{apiWxaQR, apiWxaQR}; !slices.Equal(got, want) {
			t.Errorf("WeChat calls = %q, want %q: nothing whole was left to adopt", got, want)
		}
		wantStored(t, h, wxaSpec, 1, wxaContent(wxaSpec.Path, 2))
	})
	t.Run("first attempt reads no storage", func(t *testing.T) {
		h := newHarness(t)
		// What an earlier campaign left in the bucket, unmarked: not looked at.
		h.breakObject(t, permSpec, jpegOf(t, "left in the bucket"))
		if err := h.run(t, generateTask(t, tasks.GeneratePayload{Spec: permSpec})); err != nil {
			t.Fatalf("ProcessTask: %v", err)
		}
		if _, gets := h.store.counts(); gets != 0 {
			t.Errorf("storage read %d times, want none without a call mark", gets)
		}
		wantStored(t, h, permSpec, 1, "ticket-1")
	})
}

// breakObject replaces the image of spec in storage with body, behind the
// generator's back.
func (h *harness) breakObject(t *testing.T, spec wxqr.Spec, body []byte) {
	t.Helper()
	if err := h.store.DirStore.Put(t.Context(), spec.Key(), body, wxqr.ContentTypeJPEG, nil); err != nil {
		t.Fatal(err)
	}
}

// deleteObject removes the image of spec from storage.
func (h *harness) deleteObject(t *testing.T, spec wxqr.Spec) {
	t.Helper()
	root, objectKey := h.store.Location(spec.Key())
	if err := os.Remove(filepath.Join(root, filepath.FromSlash(objectKey))); err != nil {
		t.Fatal(err)
	}
	if _, ok := h.store.object(t, spec.Key()); ok {
		t.Fatal("the image is still there after its file was removed")
	}
}

// TestGenerateFencing: a run whose lock was taken by another worker stops
// before it calls WeChat or writes.
func TestGenerateFencing(t *testing.T) {
	id := permSpec.ID()
	limitKey := tasks.LimitKey(oaApp, apiCreate)
	t.Run("lost during the limiter's wait", func(t *testing.T) {
		h := newHarness(t)
		h.limiter.onWait = func() { h.takeLock(t, id) }
		wantRetryLater(t, h.run(t, generateTask(t, tasks.GeneratePayload{Spec: permSpec})))
		if got := h.wechat.Calls(); len(got) != 0 {
			t.Errorf("WeChat calls = %q, want none", got)
		}
		if spent, refunded, used := h.budget.counts(t, limitKey); spent != 1 || refunded != 1 || used != 0 {
			t.Errorf("budget spent %d, refunded %d, used %d; want 1, 1, 0", spent, refunded, used)
		}
		if h.called(t, id) != 0 {
			t.Error("a call was marked though none was made")
		}
		if holder := h.lockHolder(t, id); holder != otherWorker {
			t.Errorf("lock holder = %q, want the other worker's lock untouched", holder)
		}
		wantNothingStored(t, h, permSpec)
	})
	t.Run("lost before the image is stored", func(t *testing.T) {
		h := newHarness(t)
		theirs := jpegOf(t, "the new holder's image")
		h.breakObject(t, permSpec, theirs)
		h.wechat.onShow = func() { h.takeLock(t, id) }
		wantRetryLater(t, h.run(t, generateTask(t, tasks.GeneratePayload{Spec: permSpec})))
		if puts, _ := h.store.counts(); puts != 0 {
			t.Errorf("storage puts %d, want none once the lock is lost", puts)
		}
		if obj, _ := h.store.object(t, permSpec.Key()); obj == nil || !slices.Equal(obj.Body, theirs) {
			t.Error("the new holder's image was overwritten")
		}
		if _, ok := h.record(t, id); ok {
			t.Error("the code was recorded")
		}
		if holder := h.lockHolder(t, id); holder != otherWorker {
			t.Errorf("lock holder = %q, want the other worker's lock untouched", holder)
		}
	})
	t.Run("lost before the catalog write", func(t *testing.T) {
		h := newHarness(t)
		h.store.onPut = func() { h.takeLock(t, id) }
		wantRetryLater(t, h.run(t, generateTask(t, tasks.GeneratePayload{Spec: permSpec})))
		if _, _, _, puts := h.catalog.counts(); puts != 1 {
			t.Errorf("Finish called %d times, want 1", puts)
		}
		if _, ok := h.record(t, id); ok {
			t.Error("the code was recorded by a run that had lost its lock")
		}
		if s := h.staged(t, id); s == nil {
			t.Error("the staged result was dropped by a run that had lost its lock")
		}
		if holder := h.lockHolder(t, id); holder != otherWorker {
			t.Errorf("lock holder = %q, want the other worker's lock untouched", holder)
		}
	})
}

// TestGenerateTemporaryWithoutExpireSeconds: an answer that leaves out
// expire_seconds gives the code the validity asked for, not "never expires".
func TestGenerateTemporaryWithoutExpireSeconds(t *testing.T) {
	h := newHarness(t)
	h.wechat.noExpireSeconds = true
	if err := h.run(t, generateTask(t, tasks.GeneratePayload{Spec: tempSpec, ExpireSeconds: tempSeconds})); err != nil {
		t.Fatalf("ProcessTask: %v", err)
	}
	rec := wantStored(t, h, tempSpec, 1, "ticket-1")
	if rec.ExpireSeconds != tempSeconds {
		t.Errorf("record ExpireSeconds = %d, want the requested %d", rec.ExpireSeconds, tempSeconds)
	}
	if want := genNow.Add(tempSeconds * time.Second); !rec.ExpiresAt.Equal(want) {
		t.Errorf("record ExpiresAt = %v, want %v", rec.ExpiresAt, want)
	}
}

// TestGenerateRepair runs a repair task on codes made earlier by the
// generator, their stored image then damaged.
func TestGenerateRepair(t *testing.T) {
	tests := []struct {
		name    string
		payload tasks.GeneratePayload
		// madeAt is when the code was first made (genNow if zero).
		madeAt time.Time
		// damage does to the code what the repair must mend; nil: nothing.
		damage      func(t *testing.T, h *harness, spec wxqr.Spec)
		retire      bool
		wantCalls   []string // the repair's calls; nil: none, and nothing written
		wantTickets []string
		wantGen     int
		content     string
	}{
		{
			name:    "whole object",
			payload: tasks.GeneratePayload{Spec: permSpec},
		},
		{
			name:        "permanent, 0-byte object",
			payload:     tasks.GeneratePayload{Spec: permSpec},
			damage:      func(t *testing.T, h *harness, spec wxqr.Spec) { h.breakObject(t, spec, []byte{}) },
			wantCalls:   []string{apiShow},
			wantTickets: []string{"ticket-1"},
			wantGen:     1,
			content:     "ticket-1",
		},
		{
			name:    "unexpired temporary, truncated object",
			payload: tasks.GeneratePayload{Spec: tempSpec, ExpireSeconds: tempSeconds},
			damage: func(t *testing.T, h *harness, spec wxqr.Spec) {
				h.breakObject(t, spec, truncatedJPEG(t))
			},
			wantCalls:   []string{apiShow},
			wantTickets: []string{"ticket-1"},
			wantGen:     1,
			content:     "ticket-1",
		},
		{
			name:        "expired temporary, object deleted",
			payload:     tasks.GeneratePayload{Spec: tempSpec, ExpireSeconds: tempSeconds},
			madeAt:      genNow.Add(-2 * tempSeconds * time.Second),
			damage:      func(t *testing.T, h *harness, spec wxqr.Spec) { h.deleteObject(t, spec) },
			wantCalls:   []string{apiCreate, apiShow},
			wantTickets: []string{"ticket-2"},
			wantGen:     2,
			content:     "ticket-2",
		},
		{
			name:      "mini program, object deleted",
			payload:   tasks.GeneratePayload{Spec: wxaSpec},
			damage:    func(t *testing.T, h *harness, spec wxqr.Spec) { h.deleteObject(t, spec) },
			wantCalls: []string{apiWxaQR},
			wantGen:   1,
			content:   wxaContent(wxaSpec.Path, 2),
		},
		{
			name:    "retired",
			payload: tasks.GeneratePayload{Spec: permSpec},
			damage:  func(t *testing.T, h *harness, spec wxqr.Spec) { h.breakObject(t, spec, []byte{}) },
			retire:  true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			spec := tt.payload.Spec
			if !tt.madeAt.IsZero() {
				h.clock.Set(tt.madeAt)
			}
			if err := h.run(t, generateTask(t, tt.payload)); err != nil {
				t.Fatalf("ProcessTask making the code: %v", err)
			}
			h.clock.Set(genNow)
			if tt.damage != nil {
				tt.damage(t, h, spec)
			}
			if tt.retire {
				if _, err := h.catalog.Retire(t.Context(), spec.ID()); err != nil {
					t.Fatal(err)
				}
			}
			before, _ := h.record(t, spec.ID())
			callsBefore := h.wechat.Calls()
			ticketsBefore := h.wechat.Tickets()
			storePutsBefore, _ := h.store.counts()
			_, _, _, catalogPutsBefore := h.catalog.counts()

			repair := tt.payload
			repair.Repair = true
			if err := h.run(t, generateTask(t, repair)); err != nil {
				t.Fatalf("ProcessTask repairing: %v", err)
			}
			calls := h.wechat.Calls()[len(callsBefore):]
			if !slices.Equal(calls, tt.wantCalls) {
				t.Errorf("the repair's WeChat calls = %q, want %q", calls, tt.wantCalls)
			}
			if tt.wantCalls == nil {
				storePuts, _ := h.store.counts()
				_, _, _, catalogPuts := h.catalog.counts()
				if storePuts != storePutsBefore || catalogPuts != catalogPutsBefore {
					t.Errorf("the repair wrote %d objects and %d records, want none",
						storePuts-storePutsBefore, catalogPuts-catalogPutsBefore)
				}
				if got, _ := h.record(t, spec.ID()); recordJSON(t, got) != recordJSON(t, before) {
					t.Errorf("record changed: %s, want %s", recordJSON(t, got), recordJSON(t, before))
				}
				return
			}
			if tickets := h.wechat.Tickets()[len(ticketsBefore):]; !slices.Equal(tickets, tt.wantTickets) {
				t.Errorf("the repair's showqrcode tickets = %q, want %q", tickets, tt.wantTickets)
			}
			rec := wantStored(t, h, spec, tt.wantGen, tt.content)
			if tt.wantGen == before.Generation && !rec.CreatedAt.Equal(before.CreatedAt) {
				t.Errorf("record CreatedAt = %v, want the repaired code's %v", rec.CreatedAt, before.CreatedAt)
			}
		})
	}
}
