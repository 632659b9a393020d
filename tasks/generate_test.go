package tasks_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/ratelimit"
	"github.com/wxqr/wxqr/tasks"
	"github.com/wxqr/wxqr/wechat"
)

func TestGenerateMakesCodes(t *testing.T) {
	tests := []struct {
		name      string
		payload   tasks.GeneratePayload
		wantCalls []string
		content   string // what the stored image encodes
		check     func(t *testing.T, h *harness, rec *wxqr.Record)
	}{
		{
			name:      "oa_perm",
			payload:   tasks.GeneratePayload{Spec: permSpec, Campaign: "spring", Name: "Store 12 - entrance"},
			wantCalls: []string{apiCreate, apiShow},
			content:   "ticket-1",
			check: func(t *testing.T, h *harness, rec *wxqr.Record) {
				wantReq := wechat.CreateQRCodeRequest{ActionName: wechat.QRLimitScene, SceneID: 42}
				if got := h.wechat.createReqs[0]; got != wantReq {
					t.Errorf("qrcode/create request = %+v, want %+v", got, wantReq)
				}
				if got := h.wechat.Tickets(); !slices.Equal(got, []string{"ticket-1"}) {
					t.Errorf("showqrcode tickets = %q, want [ticket-1]", got)
				}
				if rec.Ticket != "ticket-1" || rec.URL != "http://weixin.qq.com/q/1" {
					t.Errorf("record ticket, url = %q, %q, want ticket-1, http://weixin.qq.com/q/1", rec.Ticket, rec.URL)
				}
				if !rec.ExpiresAt.IsZero() {
					t.Errorf("record ExpiresAt = %v, want zero for a permanent code", rec.ExpiresAt)
				}
				if rec.Campaign != "spring" {
					t.Errorf("record campaign = %q, want spring", rec.Campaign)
				}
				if rec.Name != "Store 12 - entrance" {
					t.Errorf("record name = %q, want the request's Store 12 - entrance", rec.Name)
				}
			},
		},
		{
			name:      "wxa_qrcode",
			payload:   tasks.GeneratePayload{Spec: wxaSpec},
			wantCalls: []string{apiWxaQR},
			content:   wxaContent(wxaSpec.Path, 1),
			check: func(t *testing.T, h *harness, rec *wxqr.Record) {
				wantReq := wechat.CreateWxaQRCodeRequest{Path: wxaSpec.Path, Width: wxqr.DefaultWidth}
				if got := h.wechat.wxaReqs[0]; got != wantReq {
					t.Errorf("createwxaqrcode request = %+v, want %+v", got, wantReq)
				}
				if rec.Ticket != "" || rec.URL != "" || !rec.ExpiresAt.IsZero() {
					t.Errorf("record ticket, url, expires_at = %q, %q, %v, want all empty", rec.Ticket, rec.URL, rec.ExpiresAt)
				}
			},
		},
		{
			name:      "oa_temp",
			payload:   tasks.GeneratePayload{Spec: tempSpec, ExpireSeconds: tempSeconds},
			wantCalls: []string{apiCreate, apiShow},
			content:   "ticket-1",
			check: func(t *testing.T, h *harness, rec *wxqr.Record) {
				wantReq := wechat.CreateQRCodeRequest{ActionName: wechat.QRStrScene, SceneStr: tempSpec.SceneStr, ExpireSeconds: tempSeconds}
				if got := h.wechat.createReqs[0]; got != wantReq {
					t.Errorf("qrcode/create request = %+v, want %+v", got, wantReq)
				}
				if !rec.CreatedAt.Equal(genNow) {
					t.Errorf("record CreatedAt = %v, want %v", rec.CreatedAt, genNow)
				}
				if rec.ExpireSeconds != tempSeconds {
					t.Errorf("record ExpireSeconds = %d, want %d", rec.ExpireSeconds, tempSeconds)
				}
				if want := genNow.Add(tempSeconds * time.Second); !rec.ExpiresAt.Equal(want) {
					t.Errorf("record ExpiresAt = %v, want CreatedAt + %d s = %v", rec.ExpiresAt, tempSeconds, want)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			if err := h.run(t, generateTask(t, tt.payload)); err != nil {
				t.Fatalf("ProcessTask: %v", err)
			}
			if got := h.wechat.Calls(); !slices.Equal(got, tt.wantCalls) {
				t.Errorf("WeChat calls = %q, want %q", got, tt.wantCalls)
			}
			rec := wantStored(t, h, tt.payload.Spec, 1, tt.content)
			tt.check(t, h, rec)

			limitKey := tasks.LimitKey(tt.payload.Spec.AppID, tt.payload.Spec.Kind.API())
			if spent, refunded, used := h.budget.counts(t, limitKey); spent != 1 || refunded != 0 || used != 1 {
				t.Errorf("budget of %s: spent %d, refunded %d, used %d, want 1, 0, 1", limitKey, spent, refunded, used)
			}
			if got := h.limiter.Keys(); !slices.Equal(got, []string{limitKey}) {
				t.Errorf("limiter keys = %q, want [%s]", got, limitKey)
			}
			if _, stages, _, _ := h.catalog.counts(); stages == 0 {
				t.Error("the result was never staged before it was stored")
			}
			if _, gets := h.store.counts(); gets != 0 {
				t.Errorf("storage read %d times, want none on a first attempt", gets)
			}
			if got := h.observer.generatedCount(tt.payload.Spec.Kind); got != 1 {
				t.Errorf("observer saw %d codes of %s generated, want 1", got, tt.payload.Spec.Kind)
			}
			if got := h.observer.wechatCalls(); got != len(tt.wantCalls) {
				t.Errorf("observer saw %d WeChat calls, want %d", got, len(tt.wantCalls))
			}
		})
	}
}

func TestGenerateSkipsCodesThatExist(t *testing.T) {
	tests := []struct {
		name string
		spec wxqr.Spec
		rec  func(spec wxqr.Spec) wxqr.Record
	}{
		{"permanent code", permSpec, func(spec wxqr.Spec) wxqr.Record {
			return wxqr.Record{ID: spec.ID(), Spec: spec, Generation: 1, CreatedAt: genNow.Add(-time.Hour)}
		}},
		{"temporary code still valid", tempSpec, func(spec wxqr.Spec) wxqr.Record {
			return wxqr.Record{ID: spec.ID(), Spec: spec, Generation: 1, CreatedAt: genNow.Add(-time.Hour),
				ExpireSeconds: 7200, ExpiresAt: genNow.Add(time.Hour)}
		}},
		{"retired temporary code", tempSpec, func(spec wxqr.Spec) wxqr.Record {
			return wxqr.Record{ID: spec.ID(), Spec: spec, Generation: 1, CreatedAt: genNow.Add(-2 * time.Hour),
				ExpireSeconds: 3600, ExpiresAt: genNow.Add(-time.Hour), Retired: true}
		}},
		{"mini program code", wxaSpec, func(spec wxqr.Spec) wxqr.Record {
			spec = spec.Normalize()
			return wxqr.Record{ID: spec.ID(), Spec: spec, Generation: 1, CreatedAt: genNow.Add(-time.Hour)}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			before := recordJSON(t, h.mustPut(t, tt.rec(tt.spec)))
			if err := h.run(t, generateTask(t, tasks.GeneratePayload{Spec: tt.spec})); err != nil {
				t.Fatalf("ProcessTask: %v", err)
			}
			if got := h.wechat.Calls(); len(got) != 0 {
				t.Errorf("WeChat calls = %q, want none", got)
			}
			_, _, _, catalogPuts := h.catalog.counts()
			storePuts, _ := h.store.counts()
			if catalogPuts != 0 || storePuts != 0 {
				t.Errorf("catalog puts %d, storage puts %d, want none", catalogPuts, storePuts)
			}
			if got, _ := h.record(t, tt.spec.ID()); recordJSON(t, got) != before {
				t.Errorf("record changed: %s, want %s", recordJSON(t, got), before)
			}
			if got := h.limiter.Keys(); len(got) != 0 {
				t.Errorf("limiter asked for %q, want nothing", got)
			}
			if got := h.observer.generatedCount(tt.spec.Kind); got != 0 {
				t.Errorf("observer saw %d codes generated, want 0", got)
			}
		})
	}
}

// TestGenerateReusesStagedResult stages each result through the real
// catalog, so the run reads it back as Redis returns it: a ticket staged
// without its image comes back with an empty image field.
func TestGenerateReusesStagedResult(t *testing.T) {
	stagedAt := genNow.Add(-10 * time.Minute)
	tests := []struct {
		name        string
		payload     tasks.GeneratePayload
		staged      func(t *testing.T) catalog.Staged
		wantCalls   []string
		content     string
		wantTicket  string
		wantExpires time.Time
	}{
		{
			name:    "oa_perm image staged",
			payload: tasks.GeneratePayload{Spec: permSpec},
			staged: func(t *testing.T) catalog.Staged {
				return catalog.Staged{Generation: 1, Ticket: "ticket-old", URL: "http://weixin.qq.com/q/old",
					Image: jpegOf(t, "ticket-old"), ContentType: wxqr.ContentTypeJPEG, CreatedAt: stagedAt}
			},
			content:    "ticket-old",
			wantTicket: "ticket-old",
		},
		{
			name:    "wxa_qrcode image staged",
			payload: tasks.GeneratePayload{Spec: wxaSpec},
			staged: func(t *testing.T) catalog.Staged {
				return catalog.Staged{Generation: 1, Image: jpegOf(t, "staged wxa"), ContentType: wxqr.ContentTypeJPEG, CreatedAt: stagedAt}
			},
			content: "staged wxa",
		},
		{
			name:    "oa_perm ticket staged without its image",
			payload: tasks.GeneratePayload{Spec: permSpec},
			staged: func(*testing.T) catalog.Staged {
				return catalog.Staged{Generation: 1, Ticket: "ticket-old", URL: "http://weixin.qq.com/q/old", CreatedAt: stagedAt}
			},
			wantCalls:  []string{apiShow},
			content:    "ticket-old",
			wantTicket: "ticket-old",
		},
		{
			name:    "oa_temp ticket staged without its image",
			payload: tasks.GeneratePayload{Spec: tempSpec, ExpireSeconds: tempSeconds},
			staged: func(*testing.T) catalog.Staged {
				return catalog.Staged{Generation: 1, Ticket: "ticket-old", URL: "http://weixin.qq.com/q/old",
					ExpireSeconds: tempSeconds, CreatedAt: stagedAt}
			},
			wantCalls:   []string{apiShow},
			content:     "ticket-old",
			wantTicket:  "ticket-old",
			wantExpires: stagedAt.Add(tempSeconds * time.Second),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			spec := tt.payload.Spec
			staged := tt.staged(t)
			h.mustStage(t, spec.ID(), staged)
			if err := h.run(t, generateTask(t, tt.payload)); err != nil {
				t.Fatalf("ProcessTask: %v", err)
			}
			if got := h.wechat.Calls(); !slices.Equal(got, tt.wantCalls) {
				t.Errorf("WeChat calls = %q, want %q", got, tt.wantCalls)
			}
			if slices.Contains(tt.wantCalls, apiShow) && !slices.Equal(h.wechat.Tickets(), []string{staged.Ticket}) {
				t.Errorf("showqrcode tickets = %q, want the staged %q", h.wechat.Tickets(), staged.Ticket)
			}
			rec := wantStored(t, h, spec, 1, tt.content)
			if rec.Ticket != tt.wantTicket {
				t.Errorf("record ticket = %q, want %q", rec.Ticket, tt.wantTicket)
			}
			if !rec.CreatedAt.Equal(stagedAt) {
				t.Errorf("record CreatedAt = %v, want when WeChat made it: %v", rec.CreatedAt, stagedAt)
			}
			if !rec.ExpiresAt.Equal(tt.wantExpires) {
				t.Errorf("record ExpiresAt = %v, want %v", rec.ExpiresAt, tt.wantExpires)
			}
			limitKey := tasks.LimitKey(spec.AppID, spec.Kind.API())
			if spent, _, _ := h.budget.counts(t, limitKey); spent != 0 {
				t.Errorf("budget of %s spent %d, want 0: the code was paid for already", limitKey, spent)
			}
		})
	}
}

