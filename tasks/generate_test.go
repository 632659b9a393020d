package tasks_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/ratelimit"
	"github.com/wxqr/wxqr/storage"
	"github.com/wxqr/wxqr/tasks"
	"github.com/wxqr/wxqr/wechat"
)

// genNow is the generator's clock in these tests: 04:30 on 11 March in
// Shanghai, still 10 March in UTC, so that a daily reset computed in the
// wrong zone shows.
var genNow = time.Date(2025, 3, 10, 20, 30, 0, 0, time.UTC)

const (
	oaApp = "wxoa" // an Official Account
	mpApp = "wxmp" // a Mini Program

	apiCreate   = "qrcode/create"
	apiShow     = "showqrcode"
	apiWxaQR    = "wxaapp/createwxaqrcode"
	testBucket  = "codes"
	testPrefix  = "wxqr/"
	tempSeconds = 3600
)

var (
	permSpec = wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: oaApp, SceneID: 42}
	tempSpec = wxqr.Spec{Kind: wxqr.KindOATemp, AppID: oaApp, SceneStr: "promo-7"}
	wxaSpec  = wxqr.Spec{Kind: wxqr.KindWxaQRCode, AppID: mpApp, Path: "pages/index?id=1"}
)

// fakeWeChat answers like WeChat and remembers every call, in order.
type fakeWeChat struct {
	mu         sync.Mutex
	calls      []string // the APIs called
	createReqs []wechat.CreateQRCodeRequest
	wxaReqs    []wechat.CreateWxaQRCodeRequest
	tickets    []string // the tickets shown
	createErr  error    // returned by every call that makes a code
	showErr    error    // returned by showqrcode
}

func (f *fakeWeChat) CreateQRCode(_ context.Context, req *wechat.CreateQRCodeRequest) (*wechat.QRCodeTicket, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, apiCreate)
	f.createReqs = append(f.createReqs, *req)
	if f.createErr != nil {
		return nil, f.createErr
	}
	n := len(f.createReqs)
	return &wechat.QRCodeTicket{
		Ticket:        fmt.Sprintf("ticket-%d", n),
		URL:           fmt.Sprintf("http://weixin.qq.com/q/%d", n),
		ExpireSeconds: req.ExpireSeconds,
	}, nil
}

func (f *fakeWeChat) ShowQRCode(_ context.Context, ticket string) (*wechat.Image, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, apiShow)
	f.tickets = append(f.tickets, ticket)
	if f.showErr != nil {
		return nil, f.showErr
	}
	return &wechat.Image{Data: jpegOf(ticket), ContentType: "image/jpeg"}, nil
}

func (f *fakeWeChat) CreateWxaQRCode(_ context.Context, req *wechat.CreateWxaQRCodeRequest) (*wechat.Image, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, apiWxaQR)
	f.wxaReqs = append(f.wxaReqs, *req)
	if f.createErr != nil {
		return nil, f.createErr
	}
	return &wechat.Image{Data: jpegOf(req.Path), ContentType: "image/jpeg"}, nil
}

func (f *fakeWeChat) GetWxaCode(context.Context, *wechat.GetWxaCodeRequest) (*wechat.Image, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "wxa/getwxacode")
	return nil, errors.New("fake: getwxacode is not used by these tests")
}

func (f *fakeWeChat) GetWxaCodeUnlimited(context.Context, *wechat.GetWxaCodeUnlimitedRequest) (*wechat.Image, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "wxa/getwxacodeunlimit")
	return nil, errors.New("fake: getwxacodeunlimit is not used by these tests")
}

func (f *fakeWeChat) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// jpegOf is a distinct image per ticket or path, starting like a JPEG.
func jpegOf(s string) []byte { return []byte("\xff\xd8\xff" + s) }

// fakeCatalog keeps records, staged results and locks in memory, copying
// what goes in and out as Redis would.
type fakeCatalog struct {
	mu      sync.Mutex
	records map[string]wxqr.Record
	staged  map[string]catalog.Staged
	locked  map[string]bool
	lockErr error // what Lock fails with, if set
	locks   int   // Lock calls
	stages  int   // Stage calls
	drops   int   // DropStaged calls
	puts    int   // Put calls
}

