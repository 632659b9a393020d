package tasks_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/jpeg"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/tasks"
	"github.com/wxqr/wxqr/wechat"
)

// outageWeChat is an Official Account whose calls fail with err while it
// is set; it counts the calls WeChat received.
type outageWeChat struct {
	mu      sync.Mutex
	err     error
	creates int
	shows   int
}

func (w *outageWeChat) CreateQRCode(_ context.Context, req *wechat.CreateQRCodeRequest) (*wechat.QRCodeTicket, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.creates++
	if w.err != nil {
		return nil, w.err
	}
	return &wechat.QRCodeTicket{Ticket: "t", URL: "http://weixin.qq.com/q/x"}, nil
}

func (w *outageWeChat) ShowQRCode(context.Context, string) (*wechat.Image, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.shows++
	if w.err != nil {
		return nil, w.err
	}
	img := image.NewGray(image.Rect(0, 0, 43, 43))
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		return nil, err
	}
	return &wechat.Image{Data: b.Bytes(), ContentType: "image/jpeg"}, nil
}

func (w *outageWeChat) CreateWxaQRCode(context.Context, *wechat.CreateWxaQRCodeRequest) (*wechat.Image, error) {
	return nil, errors.New("not an Official Account call")
}

func (w *outageWeChat) GetWxaCode(context.Context, *wechat.GetWxaCodeRequest) (*wechat.Image, error) {
	return nil, errors.New("not an Official Account call")
}

func (w *outageWeChat) GetWxaCodeUnlimited(context.Context, *wechat.GetWxaCodeUnlimitedRequest) (*wechat.Image, error) {
	return nil, errors.New("not an Official Account call")
}

func (w *outageWeChat) set(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.err = err
}

func (w *outageWeChat) calls() (creates, shows int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.creates, w.shows
}

// guardHarness is a Generator on the real Redis (catalog, pauses, breaker,
// storage watch) with a fake WeChat and a fake store.
type guardHarness struct {
	wechat  *outageWeChat
	catalog *catalog.Catalog
	store   *testStore
	pauses  *tasks.Pauses
	health  *tasks.StorageHealth
	gen     *tasks.Generator
}

