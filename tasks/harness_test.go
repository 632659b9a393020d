package tasks_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image/jpeg"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"github.com/skip2/go-qrcode"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/internal/fakeclock"
	"github.com/wxqr/wxqr/internal/qrdecode"
	"github.com/wxqr/wxqr/internal/testenv"
	"github.com/wxqr/wxqr/ratelimit"
	"github.com/wxqr/wxqr/storage"
	"github.com/wxqr/wxqr/tasks"
	"github.com/wxqr/wxqr/wechat"
)

// The generator's tests run against the real Redis (catalog, staged
// results, locks, pauses, budgets) and a real directory store. What stays
// fake is WeChat, the rate limiter and the observer, and the thin wrappers
// below that count calls and inject the failures Redis and a disk cannot be
// made to produce on cue (contract_test.go holds the wrappers to the real
// behaviour).

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
	tempSeconds = 3600
	// dailyBudget is every key's daily budget unless a test exhausts it.
	dailyBudget = 1000
)

var (
	permSpec = wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: oaApp, SceneID: 42}
	tempSpec = wxqr.Spec{Kind: wxqr.KindOATemp, AppID: oaApp, SceneStr: "promo-7"}
	wxaSpec  = wxqr.Spec{Kind: wxqr.KindWxaQRCode, AppID: mpApp, Path: "pages/index?id=1"}
)

// qrImages caches the images jpegOf makes: encoding one takes a while under
// the race detector, and the same texts come back in many tests.
var qrImages sync.Map // text -> []byte

// jpegOf returns a whole JPEG, DefaultWidth pixels wide, of a QR code that
// encodes text: what WeChat returns for a code whose content is text.
func jpegOf(tb testing.TB, text string) []byte {
	tb.Helper()
	if img, ok := qrImages.Load(text); ok {
		return slices.Clone(img.([]byte))
	}
	qr, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		tb.Fatalf("encode %q as a QR code: %v", text, err)
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, qr.Image(wxqr.DefaultWidth), &jpeg.Options{Quality: 90}); err != nil {
		tb.Fatal(err)
	}
	qrImages.Store(text, b.Bytes())
	return slices.Clone(b.Bytes())
}

// Bodies WeChat sends when something breaks on the way, each taken for an
// image by a client that trusts its status line.
func truncatedJPEG(tb testing.TB) []byte {
	tb.Helper()
	img := jpegOf(tb, "cut short")
	return img[:len(img)/2]
}

var jsonErrorBody = []byte(`{"errcode":-1,"errmsg":"system error"}`)

// fakeWeChat answers like WeChat and remembers every call, in order. A
// ticket's image encodes the ticket; a Mini Program code's image encodes
// its path and the number of the call that made it, so that a test can
// tell which call an image came from.
type fakeWeChat struct {
	tb         testing.TB
	mu         sync.Mutex
	calls      []string // the APIs called
	createReqs []wechat.CreateQRCodeRequest
	wxaReqs    []wechat.CreateWxaQRCodeRequest
	tickets    []string // the tickets shown
	createErr  error    // returned by every call that makes a code
	showErr    error    // returned by showqrcode
	// deadTickets are tickets showqrcode no longer knows (404).
	deadTickets map[string]bool
	// showBodies and wxaBodies are returned, one per call and in order, as
	// the image of showqrcode or createwxaqrcode, before whole images.
	showBodies, wxaBodies [][]byte
	// noExpireSeconds leaves expire_seconds out of qrcode/create's answer.
	noExpireSeconds bool
	// onShow runs at each showqrcode call, before it answers.
	onShow func()
}

func newFakeWeChat(tb testing.TB) *fakeWeChat {
	return &fakeWeChat{tb: tb, deadTickets: map[string]bool{}}
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
	ticket := &wechat.QRCodeTicket{
		Ticket:        fmt.Sprintf("ticket-%d", n),
		URL:           fmt.Sprintf("http://weixin.qq.com/q/%d", n),
		ExpireSeconds: req.ExpireSeconds,
	}
	if f.noExpireSeconds {
		ticket.ExpireSeconds = 0
	}
	return ticket, nil
}