func TestGenerateKeepsWhatWeChatMadeWhenStorageFails(t *testing.T) {
	// An Official Account code stages its ticket only: showqrcode spends no
	// quota, so the retry fetches the image again. A Mini Program code's
	// image cannot be had again for free: it is staged.
	tests := []struct {
		name       string
		payload    tasks.GeneratePayload
		firstCalls []string
		allCalls   []string
		imageKept  bool
		content    string
	}{
		{"oa_perm", tasks.GeneratePayload{Spec: permSpec}, []string{apiCreate, apiShow}, []string{apiCreate, apiShow, apiShow}, false, "ticket-1"},
		{"wxa_qrcode", tasks.GeneratePayload{Spec: wxaSpec}, []string{apiWxaQR}, []string{apiWxaQR}, true, wxaContent(wxaSpec.Path, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			spec := tt.payload.Spec
			task := generateTask(t, tt.payload)
			h.store.setPutErr(errors.New("bucket unavailable"))

			later := wantRetryLater(t, h.run(t, task))
			if later.After != tasks.FirstRetryDelay {
				t.Errorf("retry after %v, want %v for a result made just now", later.After, tasks.FirstRetryDelay)
			}
			if got := h.wechat.Calls(); !slices.Equal(got, tt.firstCalls) {
				t.Errorf("WeChat calls = %q, want %q", got, tt.firstCalls)
			}
			if _, stages, drops, _ := h.catalog.counts(); stages == 0 || drops != 0 {
				t.Errorf("Stage called %d times, DropStaged %d; want the result staged and not dropped while the code is not stored", stages, drops)
			}
			staged := h.staged(t, spec.ID())
			if staged == nil {
				t.Fatal("nothing staged after storage failed")
			}
			if staged.Generation != 1 {
				t.Errorf("staged generation %d, want 1", staged.Generation)
			}
			if tt.imageKept {
				if _, err := wxqr.CheckImage(staged.Image, spec.Normalize().ImageWidth()); err != nil {
					t.Errorf("staged image: %v; want its whole image", err)
				}
			} else if len(staged.Image) != 0 || staged.Ticket == "" {
				t.Errorf("staged %d bytes of image and ticket %q; want the ticket only", len(staged.Image), staged.Ticket)
			}
			if _, ok := h.record(t, spec.ID()); ok {
				t.Error("the code was recorded although its image is not stored")
			}

			h.store.setPutErr(nil)
			if err := h.run(t, task); err != nil {
				t.Fatalf("ProcessTask once storage is back: %v", err)
			}
			wantStored(t, h, spec, 1, tt.content)
			if got := h.wechat.Calls(); !slices.Equal(got, tt.allCalls) {
				t.Errorf("WeChat calls after both runs = %q, want %q: the retry must reuse the staged result", got, tt.allCalls)
			}
		})
	}
}