func newGuardHarness(t *testing.T, breaker tasks.BreakerConfig, health tasks.StorageHealthConfig) *guardHarness {
	t.Helper()
	pauses, _, rdb := newPauses(t)
	cat := catalog.New(rdb, "")
	h := &guardHarness{wechat: &outageWeChat{}, catalog: cat, store: newTestStore(t), pauses: pauses}
	b, err := tasks.NewBreaker(rdb, breaker, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if h.health, err = tasks.NewStorageHealth(rdb, cat.StagedBytes, health); err != nil {
		t.Fatal(err)
	}
	h.gen, err = tasks.NewGenerator(tasks.GeneratorConfig{
		Clients:       map[string]tasks.WeChat{oaApp: h.wechat},
		Catalog:       cat,
		Store:         h.store,
		Limiter:       &fakeLimiter{},
		Pauses:        pauses,
		Breaker:       b,
		StorageHealth: h.health,
		Logger:        zerolog.Nop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func permTask(t *testing.T, scene int64) *asynq.Task {
	t.Helper()
	return generateTask(t, tasks.GeneratePayload{Spec: wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: oaApp, SceneID: scene}})
}

// wantPaused fails t unless queue is paused for reason.
func wantPaused(t *testing.T, p *tasks.Pauses, queue, reason string) tasks.PauseState {
	t.Helper()
	s, err := p.Paused(t.Context(), queue)
	if err != nil {
		t.Fatal(err)
	}
	if s == nil || s.Reason != reason || s.ResumeAt.IsZero() {
		t.Fatalf("pause of %s = %+v, want a timed pause for reason %q", queue, s, reason)
	}
	return *s
}

// TestGenerateStopsWhileStorageFails runs codes while every put fails: after
// Failures puts in a row, the app's queues pause (reason storage) and no
// further code is made; once the probe finds storage back they resume, and
// every code is stored with one create call each.
func TestGenerateStopsWhileStorageFails(t *testing.T) {
	const failures, codes = 3, 6
	h := newGuardHarness(t, tasks.BreakerConfig{}, tasks.StorageHealthConfig{Failures: failures})
	h.store.setPutErr(errors.New("connection refused"))
	for scene := int64(1); scene <= codes; scene++ {
		wantRetryLater(t, h.gen.ProcessTask(t.Context(), permTask(t, scene)))
	}
	for _, class := range []wxqr.QuotaClass{wxqr.ClassOAPerm, wxqr.ClassOATemp} {
		wantPaused(t, h.pauses, tasks.QueueName(oaApp, class), tasks.ReasonStorage)
	}
	if creates, _ := h.wechat.calls(); creates != failures {
		t.Errorf("create calls with storage down = %d, want %d (none after the queue paused)", creates, failures)
	}

	// Storage back: the probe resumes the queues, and the tasks finish.
	h.store.setPutErr(nil)
	probe := &tasks.StorageProbe{Store: h.store, Health: h.health, Pauses: h.pauses, Logger: zerolog.Nop(),
		Queues: []tasks.ServedQueue{{AppID: oaApp, Class: wxqr.ClassOAPerm}, {AppID: oaApp, Class: wxqr.ClassOATemp}}}
	if err := probe.Probe(t.Context(), time.Now()); err != nil {
		t.Fatal(err)
	}
	if s, _ := h.pauses.Paused(t.Context(), tasks.QueueName(oaApp, wxqr.ClassOAPerm)); s != nil {
		t.Fatalf("queue still paused after the probe found storage: %+v", s)
	}
	for scene := int64(1); scene <= codes; scene++ {
		if err := h.gen.ProcessTask(t.Context(), permTask(t, scene)); err != nil {
			t.Errorf("scene %d after storage came back: %v", scene, err)
		}
		key := wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: oaApp, SceneID: int64(scene)}.Key()
		if _, ok := h.store.object(t, key); !ok {
			t.Errorf("scene %d: no image stored", scene)
		}
	}
	if creates, _ := h.wechat.calls(); creates != codes {
		t.Errorf("create calls = %d, want exactly one per code (%d)", creates, codes)
	}
}

// TestGenerateStopsAtTheStagedBytesCap checks that no code is made while
// the images staged in Redis reach the cap: a wait, not a failure. Only a
// Mini Program code's image is staged (an Official Account code stages its
// ticket, and fetches the image again for free), so here one staged as a
// Mini Program code's would be fills the cap.
func TestGenerateStopsAtTheStagedBytesCap(t *testing.T) {
	ctx := t.Context()
	h := newGuardHarness(t, tasks.BreakerConfig{}, tasks.StorageHealthConfig{Failures: 100, MaxStagedBytes: 1})
	h.store.setPutErr(errors.New("slow down"))
	wantRetryLater(t, h.gen.ProcessTask(ctx, permTask(t, 1)))
	if n, err := h.catalog.StagedBytes(ctx); err != nil || n != 0 {
		t.Errorf("staged bytes after an Official Account code failed storage = %d, %v; want 0: only its ticket is staged", n, err)
	}
	wxa := &catalog.Staged{Generation: 1, Image: jpegOf(t, "wxa"), ContentType: wxqr.ContentTypeJPEG, CreatedAt: time.Now()}
	if err := h.catalog.Stage(ctx, wxaSpec.ID(), wxa); err != nil {
		t.Fatal(err)
	}
	later := wantRetryLater(t, h.gen.ProcessTask(ctx, permTask(t, 2)))
	if creates, _ := h.wechat.calls(); creates != 1 {
		t.Errorf("create calls = %d, want 1: none past the cap (%v)", creates, later)
	}
	if s, _ := h.pauses.Paused(ctx, tasks.QueueName(oaApp, wxqr.ClassOAPerm)); s != nil {
		t.Errorf("queue paused (%+v) at the cap of staged bytes, want only a wait", s)
	}
	// Stored, the staged image no longer counts.
	h.store.setPutErr(nil)
	lease, err := h.catalog.Lock(ctx, wxaSpec.ID(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.catalog.DropStaged(ctx, wxaSpec.ID(), lease); err != nil {
		t.Fatal(err)
	}
	lease.Release()
	for scene := int64(1); scene <= 2; scene++ {
		if err := h.gen.ProcessTask(ctx, permTask(t, scene)); err != nil {
			t.Errorf("scene %d: %v", scene, err)
		}
	}
	if creates, _ := h.wechat.calls(); creates != 2 {
		t.Errorf("create calls = %d, want 2: one per code", creates)
	}
}

// TestGenerateBreaker runs codes while WeChat answers -1 to every call: the
// breaker opens, the queue pauses (reason wechat_unavailable) and no
// further call is made; after the pause, calls go through again.
func TestGenerateBreaker(t *testing.T) {
	const failures = 4
	h := newGuardHarness(t, tasks.BreakerConfig{Failures: failures, Pause: 300 * time.Millisecond, MaxPause: time.Second},
		tasks.StorageHealthConfig{})
	h.wechat.set(&wechat.APIError{Op: "qrcode/create", Code: -1, Msg: "system error"})
	for scene := int64(1); scene < failures; scene++ {
		if err := h.gen.ProcessTask(t.Context(), permTask(t, scene)); !tasks.IsFailure(err) {
			t.Fatalf("scene %d: %v, want a failure before the breaker opens", scene, err)
		}
	}
	// The failure that opens the breaker is a wait, and pauses the queues
	// calling qrcode/create.
	wantRetryLater(t, h.gen.ProcessTask(t.Context(), permTask(t, failures)))
	queue := tasks.QueueName(oaApp, wxqr.ClassOAPerm)
	s := wantPaused(t, h.pauses, queue, tasks.ReasonWeChatUnavailable)
	if d := s.ResumeAt.Sub(s.PausedAt); d <= 200*time.Millisecond || d > 300*time.Millisecond {
		t.Errorf("pause lasts %s, want the breaker's 300ms", d)
	}
	wantPaused(t, h.pauses, tasks.QueueName(oaApp, wxqr.ClassOATemp), tasks.ReasonWeChatUnavailable)
	for scene := int64(failures + 1); scene <= failures+3; scene++ {
		wantRetryLater(t, h.gen.ProcessTask(t.Context(), permTask(t, scene)))
	}
	if creates, _ := h.wechat.calls(); creates != failures {
		t.Errorf("create calls = %d, want %d: none while the breaker is open", creates, failures)
	}

	// The pause ends (the worker resumes it at ResumeAt); WeChat is back.
	deadline := time.Now().Add(10 * time.Second)
	for {
		resumed, err := h.pauses.ResumeDue(t.Context(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if len(resumed) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pauses never ended (%d resumed)", len(resumed))
		}
		time.Sleep(50 * time.Millisecond)
	}
	h.wechat.set(nil)
	deadline = time.Now().Add(10 * time.Second)
	for scene := int64(1); scene <= failures+3; scene++ {
		for {
			err := h.gen.ProcessTask(t.Context(), permTask(t, scene))
			if err == nil {
				break
			}
			// The breaker itself may stay open a little longer than the pause
			// as read by this process's clock.
			wantRetryLater(t, err)
			if time.Now().After(deadline) {
				t.Fatalf("scene %d: %v", scene, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if creates, _ := h.wechat.calls(); creates != 2*failures+3 {
		t.Errorf("create calls = %d, want %d", creates, 2*failures+3)
	}
}