func (f *fakeWeChat) ShowQRCode(_ context.Context, ticket string) (*wechat.Image, error) {
	f.mu.Lock()
	f.calls = append(f.calls, apiShow)
	f.tickets = append(f.tickets, ticket)
	onShow := f.onShow
	f.mu.Unlock()
	if onShow != nil {
		onShow()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.showErr != nil:
		return nil, f.showErr
	case f.deadTickets[ticket]:
		return nil, fmt.Errorf("wechat: showqrcode: HTTP 404: %w", wechat.ErrTicketNotFound)
	case len(f.showBodies) > 0:
		body := f.showBodies[0]
		f.showBodies = f.showBodies[1:]
		return &wechat.Image{Data: body, ContentType: wxqr.ContentTypeJPEG}, nil
	}
	return &wechat.Image{Data: jpegOf(f.tb, ticket), ContentType: wxqr.ContentTypeJPEG}, nil
}

func (f *fakeWeChat) CreateWxaQRCode(_ context.Context, req *wechat.CreateWxaQRCodeRequest) (*wechat.Image, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, apiWxaQR)
	f.wxaReqs = append(f.wxaReqs, *req)
	if f.createErr != nil {
		return nil, f.createErr
	}
	if len(f.wxaBodies) > 0 {
		body := f.wxaBodies[0]
		f.wxaBodies = f.wxaBodies[1:]
		return &wechat.Image{Data: body, ContentType: wxqr.ContentTypeJPEG}, nil
	}
	return &wechat.Image{Data: jpegOf(f.tb, wxaContent(req.Path, len(f.wxaReqs))), ContentType: wxqr.ContentTypeJPEG}, nil
}

// wxaContent is what the image of the nth createwxaqrcode call for path
// encodes.
func wxaContent(path string, n int) string { return fmt.Sprintf("%s#%d", path, n) }

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

func (f *fakeWeChat) Tickets() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.tickets)
}

// testCatalog is the real catalog with its calls counted and, on demand, a
// failure of Claim or Finish: a Redis that fails one command and not the
// next cannot be had otherwise.
type testCatalog struct {
	*catalog.Catalog

	mu        sync.Mutex
	putErr    error // returned by Finish instead of writing
	lockErr   error // returned by Claim instead of locking
	stagedErr error // returned by Claim as if the staged result could not be read
	locks     int   // Claim calls
	stages    int   // Stage calls
	drops     int   // DropStaged calls
	puts      int   // Finish calls, failed ones included
}

var _ tasks.Catalog = (*testCatalog)(nil)

func (c *testCatalog) Claim(ctx context.Context, id string, ttl time.Duration, campaign string) (*catalog.Claim, error) {
	c.count(&c.locks)
	c.mu.Lock()
	lockErr, stagedErr := c.lockErr, c.stagedErr
	c.mu.Unlock()
	switch {
	case lockErr != nil:
		return nil, lockErr
	case stagedErr != nil:
		return nil, fmt.Errorf("test catalog: claim %s: %w", id, stagedErr)
	}
	return c.Catalog.Claim(ctx, id, ttl, campaign)
}

func (c *testCatalog) Stage(ctx context.Context, id string, s *catalog.Staged) error {
	c.count(&c.stages)
	return c.Catalog.Stage(ctx, id, s)
}

func (c *testCatalog) DropStaged(ctx context.Context, id string, lease *catalog.Lease) error {
	c.count(&c.drops)
	return c.Catalog.DropStaged(ctx, id, lease)
}

func (c *testCatalog) Finish(ctx context.Context, rec *wxqr.Record, lease *catalog.Lease) error {
	c.count(&c.puts)
	c.mu.Lock()
	err := c.putErr
	c.mu.Unlock()
	if err != nil {
		return fmt.Errorf("test catalog: finish %s: %w", rec.ID, err)
	}
	return c.Catalog.Finish(ctx, rec, lease)
}

func (c *testCatalog) count(n *int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	*n++
}

// counts returns Claim, Stage, DropStaged and Finish calls so far.
func (c *testCatalog) counts() (locks, stages, drops, puts int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.locks, c.stages, c.drops, c.puts
}

func (c *testCatalog) setPutErr(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putErr = err
}