func TestGenerateCreateErrors(t *testing.T) {
	// The next 00:00 in Shanghai after genNow (04:30 on 11 March there).
	nextReset := time.Date(2025, 3, 11, 16, 0, 0, 0, time.UTC)
	apiErr := func(op string, code int) error {
		return fmt.Errorf("create code: %w", &wechat.APIError{Op: op, Code: code, Msg: "refused"})
	}
	tests := []struct {
		name        string
		payload     tasks.GeneratePayload
		createErr   error
		wantIs      error // a sentinel the returned error must match; nil for none
		wantFailure bool
		wantSkip    bool
		wantAfter   time.Duration // for waits
		wantPauses  []tasks.PauseState
		wantRefund  bool
	}{
		{
			name:      "lifetime quota of oa_perm",
			payload:   tasks.GeneratePayload{Spec: permSpec},
			createErr: apiErr(apiCreate, 45029),
			wantAfter: defaultPausedRetry,
			wantPauses: []tasks.PauseState{
				{Queue: tasks.QueueName(oaApp, wxqr.ClassOAPerm), AppID: oaApp, Class: wxqr.ClassOAPerm, Errcode: 45029},
			},
			wantRefund: true,
		},
		{
			name:      "lifetime quota of wxa_qrcode",
			payload:   tasks.GeneratePayload{Spec: wxaSpec},
			createErr: apiErr(apiWxaQR, 45029),
			wantAfter: defaultPausedRetry,
			wantPauses: []tasks.PauseState{
				{Queue: tasks.QueueName(mpApp, wxqr.ClassWxaLimited), AppID: mpApp, Class: wxqr.ClassWxaLimited, Errcode: 45029},
			},
			wantRefund: true,
		},
		{
			name:      "daily quota of oa_temp pauses both OA classes until the reset",
			payload:   tasks.GeneratePayload{Spec: tempSpec, ExpireSeconds: tempSeconds},
			createErr: apiErr(apiCreate, 45009),
			wantAfter: defaultPausedRetry,
			wantPauses: []tasks.PauseState{
				{Queue: tasks.QueueName(oaApp, wxqr.ClassOATemp), AppID: oaApp, Class: wxqr.ClassOATemp, Errcode: 45009, ResumeAt: nextReset},
				{Queue: tasks.QueueName(oaApp, wxqr.ClassOAPerm), AppID: oaApp, Class: wxqr.ClassOAPerm, Errcode: 45009, ResumeAt: nextReset},
			},
			wantRefund: true,
		},
		{
			name:      "account refused pauses every queue of the app",
			payload:   tasks.GeneratePayload{Spec: permSpec},
			createErr: apiErr(apiCreate, 40125),
			wantAfter: defaultPausedRetry,
			wantPauses: []tasks.PauseState{
				{Queue: tasks.QueueName(oaApp, wxqr.ClassOATemp), AppID: oaApp, Class: wxqr.ClassOATemp, Errcode: 40125},
				{Queue: tasks.QueueName(oaApp, wxqr.ClassOAPerm), AppID: oaApp, Class: wxqr.ClassOAPerm, Errcode: 40125},
			},
			wantRefund: true,
		},
		{
			name:        "bad request goes to the archive",
			payload:     tasks.GeneratePayload{Spec: permSpec},
			createErr:   apiErr(apiCreate, 40053),
			wantIs:      wechat.ErrBadRequest,
			wantFailure: true,
			wantSkip:    true,
			wantRefund:  true,
		},
		{
			name:       "minute limit waits for the next minute",
			payload:    tasks.GeneratePayload{Spec: permSpec},
			createErr:  apiErr(apiCreate, 45011),
			wantAfter:  time.Minute, // genNow is on the minute
			wantRefund: true,
		},
		{
			// The code may have been made before the connection broke:
			// what it cost stays counted.
			name:        "transient failure is retried and not refunded",
			payload:     tasks.GeneratePayload{Spec: permSpec},
			createErr:   fmt.Errorf("wechat: qrcode/create: timeout: %w", wechat.ErrTransient),
			wantIs:      wechat.ErrTransient,
			wantFailure: true,
		},
		{
			// WeChat never heard of the call: it counted nothing.
			name:        "dial refused is retried and refunded",
			payload:     tasks.GeneratePayload{Spec: permSpec},
			createErr:   fmt.Errorf("wechat: qrcode/create: dial tcp: connection refused: %w: %w", wechat.ErrTransient, wechat.ErrNotSent),
			wantIs:      wechat.ErrTransient,
			wantFailure: true,
			wantRefund:  true,
		},
		{
			name:        "access token unavailable is retried and refunded",
			payload:     tasks.GeneratePayload{Spec: wxaSpec},
			createErr:   fmt.Errorf("wechat: createwxaqrcode: access token: %w", wechat.ErrNotSent),
			wantIs:      wechat.ErrNotSent,
			wantFailure: true,
			wantRefund:  true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.wechat.createErr = tt.createErr
			spec := tt.payload.Spec
			err := h.run(t, generateTask(t, tt.payload))
			if err == nil {
				t.Fatal("ProcessTask succeeded, want an error")
			}
			if got := tasks.IsFailure(err); got != tt.wantFailure {
				t.Errorf("IsFailure(%v) = %v, want %v", err, got, tt.wantFailure)
			}
			if got := errors.Is(err, asynq.SkipRetry); got != tt.wantSkip {
				t.Errorf("errors.Is(%v, SkipRetry) = %v, want %v", err, got, tt.wantSkip)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("err = %v, want it to match %v", err, tt.wantIs)
			}
			if !tt.wantFailure {
				if later := wantRetryLater(t, err); later.After != tt.wantAfter {
					t.Errorf("retry after %v, want %v", later.After, tt.wantAfter)
				}
			}
			if got := h.wechat.Calls(); len(got) != 1 {
				t.Errorf("WeChat calls = %q, want exactly one create call", got)
			}

			paused, err := h.pauses.List(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if len(paused) != len(tt.wantPauses) {
				t.Fatalf("paused queues = %+v, want %d", paused, len(tt.wantPauses))
			}
			want := slices.Clone(tt.wantPauses)
			sort.Slice(want, func(i, j int) bool { return want[i].Queue < want[j].Queue })
			for i, got := range paused { // List orders by queue
				w := want[i]
				if got.Queue != w.Queue || got.AppID != w.AppID || got.Class != w.Class || got.Errcode != w.Errcode {
					t.Errorf("pause %d = queue %s app %s class %s errcode %d, want queue %s app %s class %s errcode %d",
						i, got.Queue, got.AppID, got.Class, got.Errcode, w.Queue, w.AppID, w.Class, w.Errcode)
				}
				if !got.ResumeAt.Equal(w.ResumeAt) {
					t.Errorf("pause of %s resumes at %v, want %v", got.Queue, got.ResumeAt, w.ResumeAt)
				}
				if !got.PausedAt.Equal(genNow) {
					t.Errorf("pause of %s at %v, want %v", got.Queue, got.PausedAt, genNow)
				}
				if got.Reason == "" {
					t.Errorf("pause of %s has no reason", got.Queue)
				}
			}

			limitKey := tasks.LimitKey(spec.AppID, spec.Kind.API())
			wantRefunded := map[bool]int64{true: 1}[tt.wantRefund]
			if spent, refunded, used := h.budget.counts(t, limitKey); spent != 1 || refunded != wantRefunded || used != 1-wantRefunded {
				t.Errorf("budget of %s: spent %d, refunded %d, used %d; want 1, %d, %d",
					limitKey, spent, refunded, used, wantRefunded, 1-wantRefunded)
			}
			if s := h.staged(t, spec.ID()); s != nil {
				t.Errorf("staged %+v although WeChat made no code", s)
			}
			wantNothingStored(t, h, spec)
			if storePuts, _ := h.store.counts(); storePuts != 0 {
				t.Errorf("storage puts %d, want none", storePuts)
			}
			if holder := h.lockHolder(t, spec.ID()); holder != "" {
				t.Error("the code's lock is still held after the run")
			}
		})
	}
}