func newFakeCatalog() *fakeCatalog {
	return &fakeCatalog{records: map[string]wxqr.Record{}, staged: map[string]catalog.Staged{}, locked: map[string]bool{}}
}

func (c *fakeCatalog) Get(_ context.Context, id string) (*wxqr.Record, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	rec, ok := c.records[id]
	if !ok {
		return nil, fmt.Errorf("fake catalog: get %s: %w", id, catalog.ErrNotFound)
	}
	return &rec, nil
}

func (c *fakeCatalog) Put(_ context.Context, rec *wxqr.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.puts++
	c.records[rec.ID] = *rec
	return nil
}

func (c *fakeCatalog) Stage(_ context.Context, id string, s *catalog.Staged) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stages++
	c.staged[id] = cloneStaged(*s)
	return nil
}

func (c *fakeCatalog) Staged(_ context.Context, id string) (*catalog.Staged, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.staged[id]
	if !ok {
		return nil, nil
	}
	s = cloneStaged(s)
	return &s, nil
}

func (c *fakeCatalog) DropStaged(_ context.Context, id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.drops++
	delete(c.staged, id)
	return nil
}

func (c *fakeCatalog) Lock(_ context.Context, id string, _ time.Duration) (func(), bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.locks++
	if c.lockErr != nil {
		return nil, false, c.lockErr
	}
	if c.locked[id] {
		return nil, false, nil
	}
	c.locked[id] = true
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.locked, id)
	}, true, nil
}

func (c *fakeCatalog) record(id string) (wxqr.Record, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	rec, ok := c.records[id]
	return rec, ok
}

func (c *fakeCatalog) stagedResult(id string) (catalog.Staged, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.staged[id]
	return cloneStaged(s), ok
}

func (c *fakeCatalog) isLocked(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.locked[id]
}

func cloneStaged(s catalog.Staged) catalog.Staged {
	s.Image = slices.Clone(s.Image)
	return s
}

// fakeStore is an object store in memory whose Put can be made to fail.
type fakeStore struct {
	mu      sync.Mutex
	objects map[string]storage.Object
	putErr  error
	puts    int // Put calls, failed ones included
}

func (s *fakeStore) Put(_ context.Context, key string, body []byte, contentType string, meta map[string]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.puts++
	if s.putErr != nil {
		return fmt.Errorf("fake storage: put %q: %w", key, s.putErr)
	}
	m := map[string]string{}
	for k, v := range meta {
		m[k] = v
	}
	s.objects[key] = storage.Object{Body: slices.Clone(body), ContentType: contentType, Meta: m}
	return nil
}

func (s *fakeStore) Get(_ context.Context, key string) (*storage.Object, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	obj, ok := s.objects[key]
	if !ok {
		return nil, fmt.Errorf("fake storage: get %q: %w", key, storage.ErrNotFound)
	}
	return &obj, nil
}

func (s *fakeStore) Walk(_ context.Context, prefix string, fn func(key string) error) error {
	s.mu.Lock()
	var keys []string
	for k := range s.objects {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	s.mu.Unlock()
	sort.Strings(keys)
	for _, k := range keys {
		if err := fn(k); err != nil {
			return err
		}
	}
	return nil
}

func (s *fakeStore) Check(context.Context) error { return nil }

func (s *fakeStore) Location(key string) (string, string) { return testBucket, testPrefix + key }

func (s *fakeStore) setPutErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.putErr = err
}

func (s *fakeStore) object(key string) (storage.Object, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	obj, ok := s.objects[key]
	return obj, ok
}

func (s *fakeStore) putCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.puts
}

// fakeLimiter lets every call through at once, or fails with err.
type fakeLimiter struct {
	mu    sync.Mutex
	keys  []string
	err   error
	waits int
}

func (l *fakeLimiter) Wait(_ context.Context, key string) (time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.waits++
	l.keys = append(l.keys, key)
	return 0, l.err
}

// fakeBudget counts what is spent and refunded per key; exhausted refuses
// every Spend.
type fakeBudget struct {
	mu        sync.Mutex
	spent     map[string]int64
	refunded  map[string]int64
	exhausted bool
}