// lockKey is the Redis key of code id's lock (catalog's default prefix).
func lockKey(id string) string { return catalog.DefaultPrefix + "lock:" + id }

// testStore is a directory store in the test's own directory, with its
// calls counted, Put made to fail on demand, and a hook run at each Put
// (before it writes).
type testStore struct {
	*storage.DirStore

	mu     sync.Mutex
	putErr error
	onPut  func()
	puts   int // Put calls, failed ones included
	gets   int // Get calls
}

var _ storage.Store = (*testStore)(nil)

func newTestStore(t *testing.T) *testStore {
	t.Helper()
	dir, err := storage.NewDir(t.TempDir(), "codes")
	if err != nil {
		t.Fatal(err)
	}
	return &testStore{DirStore: dir}
}

func (s *testStore) Put(ctx context.Context, key string, body []byte, contentType string, meta map[string]string) error {
	s.mu.Lock()
	s.puts++
	err, onPut := s.putErr, s.onPut
	s.mu.Unlock()
	if onPut != nil {
		onPut()
	}
	if err != nil {
		return fmt.Errorf("test storage: put %q: %w", key, err)
	}
	return s.DirStore.Put(ctx, key, body, contentType, meta)
}

func (s *testStore) Get(ctx context.Context, key string) (*storage.Object, error) {
	s.mu.Lock()
	s.gets++
	s.mu.Unlock()
	return s.DirStore.Get(ctx, key)
}

func (s *testStore) setPutErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.putErr = err
}

// counts returns Put and Get calls so far.
func (s *testStore) counts() (puts, gets int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.puts, s.gets
}

// object reads key from the directory itself, uncounted.
func (s *testStore) object(t *testing.T, key string) (*storage.Object, bool) {
	t.Helper()
	obj, err := s.DirStore.Get(t.Context(), key)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return obj, true
}

// fakeLimiter lets every call through at once, or fails with err; onWait
// runs inside each Wait, where a real limiter may keep a worker waiting.
type fakeLimiter struct {
	mu     sync.Mutex
	keys   []string
	err    error
	onWait func()
}

func (l *fakeLimiter) Wait(_ context.Context, key string) (time.Duration, error) {
	l.mu.Lock()
	l.keys = append(l.keys, key)
	err, onWait := l.err, l.onWait
	l.mu.Unlock()
	if onWait != nil {
		onWait()
	}
	return 0, err
}

func (l *fakeLimiter) Keys() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.keys)
}

// countingBudget is the real daily budget, with its calls counted: Redis
// holds what is spent net of refunds, the counts tell the two apart.
type countingBudget struct {
	*ratelimit.Budget

	mu      sync.Mutex
	spends  map[string]int64 // accepted Spend calls per key
	refunds map[string]int64 // Refund calls per key
}

func (b *countingBudget) Spend(ctx context.Context, key string, n int64) (bool, error) {
	ok, err := b.Budget.Spend(ctx, key, n)
	if ok && err == nil {
		b.mu.Lock()
		b.spends[key] += n
		b.mu.Unlock()
	}
	return ok, err
}

func (b *countingBudget) Refund(ctx context.Context, key string, n int64) error {
	b.mu.Lock()
	b.refunds[key] += n
	b.mu.Unlock()
	return b.Budget.Refund(ctx, key, n)
}