func TestGenerateMakesNoCallWhenItCannot(t *testing.T) {
	permKey := tasks.LimitKey(oaApp, apiCreate)
	tests := []struct {
		name  string
		task  func(t *testing.T) *asynq.Task
		setup func(t *testing.T, h *harness)
		check func(t *testing.T, h *harness, err error)
	}{
		{
			name: "queue paused",
			setup: func(t *testing.T, h *harness) {
				q := tasks.QueueName(oaApp, wxqr.ClassOAPerm)
				if _, err := h.pauses.Pause(t.Context(), tasks.PauseState{Queue: q, AppID: oaApp, Class: wxqr.ClassOAPerm,
					Errcode: 45029, Reason: "lifetime quota", PausedAt: genNow}); err != nil {
					t.Fatal(err)
				}
			},
			check: func(t *testing.T, h *harness, err error) {
				if later := wantRetryLater(t, err); later.After != defaultPausedRetry {
					t.Errorf("retry after %v, want %v", later.After, defaultPausedRetry)
				}
				if spent, _, _ := h.budget.counts(t, permKey); spent != 0 {
					t.Errorf("budget spent %d, want 0", spent)
				}
			},
		},
		{
			name:  "code locked by another worker",
			setup: func(t *testing.T, h *harness) { h.takeLock(t, permSpec.ID()) },
			check: func(t *testing.T, h *harness, err error) {
				wantRetryLater(t, err)
				if holder := h.lockHolder(t, permSpec.ID()); holder != otherWorker {
					t.Errorf("lock holder = %q after the run, want the other worker's lock untouched", holder)
				}
				if spent, _, _ := h.budget.counts(t, permKey); spent != 0 {
					t.Errorf("budget spent %d, want 0", spent)
				}
			},
		},
		{
			name: "rate limited",
			setup: func(_ *testing.T, h *harness) {
				h.limiter.err = fmt.Errorf("limit: %w", &ratelimit.DelayError{Key: permKey, RetryAfter: 3 * time.Second})
			},
			check: func(t *testing.T, h *harness, err error) {
				if later := wantRetryLater(t, err); later.After != 3*time.Second {
					t.Errorf("retry after %v, want the limiter's 3s", later.After)
				}
				if spent, refunded, used := h.budget.counts(t, permKey); spent != 1 || refunded != 1 || used != 0 {
					t.Errorf("budget spent %d, refunded %d, used %d; want 1, 1, 0", spent, refunded, used)
				}
			},
		},
		{
			name: "lock not acknowledged by a replica",
			setup: func(_ *testing.T, h *harness) {
				h.catalog.lockErr = fmt.Errorf("catalog: lock %s: %w: 0 of 1 within 1s", permSpec.ID(), catalog.ErrNotReplicated)
			},
			check: func(t *testing.T, h *harness, err error) {
				if later := wantRetryLater(t, err); later.After != defaultPausedRetry {
					t.Errorf("retry after %v, want %v", later.After, defaultPausedRetry)
				}
				if got := h.wechat.Calls(); len(got) != 0 {
					t.Errorf("WeChat calls = %q, want none", got)
				}
			},
		},
		{
			name:  "daily budget spent",
			setup: func(_ *testing.T, h *harness) { h.exhaustBudget() },
			check: func(t *testing.T, h *harness, err error) {
				wantRetryLater(t, err)
				paused, lerr := h.pauses.List(t.Context())
				if lerr != nil {
					t.Fatal(lerr)
				}
				var queues []string
				for _, s := range paused {
					queues = append(queues, s.Queue)
					if s.ResumeAt.IsZero() {
						t.Errorf("pause of %s has no ResumeAt, want the daily reset", s.Queue)
					}
				}
				want := []string{tasks.QueueName(oaApp, wxqr.ClassOAPerm), tasks.QueueName(oaApp, wxqr.ClassOATemp)}
				if !slices.Equal(queues, want) {
					t.Errorf("paused queues = %q, want %q", queues, want)
				}
				if got := h.limiter.Keys(); len(got) != 0 {
					t.Errorf("limiter asked for %q, want nothing", got)
				}
			},
		},
		{
			// Redis cannot say whether an earlier attempt staged a result:
			// calling could pay for the code twice.
			name: "staged result unreadable",
			setup: func(_ *testing.T, h *harness) {
				h.catalog.stagedErr = errors.New("connection reset by peer")
			},
			check: func(t *testing.T, h *harness, err error) {
				if !tasks.IsFailure(err) || errors.Is(err, asynq.SkipRetry) {
					t.Errorf("err = %v, want a failure that is retried", err)
				}
				if spent, _, _ := h.budget.counts(t, permKey); spent != 0 {
					t.Errorf("budget spent %d, want 0", spent)
				}
			},
		},
		{
			// NewGenerateTask refuses this payload; a task queued by hand
			// (or by an older producer) must still not spend lifetime quota.
			name: "second generation of a permanent code",
			task: func(t *testing.T) *asynq.Task {
				payload, err := json.Marshal(tasks.GeneratePayload{Spec: permSpec, Generation: 2})
				if err != nil {
					t.Fatal(err)
				}
				return asynq.NewTask(tasks.TypeGenerate, payload)
			},
			check: func(t *testing.T, h *harness, err error) {
				if !errors.Is(err, asynq.SkipRetry) {
					t.Errorf("err = %v, want it to wrap asynq.SkipRetry", err)
				}
				if locks, _, _, _ := h.catalog.counts(); locks != 0 {
					t.Errorf("Claim called %d times, want 0", locks)
				}
			},
		},
		{
			name: "undecodable payload",
			task: func(*testing.T) *asynq.Task { return asynq.NewTask(tasks.TypeGenerate, []byte("{")) },
			check: func(t *testing.T, h *harness, err error) {
				if !errors.Is(err, asynq.SkipRetry) {
					t.Errorf("err = %v, want it to wrap asynq.SkipRetry", err)
				}
			},
		},
		{
			name: "app not configured",
			task: func(t *testing.T) *asynq.Task {
				return generateTask(t, tasks.GeneratePayload{Spec: wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: "wxother", SceneID: 1}})
			},
			check: func(t *testing.T, h *harness, err error) {
				if !errors.Is(err, asynq.SkipRetry) {
					t.Errorf("err = %v, want it to wrap asynq.SkipRetry", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			if tt.setup != nil {
				tt.setup(t, h)
			}
			task := generateTask(t, tasks.GeneratePayload{Spec: permSpec})
			if tt.task != nil {
				task = tt.task(t)
			}
			err := h.run(t, task)
			if err == nil {
				t.Fatal("ProcessTask succeeded, want an error")
			}
			if got := h.wechat.Calls(); len(got) != 0 {
				t.Errorf("WeChat calls = %q, want none", got)
			}
			_, _, _, catalogPuts := h.catalog.counts()
			storePuts, _ := h.store.counts()
			if catalogPuts != 0 || storePuts != 0 {
				t.Errorf("storage puts %d, catalog puts %d, want none", storePuts, catalogPuts)
			}
			tt.check(t, h, err)
		})
	}
}

func TestGenerateTicketNotFound(t *testing.T) {
	tests := []struct {
		name        string
		payload     tasks.GeneratePayload
		stagedAt    time.Time
		refusedAt   time.Time // showqrcode's first refusal, if any
		wantErr     bool
		wantFailure bool
		wantSkip    bool
		wantCalls   []string
		wantKept    bool
	}{
		{
			// The ticket died: a new one is made at once, in the same run.
			name:      "oa_temp makes the code anew",
			payload:   tasks.GeneratePayload{Spec: tempSpec, ExpireSeconds: tempSeconds},
			stagedAt:  genNow.Add(-10 * time.Minute),
			wantCalls: []string{apiShow, apiCreate, apiShow},
		},
		{
			name:      "oa_perm staged 10 minutes ago waits",
			payload:   tasks.GeneratePayload{Spec: permSpec},
			stagedAt:  genNow.Add(-10 * time.Minute),
			wantErr:   true,
			wantCalls: []string{apiShow},
			wantKept:  true,
		},
		{
			// The patience counts from the first refusal, not the ticket's
			// making: the ticket may have waited out a storage outage.
			name:      "oa_perm staged 2 hours ago, refused for the first time, waits",
			payload:   tasks.GeneratePayload{Spec: permSpec},
			stagedAt:  genNow.Add(-2 * time.Hour),
			wantErr:   true,
			wantCalls: []string{apiShow},
			wantKept:  true,
		},
		{
			name:        "oa_perm refused for 2 hours goes to the archive",
			payload:     tasks.GeneratePayload{Spec: permSpec},
			stagedAt:    genNow.Add(-3 * time.Hour),
			refusedAt:   genNow.Add(-2 * time.Hour),
			wantErr:     true,
			wantFailure: true,
			wantSkip:    true,
			wantCalls:   []string{apiShow},
			wantKept:    true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.wechat.deadTickets["ticket-old"] = true
			spec := tt.payload.Spec
			staged := catalog.Staged{Generation: 1, Ticket: "ticket-old", URL: "http://weixin.qq.com/q/old", CreatedAt: tt.stagedAt, RefusedAt: tt.refusedAt}
			if spec.Kind.Temporary() {
				staged.ExpireSeconds = tempSeconds
			}
			h.mustStage(t, spec.ID(), staged)

			err := h.run(t, generateTask(t, tt.payload))
			if got := h.wechat.Calls(); !slices.Equal(got, tt.wantCalls) {
				t.Errorf("WeChat calls = %q, want %q", got, tt.wantCalls)
			}
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("ProcessTask: %v", err)
				}
				rec := wantStored(t, h, spec, 1, "ticket-1")
				if rec.Ticket != "ticket-1" {
					t.Errorf("record ticket = %q, want the new ticket-1", rec.Ticket)
				}
				if want := genNow.Add(tempSeconds * time.Second); !rec.ExpiresAt.Equal(want) {
					t.Errorf("record ExpiresAt = %v, want the new ticket's %v", rec.ExpiresAt, want)
				}
				return
			}
			if err == nil {
				t.Fatal("ProcessTask succeeded, want an error")
			}
			if got := tasks.IsFailure(err); got != tt.wantFailure {
				t.Errorf("IsFailure(%v) = %v, want %v", err, got, tt.wantFailure)
			}
			if got := errors.Is(err, asynq.SkipRetry); got != tt.wantSkip {
				t.Errorf("errors.Is(%v, SkipRetry) = %v, want %v", err, got, tt.wantSkip)
			}
			if tt.wantFailure && !errors.Is(err, wechat.ErrTicketNotFound) {
				t.Errorf("err = %v, want it to match ErrTicketNotFound", err)
			}
			if !tt.wantFailure {
				wantRetryLater(t, err)
			}
			got := h.staged(t, spec.ID())
			if kept := got != nil; kept != tt.wantKept {
				t.Errorf("staged ticket kept = %v, want %v", kept, tt.wantKept)
			}
			if got != nil && got.Ticket != staged.Ticket {
				t.Errorf("staged ticket = %q, want %q", got.Ticket, staged.Ticket)
			}
			wantNothingStored(t, h, spec)
		})
	}
}