func (b *fakeBudget) Spend(_ context.Context, key string, n int64) (bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.exhausted {
		return false, nil
	}
	b.spent[key] += n
	return true, nil
}

func (b *fakeBudget) Refund(_ context.Context, key string, n int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refunded[key] += n
	return nil
}

// counts returns what was spent and refunded under key.
func (b *fakeBudget) counts(key string) (spent, refunded int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.spent[key], b.refunded[key]
}

// fakePauses is a pause board in memory; every Pause call is kept.
type fakePauses struct {
	mu     sync.Mutex
	paused map[string]tasks.PauseState
	calls  []tasks.PauseState
}

func (p *fakePauses) Pause(_ context.Context, s tasks.PauseState) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, s)
	_, already := p.paused[s.Queue]
	p.paused[s.Queue] = s
	return !already, nil
}

func (p *fakePauses) Paused(_ context.Context, queue string) (*tasks.PauseState, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.paused[queue]
	if !ok {
		return nil, nil
	}
	return &s, nil
}

func (p *fakePauses) Waiting(context.Context, string) (int, error) { return 3, nil }

func (p *fakePauses) pauseCalls() []tasks.PauseState {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.calls)
}

// fakeObserver counts the codes generated per kind.
type fakeObserver struct {
	mu        sync.Mutex
	generated map[wxqr.Kind]int
	calls     int
}

func (o *fakeObserver) WeChatCall(string, string, error, time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls++
}

func (o *fakeObserver) LimiterWait(string, string, time.Duration) {}

func (o *fakeObserver) CodeGenerated(_ string, kind wxqr.Kind) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.generated[kind]++
}

func (o *fakeObserver) wechatCalls() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.calls
}

func (o *fakeObserver) generatedCount(kind wxqr.Kind) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.generated[kind]
}

// harness is a Generator wired to fakes, on the fixed clock genNow.
type harness struct {
	wechat   *fakeWeChat
	catalog  *fakeCatalog
	store    *fakeStore
	limiter  *fakeLimiter
	budget   *fakeBudget
	pauses   *fakePauses
	observer *fakeObserver
	gen      *tasks.Generator
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{
		wechat:   &fakeWeChat{},
		catalog:  newFakeCatalog(),
		store:    &fakeStore{objects: map[string]storage.Object{}},
		limiter:  &fakeLimiter{},
		budget:   &fakeBudget{spent: map[string]int64{}, refunded: map[string]int64{}},
		pauses:   &fakePauses{paused: map[string]tasks.PauseState{}},
		observer: &fakeObserver{generated: map[wxqr.Kind]int{}},
	}
	h.gen = &tasks.Generator{
		Clients:  map[string]tasks.WeChat{oaApp: h.wechat, mpApp: h.wechat},
		Catalog:  h.catalog,
		Store:    h.store,
		Limiter:  h.limiter,
		Budget:   h.budget,
		Pauses:   h.pauses,
		Observer: h.observer,
		Logger:   zerolog.Nop(),
		Now:      func() time.Time { return genNow },
	}
	return h
}

// run processes task as a worker would, minus asynq's metadata.
func (h *harness) run(t *testing.T, task *asynq.Task) error {
	t.Helper()
	return h.gen.ProcessTask(t.Context(), task)
}

func generateTask(t *testing.T, p tasks.GeneratePayload) *asynq.Task {
	t.Helper()
	task, err := tasks.NewGenerateTask(p)
	if err != nil {
		t.Fatalf("NewGenerateTask: %v", err)
	}
	return task
}

// defaultPausedRetry is Generator.PausedRetry's documented default.
const defaultPausedRetry = 5 * time.Second

// wantRetryLater fails t unless err is a wait (not a failure) and returns it.
func wantRetryLater(t *testing.T, err error) *tasks.RetryLaterError {
	t.Helper()
	var later *tasks.RetryLaterError
	if !errors.As(err, &later) {
		t.Fatalf("err = %v, want a *tasks.RetryLaterError", err)
	}
	if tasks.IsFailure(err) {
		t.Errorf("IsFailure(%v) = true, want false", err)
	}
	if errors.Is(err, asynq.SkipRetry) {
		t.Errorf("err = %v wraps asynq.SkipRetry, want a retry", err)
	}
	return later
}