// counts returns what was spent and refunded under key, and what Redis
// says is used today.
func (b *countingBudget) counts(t *testing.T, key string) (spent, refunded, used int64) {
	t.Helper()
	used, _, err := b.Used(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.spends[key], b.refunds[key], used
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

// harness is a Generator on the real Redis and a directory store, with a
// fake WeChat, on a clock that starts at genNow.
type harness struct {
	clock    *fakeclock.Clock
	rdb      *redis.Client
	wechat   *fakeWeChat
	catalog  *testCatalog
	store    *testStore
	limiter  *fakeLimiter
	budget   *countingBudget
	pauses   *tasks.Pauses
	observer *fakeObserver
	gen      *tasks.Generator
	cfg      tasks.GeneratorConfig

	mu sync.Mutex
	// budgetLimit is every key's daily budget (dailyBudget unless set).
	budgetLimit int64
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	opts := testenv.RedisOptions(t)
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	inspector := asynq.NewInspector(asynq.RedisClientOpt{Addr: opts.Addr, DB: opts.DB, Password: opts.Password})
	t.Cleanup(func() { inspector.Close() })

	h := &harness{
		clock:       fakeclock.New(genNow),
		rdb:         rdb,
		wechat:      newFakeWeChat(t),
		catalog:     &testCatalog{Catalog: catalog.New(rdb, "")},
		store:       newTestStore(t),
		limiter:     &fakeLimiter{},
		pauses:      tasks.NewPauses(rdb, inspector),
		observer:    &fakeObserver{generated: map[wxqr.Kind]int{}},
		budgetLimit: dailyBudget,
	}
	h.budget = &countingBudget{
		Budget: ratelimit.NewBudget(rdb, ratelimit.BudgetConfig{
			Limits: func(string) (int64, bool) {
				h.mu.Lock()
				defer h.mu.Unlock()
				return h.budgetLimit, true
			},
			Now: h.clock.Now,
		}),
		spends: map[string]int64{}, refunds: map[string]int64{},
	}
	h.configure(t, func(cfg *tasks.GeneratorConfig) {
		*cfg = tasks.GeneratorConfig{
			Clients:  map[string]tasks.WeChat{oaApp: h.wechat, mpApp: h.wechat},
			Catalog:  h.catalog,
			Store:    h.store,
			Limiter:  h.limiter,
			Budget:   h.budget,
			Pauses:   h.pauses,
			Observer: h.observer,
			Logger:   zerolog.Nop(),
			Now:      h.clock.Now,
		}
	})
	return h
}

// configure changes the generator's configuration and makes the generator
// anew with it.
func (h *harness) configure(t *testing.T, change func(*tasks.GeneratorConfig)) {
	t.Helper()
	change(&h.cfg)
	gen, err := tasks.NewGenerator(h.cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.gen = gen
}

func (h *harness) exhaustBudget() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.budgetLimit = 0
}

// run processes task as a worker would, minus asynq's metadata.
func (h *harness) run(t *testing.T, task *asynq.Task) error {
	t.Helper()
	return h.gen.ProcessTask(t.Context(), task)
}

// record returns the catalog's record of id, if any.
func (h *harness) record(t *testing.T, id string) (*wxqr.Record, bool) {
	t.Helper()
	rec, err := h.catalog.Get(t.Context(), id)
	if errors.Is(err, catalog.ErrNotFound) {
		return nil, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return rec, true
}

// mustPut records rec in the catalog as an earlier run would have, and
// returns it as the catalog gives it back.
func (h *harness) mustPut(t *testing.T, rec wxqr.Record) *wxqr.Record {
	t.Helper()
	if err := h.catalog.Put(t.Context(), &rec); err != nil {
		t.Fatal(err)
	}
	got, _ := h.record(t, rec.ID)
	return got
}

// staged returns the staged result of id, as Redis returns it.
func (h *harness) staged(t *testing.T, id string) *catalog.Staged {
	t.Helper()
	s, err := h.catalog.Catalog.Staged(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// mustStage stages s for id through the real catalog.
func (h *harness) mustStage(t *testing.T, id string, s catalog.Staged) {
	t.Helper()
	if err := h.catalog.Catalog.Stage(t.Context(), id, &s); err != nil {
		t.Fatal(err)
	}
}

// called returns the generation the call mark of id says was asked for.
func (h *harness) called(t *testing.T, id string) int {
	t.Helper()
	gen, err := h.catalog.Called(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return gen
}

// lockHolder returns the token in id's lock, or "" when nobody holds it.
func (h *harness) lockHolder(t *testing.T, id string) string {
	t.Helper()
	token, err := h.rdb.Get(t.Context(), lockKey(id)).Result()
	if errors.Is(err, redis.Nil) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// takeLock makes another worker the holder of id's lock, as if this run's
// lock had lapsed and been taken.
func (h *harness) takeLock(t *testing.T, id string) {
	t.Helper()
	if err := h.rdb.Set(context.WithoutCancel(t.Context()), lockKey(id), otherWorker, time.Minute).Err(); err != nil {
		t.Error(err)
	}
}

// otherWorker is the lock token of a worker other than the one under test.
const otherWorker = "another worker's token"

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
func wantRetryLater(t *testing.T, err error) *tasks.Outcome {
	t.Helper()
	later := tasks.OutcomeOf(err)
	if later == nil || later.Kind != tasks.OutcomeWait {
		t.Fatalf("err = %v, want a wait", err)
	}
	if tasks.IsFailure(err) {
		t.Errorf("IsFailure(%v) = true, want false", err)
	}
	if errors.Is(err, asynq.SkipRetry) {
		t.Errorf("err = %v wraps asynq.SkipRetry, want a retry", err)
	}
	return later
}

// wantNothingStored fails t if anything of spec is in storage or the
// catalog.
func wantNothingStored(t *testing.T, h *harness, spec wxqr.Spec) {
	t.Helper()
	if _, ok := h.record(t, spec.ID()); ok {
		t.Error("the code was recorded")
	}
	if obj, ok := h.store.object(t, spec.Key()); ok {
		t.Errorf("an image of %d bytes was stored", len(obj.Body))
	}
	if _, ok := h.store.object(t, catalog.SidecarKey(spec.Key())); ok {
		t.Error("a sidecar was stored")
	}
}

// wantStored checks that the code of spec is in storage (the image, its
// record in its metadata)
// and in the catalog at generation gen, its image a whole image of the
// spec's format (a PNG for a transparent code, else a JPEG) that decodes to
// content (what WeChat put in it), with nothing left staged or locked, and
// returns its record.
func wantStored(t *testing.T, h *harness, spec wxqr.Spec, gen int, content string) *wxqr.Record {
	t.Helper()
	id := spec.ID()
	key := spec.Key()
	rec, ok := h.record(t, id)
	if !ok {
		t.Fatalf("catalog has no record of %s", id)
	}
	img, ok := h.store.object(t, key)
	if !ok {
		t.Fatalf("no image at %s", key)
	}
	if _, err := wxqr.CheckImage(img.Body, spec.Normalize().ImageWidth()); err != nil {
		t.Errorf("stored image: %v", err)
	}
	if got, err := qrdecode.Decode(img.Body); err != nil || got != content {
		t.Errorf("stored image decodes to %q (%v), want %q", got, err, content)
	}
	bucket, objectKey := h.store.Location(key)
	sum := sha256.Sum256(img.Body)
	checks := []struct {
		field     string
		got, want any
	}{
		{"record id", rec.ID, id},
		{"record spec", rec.Spec, spec.Normalize()},
		{"record generation", rec.Generation, gen},
		{"record bucket", rec.Bucket, bucket},
		{"record key", rec.ObjectKey, objectKey},
		{"record content type", rec.ContentType, spec.ImageContentType()},
		{"record size", rec.Size, int64(len(img.Body))},
		{"record sha256", rec.SHA256, hex.EncodeToString(sum[:])},
		{"image content type", img.ContentType, spec.ImageContentType()},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.field, c.got, c.want)
		}
	}
	if err := catalog.CheckObject(t.Context(), h.store.DirStore, rec); err != nil {
		t.Errorf("CheckObject of the stored code: %v", err)
	}
	stored, err := catalog.ReadRecord(t.Context(), h.store, key)
	if err != nil {
		t.Fatalf("no record stored with the image: %v", err)
	}
	got, err := json.Marshal(stored)
	if err != nil {
		t.Fatal(err)
	}
	want, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("stored record = %s, want the catalog's record %s", got, want)
	}
	if _, ok := h.store.object(t, catalog.SidecarKey(key)); ok {
		t.Errorf("a sidecar was stored at %s; the image's metadata holds the record", catalog.SidecarKey(key))
	}
	if s := h.staged(t, id); s != nil {
		t.Errorf("a staged result (generation %d) is left after the code was recorded", s.Generation)
	}
	if gen := h.called(t, id); gen != 0 {
		t.Errorf("a call mark (generation %d) is left after the code was recorded", gen)
	}
	if holder := h.lockHolder(t, id); holder != "" {
		t.Error("the code's lock is still held after the run")
	}
	return rec
}

// recordJSON renders rec for comparing records exactly.
func recordJSON(t *testing.T, rec *wxqr.Record) string {
	t.Helper()
	data, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