func TestGenerateRegenerates(t *testing.T) {
	prevOf := func(expiresAt time.Time, gen int, retired bool) wxqr.Record {
		return wxqr.Record{
			ID: tempSpec.ID(), Spec: tempSpec, Campaign: "spring", Name: "Store 12", Ticket: "ticket-old",
			ExpireSeconds: tempSeconds, CreatedAt: expiresAt.Add(-tempSeconds * time.Second), ExpiresAt: expiresAt,
			Generation: gen, Retired: retired,
		}
	}
	valid := genNow.Add(30 * time.Minute)
	expired := genNow.Add(-30 * time.Minute)
	tests := []struct {
		name       string
		prev       wxqr.Record
		staged     bool // a result of generation 1 left staged
		generation int
		codeName   string // the name the request gives
		wantGen    int    // 0: nothing to make
		wantName   string
	}{
		{name: "generation 2 of generation 1", prev: prevOf(valid, 1, false), generation: 2, wantGen: 2, wantName: "Store 12"},
		{name: "expired code queued again", prev: prevOf(expired, 1, false), wantGen: 2, wantName: "Store 12"},
		{name: "expired code queued again under a new name", prev: prevOf(expired, 1, false), codeName: "Store 12 - exit", wantGen: 2, wantName: "Store 12 - exit"},
		{name: "stale staged result of generation 1", prev: prevOf(valid, 1, false), staged: true, generation: 2, wantGen: 2, wantName: "Store 12"},
		{name: "generation 2 exists already", prev: prevOf(valid, 3, false), generation: 2},
		{name: "code retired since", prev: prevOf(expired, 1, true), generation: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			prev := tt.prev
			prev.Bucket, prev.ObjectKey = h.store.Location(tempSpec.Key())
			before := recordJSON(t, h.mustPut(t, prev))
			if tt.staged {
				h.mustStage(t, prev.ID, catalog.Staged{Generation: 1, Ticket: "ticket-old", Image: jpegOf(t, "ticket-old"),
					ContentType: wxqr.ContentTypeJPEG, ExpireSeconds: tempSeconds, CreatedAt: genNow.Add(-time.Hour)})
			}
			task := generateTask(t, tasks.GeneratePayload{Spec: tempSpec, ExpireSeconds: tempSeconds, Generation: tt.generation, Name: tt.codeName})
			if err := h.run(t, task); err != nil {
				t.Fatalf("ProcessTask: %v", err)
			}
			if tt.wantGen == 0 {
				if got := h.wechat.Calls(); len(got) != 0 {
					t.Errorf("WeChat calls = %q, want none", got)
				}
				if got, _ := h.record(t, prev.ID); recordJSON(t, got) != before {
					t.Errorf("record changed: %s, want %s", recordJSON(t, got), before)
				}
				return
			}
			wantCalls := []string{apiCreate, apiShow}
			if got := h.wechat.Calls(); !slices.Equal(got, wantCalls) {
				t.Errorf("WeChat calls = %q, want %q", got, wantCalls)
			}
			rec := wantStored(t, h, tempSpec, tt.wantGen, "ticket-1")
			if rec.ObjectKey != prev.ObjectKey {
				t.Errorf("record key = %s, want the previous generation's %s", rec.ObjectKey, prev.ObjectKey)
			}
			if rec.Ticket != "ticket-1" {
				t.Errorf("record ticket = %q, want the new ticket-1", rec.Ticket)
			}
			if want := genNow.Add(tempSeconds * time.Second); !rec.ExpiresAt.Equal(want) {
				t.Errorf("record ExpiresAt = %v, want %v", rec.ExpiresAt, want)
			}
			if rec.Campaign != prev.Campaign {
				t.Errorf("record campaign = %q, want the previous %q", rec.Campaign, prev.Campaign)
			}
			if rec.Name != tt.wantName {
				t.Errorf("record name = %q, want %q", rec.Name, tt.wantName)
			}

			if err := h.run(t, task); err != nil {
				t.Fatalf("ProcessTask again: %v", err)
			}
			if got := h.wechat.Calls(); !slices.Equal(got, wantCalls) {
				t.Errorf("WeChat calls after running the task again = %q, want still %q", got, wantCalls)
			}
			if got, _ := h.record(t, prev.ID); got.Generation != tt.wantGen {
				t.Errorf("record generation after running again = %d, want %d", got.Generation, tt.wantGen)
			}
		})
	}
}