// wantStored checks that the code of spec is in storage (image and sidecar)
// and in the catalog at generation gen, with nothing left staged, and
// returns its record.
func wantStored(t *testing.T, h *harness, spec wxqr.Spec, gen int) wxqr.Record {
	t.Helper()
	id := spec.ID()
	key := spec.Key()
	rec, ok := h.catalog.record(id)
	if !ok {
		t.Fatalf("catalog has no record of %s", id)
	}
	img, ok := h.store.object(key)
	if !ok {
		t.Fatalf("no image at %s", key)
	}
	sum := sha256.Sum256(img.Body)
	checks := []struct {
		field     string
		got, want any
	}{
		{"record id", rec.ID, id},
		{"record spec", rec.Spec, spec.Normalize()},
		{"record generation", rec.Generation, gen},
		{"record bucket", rec.Bucket, testBucket},
		{"record key", rec.ObjectKey, testPrefix + key},
		{"record content type", rec.ContentType, "image/jpeg"},
		{"record size", rec.Size, int64(len(img.Body))},
		{"record sha256", rec.SHA256, hex.EncodeToString(sum[:])},
		{"image content type", img.ContentType, "image/jpeg"},
		{"image meta wxqr-id", img.Meta["wxqr-id"], id},
		{"image meta wxqr-generation", img.Meta["wxqr-generation"], fmt.Sprint(gen)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.field, c.got, c.want)
		}
	}
	sidecar, ok := h.store.object(catalog.SidecarKey(key))
	if !ok {
		t.Fatalf("no sidecar at %s", catalog.SidecarKey(key))
	}
	want, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	if string(sidecar.Body) != string(want) {
		t.Errorf("sidecar = %s, want the catalog's record %s", sidecar.Body, want)
	}
	if _, ok := h.catalog.stagedResult(id); ok {
		t.Error("a staged result is left after the code was recorded")
	}
	if h.catalog.isLocked(id) {
		t.Error("the code's lock is still held after the run")
	}
	return rec
}

func TestGenerateMakesCodes(t *testing.T) {
	tests := []struct {
		name      string
		payload   tasks.GeneratePayload
		wantCalls []string
		check     func(t *testing.T, h *harness, rec wxqr.Record)
	}{
		{
			name:      "oa_perm",
			payload:   tasks.GeneratePayload{Spec: permSpec, Campaign: "spring"},
			wantCalls: []string{apiCreate, apiShow},
			check: func(t *testing.T, h *harness, rec wxqr.Record) {
				wantReq := wechat.CreateQRCodeRequest{ActionName: wechat.QRLimitScene, SceneID: 42}
				if got := h.wechat.createReqs[0]; got != wantReq {
					t.Errorf("qrcode/create request = %+v, want %+v", got, wantReq)
				}
				if got := h.wechat.tickets; !slices.Equal(got, []string{"ticket-1"}) {
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
			},
		},
		{
			name:      "wxa_qrcode",
			payload:   tasks.GeneratePayload{Spec: wxaSpec},
			wantCalls: []string{apiWxaQR},
			check: func(t *testing.T, h *harness, rec wxqr.Record) {
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
			check: func(t *testing.T, h *harness, rec wxqr.Record) {
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
			rec := wantStored(t, h, tt.payload.Spec, 1)
			tt.check(t, h, rec)

			limitKey := tasks.LimitKey(tt.payload.Spec.AppID, tt.payload.Spec.Kind.API())
			if spent, refunded := h.budget.counts(limitKey); spent != 1 || refunded != 0 {
				t.Errorf("budget of %s: spent %d, refunded %d, want 1 and 0", limitKey, spent, refunded)
			}
			if !slices.Equal(h.limiter.keys, []string{limitKey}) {
				t.Errorf("limiter keys = %q, want [%s]", h.limiter.keys, limitKey)
			}
			if h.catalog.stages == 0 {
				t.Error("the result was never staged before it was stored")
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
			rec := tt.rec(tt.spec)
			h.catalog.records[rec.ID] = rec
			if err := h.run(t, generateTask(t, tasks.GeneratePayload{Spec: tt.spec})); err != nil {
				t.Fatalf("ProcessTask: %v", err)
			}
			if got := h.wechat.Calls(); len(got) != 0 {
				t.Errorf("WeChat calls = %q, want none", got)
			}
			if h.catalog.puts != 0 || h.store.putCalls() != 0 {
				t.Errorf("catalog puts %d, storage puts %d, want none", h.catalog.puts, h.store.putCalls())
			}
			if got, _ := h.catalog.record(rec.ID); got != rec {
				t.Errorf("record changed: %+v, want %+v", got, rec)
			}
			if h.limiter.waits != 0 {
				t.Errorf("limiter asked %d times, want 0", h.limiter.waits)
			}
			if got := h.observer.generatedCount(tt.spec.Kind); got != 0 {
				t.Errorf("observer saw %d codes generated, want 0", got)
			}
		})
	}
}

func TestGenerateReusesStagedResult(t *testing.T) {
	stagedAt := genNow.Add(-10 * time.Minute)
	tests := []struct {
		name        string
		payload     tasks.GeneratePayload
		staged      catalog.Staged
		wantCalls   []string
		wantTicket  string
		wantExpires time.Time
	}{
		{
			name:    "oa_perm image staged",
			payload: tasks.GeneratePayload{Spec: permSpec},
			staged: catalog.Staged{Generation: 1, Ticket: "ticket-old", URL: "http://weixin.qq.com/q/old",
				Image: jpegOf("ticket-old"), ContentType: "image/jpeg", CreatedAt: stagedAt},
			wantTicket: "ticket-old",
		},
		{
			name:    "wxa_qrcode image staged",
			payload: tasks.GeneratePayload{Spec: wxaSpec},
			staged:  catalog.Staged{Generation: 1, Image: jpegOf("old"), ContentType: "image/jpeg", CreatedAt: stagedAt},
		},
		{
			name:       "oa_perm ticket staged without its image",
			payload:    tasks.GeneratePayload{Spec: permSpec},
			staged:     catalog.Staged{Generation: 1, Ticket: "ticket-old", URL: "http://weixin.qq.com/q/old", CreatedAt: stagedAt},
			wantCalls:  []string{apiShow},
			wantTicket: "ticket-old",
		},
		{
			name:    "oa_temp ticket staged without its image",
			payload: tasks.GeneratePayload{Spec: tempSpec, ExpireSeconds: tempSeconds},
			staged: catalog.Staged{Generation: 1, Ticket: "ticket-old", URL: "http://weixin.qq.com/q/old",
				ExpireSeconds: tempSeconds, CreatedAt: stagedAt},
			wantCalls:   []string{apiShow},
			wantTicket:  "ticket-old",
			wantExpires: stagedAt.Add(tempSeconds * time.Second),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			spec := tt.payload.Spec
			h.catalog.staged[spec.ID()] = tt.staged
			if err := h.run(t, generateTask(t, tt.payload)); err != nil {
				t.Fatalf("ProcessTask: %v", err)
			}
			if got := h.wechat.Calls(); !slices.Equal(got, tt.wantCalls) {
				t.Errorf("WeChat calls = %q, want %q", got, tt.wantCalls)
			}
			if slices.Contains(tt.wantCalls, apiShow) && !slices.Equal(h.wechat.tickets, []string{tt.staged.Ticket}) {
				t.Errorf("showqrcode tickets = %q, want the staged %q", h.wechat.tickets, tt.staged.Ticket)
			}
			rec := wantStored(t, h, spec, 1)
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
			if spent, _ := h.budget.counts(limitKey); spent != 0 {
				t.Errorf("budget of %s spent %d, want 0: the code was paid for already", limitKey, spent)
			}
		})
	}
}

func TestGenerateKeepsWhatWeChatMadeWhenStorageFails(t *testing.T) {
	tests := []struct {
		name       string
		payload    tasks.GeneratePayload
		firstCalls []string
	}{
		{"oa_perm", tasks.GeneratePayload{Spec: permSpec}, []string{apiCreate, apiShow}},
		{"wxa_qrcode", tasks.GeneratePayload{Spec: wxaSpec}, []string{apiWxaQR}},
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
			if h.catalog.stages == 0 {
				t.Error("Stage never called: the paid-for result would be lost")
			}
			if h.catalog.drops != 0 {
				t.Errorf("DropStaged called %d times, want 0 while the code is not stored", h.catalog.drops)
			}
			staged, ok := h.catalog.stagedResult(spec.ID())
			if !ok {
				t.Fatal("nothing staged after storage failed")
			}
			if staged.Generation != 1 || len(staged.Image) == 0 {
				t.Errorf("staged generation %d with %d bytes of image, want generation 1 with its image", staged.Generation, len(staged.Image))
			}
			if _, ok := h.catalog.record(spec.ID()); ok {
				t.Error("the code was recorded although its image is not stored")
			}

			h.store.setPutErr(nil)
			if err := h.run(t, task); err != nil {
				t.Fatalf("ProcessTask once storage is back: %v", err)
			}
			wantStored(t, h, spec, 1)
			if got := h.wechat.Calls(); !slices.Equal(got, tt.firstCalls) {
				t.Errorf("WeChat calls after both runs = %q, want %q: the retry must reuse the staged result", got, tt.firstCalls)
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

			calls := h.pauses.pauseCalls()
			if len(calls) != len(tt.wantPauses) {
				t.Fatalf("Pause called %d times (%+v), want %d", len(calls), calls, len(tt.wantPauses))
			}
			sort.Slice(calls, func(i, j int) bool { return calls[i].Queue < calls[j].Queue })
			want := slices.Clone(tt.wantPauses)
			sort.Slice(want, func(i, j int) bool { return want[i].Queue < want[j].Queue })
			for i, got := range calls {
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
			spent, refunded := h.budget.counts(limitKey)
			if spent != 1 {
				t.Errorf("budget of %s spent %d, want 1", limitKey, spent)
			}
			if wantRefunded := map[bool]int64{true: 1}[tt.wantRefund]; refunded != wantRefunded {
				t.Errorf("budget of %s refunded %d, want %d", limitKey, refunded, wantRefunded)
			}
			if _, ok := h.catalog.stagedResult(spec.ID()); ok {
				t.Error("something was staged although WeChat made no code")
			}
			if h.store.putCalls() != 0 || h.catalog.puts != 0 {
				t.Errorf("storage puts %d, catalog puts %d, want none", h.store.putCalls(), h.catalog.puts)
			}
			if h.catalog.isLocked(spec.ID()) {
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
		setup func(h *harness)
		check func(t *testing.T, h *harness, err error)
	}{
		{
			name: "queue paused",
			setup: func(h *harness) {
				q := tasks.QueueName(oaApp, wxqr.ClassOAPerm)
				h.pauses.paused[q] = tasks.PauseState{Queue: q, AppID: oaApp, Class: wxqr.ClassOAPerm, Errcode: 45029, Reason: "lifetime quota"}
			},
			check: func(t *testing.T, h *harness, err error) {
				if later := wantRetryLater(t, err); later.After != defaultPausedRetry {
					t.Errorf("retry after %v, want %v", later.After, defaultPausedRetry)
				}
				if spent, _ := h.budget.counts(permKey); spent != 0 {
					t.Errorf("budget spent %d, want 0", spent)
				}
			},
		},
		{
			name:  "code locked by another worker",
			setup: func(h *harness) { h.catalog.locked[permSpec.ID()] = true },
			check: func(t *testing.T, h *harness, err error) {
				wantRetryLater(t, err)
				if !h.catalog.isLocked(permSpec.ID()) {
					t.Error("the other worker's lock was released")
				}
				if spent, _ := h.budget.counts(permKey); spent != 0 {
					t.Errorf("budget spent %d, want 0", spent)
				}
			},
		},
		{
			name: "lock not acknowledged by a replica",
			setup: func(h *harness) {
				h.catalog.lockErr = fmt.Errorf("catalog: lock %s: %w: 0 of 1 within 1s", permSpec.ID(), catalog.ErrNotReplicated)
			},
			check: func(t *testing.T, h *harness, err error) {
				if later := wantRetryLater(t, err); later.After != defaultPausedRetry {
					t.Errorf("retry after %v, want %v", later.After, defaultPausedRetry)
				}
				if spent, _ := h.budget.counts(permKey); spent != 0 {
					t.Errorf("budget spent %d, want 0", spent)
				}
			},
		},
		{
			name: "rate limited",
			setup: func(h *harness) {
				h.limiter.err = fmt.Errorf("limit: %w", &ratelimit.DelayError{Key: permKey, RetryAfter: 3 * time.Second})
			},
			check: func(t *testing.T, h *harness, err error) {
				if later := wantRetryLater(t, err); later.After != 3*time.Second {
					t.Errorf("retry after %v, want the limiter's 3s", later.After)
				}
				if spent, refunded := h.budget.counts(permKey); spent != 1 || refunded != 1 {
					t.Errorf("budget spent %d, refunded %d, want 1 and 1", spent, refunded)
				}
			},
		},
		{
			name:  "daily budget spent",
			setup: func(h *harness) { h.budget.exhausted = true },
			check: func(t *testing.T, h *harness, err error) {
				wantRetryLater(t, err)
				var queues []string
				for _, s := range h.pauses.pauseCalls() {
					queues = append(queues, s.Queue)
					if s.ResumeAt.IsZero() {
						t.Errorf("pause of %s has no ResumeAt, want the daily reset", s.Queue)
					}
				}
				sort.Strings(queues)
				want := []string{tasks.QueueName(oaApp, wxqr.ClassOAPerm), tasks.QueueName(oaApp, wxqr.ClassOATemp)}
				if !slices.Equal(queues, want) {
					t.Errorf("paused queues = %q, want %q", queues, want)
				}
				if h.limiter.waits != 0 {
					t.Errorf("limiter asked %d times, want 0", h.limiter.waits)
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
				if h.catalog.locks != 0 {
					t.Errorf("Lock called %d times, want 0", h.catalog.locks)
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
				tt.setup(h)
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
			if h.store.putCalls() != 0 || h.catalog.puts != 0 {
				t.Errorf("storage puts %d, catalog puts %d, want none", h.store.putCalls(), h.catalog.puts)
			}
			tt.check(t, h, err)
		})
	}
}

func TestGenerateTicketNotFound(t *testing.T) {
	notFound := fmt.Errorf("wechat: showqrcode: HTTP 404: %w", wechat.ErrTicketNotFound)
	tests := []struct {
		name        string
		payload     tasks.GeneratePayload
		stagedAt    time.Time
		wantFailure bool
		wantSkip    bool
		wantKept    bool
	}{
		{
			// The ticket died: the next attempt makes a new one.
			name:        "oa_temp drops the ticket",
			payload:     tasks.GeneratePayload{Spec: tempSpec, ExpireSeconds: tempSeconds},
			stagedAt:    genNow.Add(-10 * time.Minute),
			wantFailure: true,
		},
		{
			name:     "oa_perm staged 10 minutes ago waits",
			payload:  tasks.GeneratePayload{Spec: permSpec},
			stagedAt: genNow.Add(-10 * time.Minute),
			wantKept: true,
		},
		{
			name:        "oa_perm staged 2 hours ago goes to the archive",
			payload:     tasks.GeneratePayload{Spec: permSpec},
			stagedAt:    genNow.Add(-2 * time.Hour),
			wantFailure: true,
			wantSkip:    true,
			wantKept:    true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.wechat.showErr = notFound
			spec := tt.payload.Spec
			staged := catalog.Staged{Generation: 1, Ticket: "ticket-old", URL: "http://weixin.qq.com/q/old", CreatedAt: tt.stagedAt}
			if spec.Kind.Temporary() {
				staged.ExpireSeconds = tempSeconds
			}
			h.catalog.staged[spec.ID()] = staged

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
			if tt.wantFailure && !errors.Is(err, wechat.ErrTicketNotFound) {
				t.Errorf("err = %v, want it to match ErrTicketNotFound", err)
			}
			if !tt.wantFailure {
				wantRetryLater(t, err)
			}
			if got := h.wechat.Calls(); !slices.Equal(got, []string{apiShow}) {
				t.Errorf("WeChat calls = %q, want only showqrcode", got)
			}
			got, kept := h.catalog.stagedResult(spec.ID())
			if kept != tt.wantKept {
				t.Errorf("staged ticket kept = %v, want %v", kept, tt.wantKept)
			}
			if kept && got.Ticket != staged.Ticket {
				t.Errorf("staged ticket = %q, want %q", got.Ticket, staged.Ticket)
			}
			if _, ok := h.catalog.record(spec.ID()); ok {
				t.Error("a code was recorded without its image")
			}
		})
	}
}

func TestGenerateRegenerates(t *testing.T) {
	prevOf := func(expiresAt time.Time, gen int, retired bool) wxqr.Record {
		return wxqr.Record{
			ID: tempSpec.ID(), Spec: tempSpec, Campaign: "spring", Ticket: "ticket-old",
			ExpireSeconds: tempSeconds, CreatedAt: expiresAt.Add(-tempSeconds * time.Second), ExpiresAt: expiresAt,
			Generation: gen, Bucket: testBucket, ObjectKey: testPrefix + tempSpec.Key(), Retired: retired,
		}
	}
	valid := genNow.Add(30 * time.Minute)
	expired := genNow.Add(-30 * time.Minute)
	tests := []struct {
		name       string
		prev       wxqr.Record
		staged     *catalog.Staged // left over from an earlier generation
		generation int
		wantGen    int // 0: nothing to make
	}{
		{name: "generation 2 of generation 1", prev: prevOf(valid, 1, false), generation: 2, wantGen: 2},
		{name: "expired code queued again", prev: prevOf(expired, 1, false), wantGen: 2},
		{
			name: "stale staged result of generation 1", prev: prevOf(valid, 1, false), generation: 2, wantGen: 2,
			staged: &catalog.Staged{Generation: 1, Ticket: "ticket-old", Image: jpegOf("ticket-old"), ContentType: "image/jpeg",
				ExpireSeconds: tempSeconds, CreatedAt: genNow.Add(-time.Hour)},
		},
		{name: "generation 2 exists already", prev: prevOf(valid, 3, false), generation: 2},
		{name: "code retired since", prev: prevOf(expired, 1, true), generation: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.catalog.records[tt.prev.ID] = tt.prev
			if tt.staged != nil {
				h.catalog.staged[tt.prev.ID] = *tt.staged
			}
			task := generateTask(t, tasks.GeneratePayload{Spec: tempSpec, ExpireSeconds: tempSeconds, Generation: tt.generation})
			if err := h.run(t, task); err != nil {
				t.Fatalf("ProcessTask: %v", err)
			}
			if tt.wantGen == 0 {
				if got := h.wechat.Calls(); len(got) != 0 {
					t.Errorf("WeChat calls = %q, want none", got)
				}
				if got, _ := h.catalog.record(tt.prev.ID); got != tt.prev {
					t.Errorf("record changed: %+v, want %+v", got, tt.prev)
				}
				return
			}
			wantCalls := []string{apiCreate, apiShow}
			if got := h.wechat.Calls(); !slices.Equal(got, wantCalls) {
				t.Errorf("WeChat calls = %q, want %q", got, wantCalls)
			}
			rec := wantStored(t, h, tempSpec, tt.wantGen)
			if rec.ObjectKey != tt.prev.ObjectKey {
				t.Errorf("record key = %s, want the previous generation's %s", rec.ObjectKey, tt.prev.ObjectKey)
			}
			if rec.Ticket != "ticket-1" {
				t.Errorf("record ticket = %q, want the new ticket-1", rec.Ticket)
			}
			if want := genNow.Add(tempSeconds * time.Second); !rec.ExpiresAt.Equal(want) {
				t.Errorf("record ExpiresAt = %v, want %v", rec.ExpiresAt, want)
			}
			if rec.Campaign != tt.prev.Campaign {
				t.Errorf("record campaign = %q, want the previous %q", rec.Campaign, tt.prev.Campaign)
			}

			if err := h.run(t, task); err != nil {
				t.Fatalf("ProcessTask again: %v", err)
			}
			if got := h.wechat.Calls(); !slices.Equal(got, wantCalls) {
				t.Errorf("WeChat calls after running the task again = %q, want still %q", got, wantCalls)
			}
			if got, _ := h.catalog.record(tt.prev.ID); got.Generation != tt.wantGen {
				t.Errorf("record generation after running again = %d, want %d", got.Generation, tt.wantGen)
			}
		})
	}
}
