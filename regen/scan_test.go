package regen

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/internal/fakeclock"
	"github.com/wxqr/wxqr/internal/qrdecode"
	"github.com/wxqr/wxqr/internal/testenv"
	"github.com/wxqr/wxqr/ratelimit"
	"github.com/wxqr/wxqr/storage"
	"github.com/wxqr/wxqr/tasks"
	"github.com/wxqr/wxqr/wechat"
	"github.com/wxqr/wxqr/wechat/wechatsim"
)

const (
	simApp    = "wxregen0001"
	simSecret = "regen-secret-0001"
)

// world is a worker in one process: the simulator, the real generator and
// WeChat client, a directory store, and a scan handler, on one fake clock.
type world struct {
	clock     *fakeclock.Clock
	sim       *wechatsim.Server
	rdb       *redis.Client
	cat       *catalog.Catalog
	store     *storage.DirStore
	inspector *asynq.Inspector
	gen       *tasks.Generator
	scan      *ScanHandler
}

// newWorld builds a world whose app has a daily budget of qrcode/create of
// budget calls (0: no budget).
func newWorld(t *testing.T, budget int64) *world {
	t.Helper()
	clk := fakeclock.New(time.Date(2025, 3, 1, 19, 0, 0, 0, time.UTC)) // 03:00 in Shanghai
	sim := wechatsim.NewServer(wechatsim.Config{
		Apps: map[string]wechatsim.App{simApp: {Secret: simSecret, Type: wechatsim.OfficialAccount}},
		Now:  clk.Now,
	})
	t.Cleanup(sim.Close)
	rdb := testenv.Redis(t)
	store, err := storage.NewDir(t.TempDir(), "codes")
	if err != nil {
		t.Fatal(err)
	}
	httpClient := &http.Client{Timeout: 10 * time.Second}
	tokens, err := wechat.NewStableTokenSource(wechat.TokenConfig{
		AppID: simApp, Secret: simSecret, Redis: rdb, APIBaseURL: sim.URL(), HTTPClient: httpClient,
	})
	if err != nil {
		t.Fatal(err)
	}
	client, err := wechat.NewClient(wechat.Config{
		AppID: simApp, Tokens: tokens, HTTPClient: httpClient, APIBaseURL: sim.URL(), MPBaseURL: sim.URL(),
	})
	if err != nil {
		t.Fatal(err)
	}
	limits := func(string) (int64, bool) { return budget, budget > 0 }
	b := ratelimit.NewBudget(rdb, ratelimit.BudgetConfig{Limits: limits, Now: clk.Now})
	inspector := asynq.NewInspectorFromRedisClient(rdb)
	cat := catalog.New(rdb, "")
	gen, err := tasks.NewGenerator(tasks.GeneratorConfig{
		Clients: map[string]tasks.WeChat{simApp: client},
		Catalog: cat,
		Store:   store,
		Limiter: ratelimit.NewLimiter(rdb, ratelimit.Config{}),
		Budget:  b,
		Pauses:  tasks.NewPauses(rdb, inspector),
		Logger:  zerolog.Nop(),
		Now:     clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{clock: clk, sim: sim, rdb: rdb, cat: cat, store: store, inspector: inspector, gen: gen}
	planner, err := NewPlanner(PlannerConfig{Catalog: cat, Client: asynq.NewClientFromRedisClient(rdb), Budget: b, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if w.scan, err = NewScanHandler(ScanConfig{Planner: planner, Redis: rdb, Horizon: 20 * time.Minute, Logger: zerolog.Nop()}); err != nil {
		t.Fatal(err)
	}
	return w
}

// make generates the first generation of a temporary code valid for
// validity, as a worker does for a campaign.
func (w *world) make(t *testing.T, scene int64, campaign string, validity time.Duration) *wxqr.Record {
	t.Helper()
	spec := code(simApp, scene)
	task, err := tasks.NewGenerateTask(tasks.GeneratePayload{Spec: spec, Campaign: campaign, ExpireSeconds: int(validity / time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.gen.ProcessTask(t.Context(), task); err != nil {
		t.Fatal(err)
	}
	rec, err := w.cat.Get(t.Context(), spec.ID())
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// runScan runs the scan of the slot at the clock's time, as a worker does.
func (w *world) runScan(t *testing.T) *Report {
	t.Helper()
	task, err := NewScanTask(w.clock.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.scan.ProcessTask(t.Context(), task); err != nil {
		t.Fatal(err)
	}
	r, err := LastReport(t.Context(), w.rdb)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// drain runs every task waiting in the app's temporary-code queue through the
// generator, as a worker does, and returns how many it ran.
func (w *world) drain(t *testing.T) int {
	t.Helper()
	queue := tasks.QueueName(simApp, wxqr.ClassOATemp)
	queues, err := w.inspector.Queues()
	if err != nil || !slices.Contains(queues, queue) {
		return 0
	}
	infos, err := w.inspector.ListPendingTasks(queue, asynq.PageSize(1000))
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range infos {
		if err := w.gen.ProcessTask(t.Context(), asynq.NewTask(info.Type, info.Payload)); err != nil {
			t.Fatalf("task %s: %v", info.ID, err)
		}
		if err := w.inspector.DeleteTask(queue, info.ID); err != nil {
			t.Fatal(err)
		}
	}
	return len(infos)
}

func TestScanRegenerates(t *testing.T) {
	w := newWorld(t, 0)
	const validity = time.Hour
	var old []*wxqr.Record
	for i := range 4 {
		old = append(old, w.make(t, int64(i+1), "spring", validity))
	}
	ended := w.make(t, 99, "ended", validity)
	if _, err := w.cat.RetireCampaign(t.Context(), "ended"); err != nil {
		t.Fatal(err)
	}

	// Not yet within the 20-minute horizon.
	w.clock.Advance(30 * time.Minute)
	if r := w.runScan(t); r.Total().Due != 0 {
		t.Fatalf("30 min in, the scan found %+v due, want nothing", r.Total())
	}

	w.clock.Advance(20 * time.Minute)
	r := w.runScan(t)
	if tot := r.Total(); tot.Due != 4 || tot.Queued != 4 || tot.Deferred != 0 || tot.AlreadyQueued != 0 {
		t.Fatalf("50 min in, the scan did %+v, want 4 due and queued", tot)
	}
	if n := w.drain(t); n != 4 {
		t.Fatalf("ran %d generate tasks, want 4", n)
	}
	regenAt := w.clock.Now()

	for _, prev := range old {
		rec, err := w.cat.Get(t.Context(), prev.ID)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Generation != 2 || rec.Ticket == prev.Ticket || rec.URL == prev.URL || rec.Campaign != "spring" {
			t.Errorf("%s: generation %d ticket %q url %q campaign %q; want generation 2 with a new ticket and url (old: %q, %q)",
				prev.Spec.Scene(), rec.Generation, rec.Ticket, rec.URL, rec.Campaign, prev.Ticket, prev.URL)
		}
		if want := regenAt.Add(validity); !rec.ExpiresAt.Equal(want) || rec.ExpireSeconds != prev.ExpireSeconds {
			t.Errorf("%s: expires at %v (%d s), want %v (%d s)", prev.Spec.Scene(), rec.ExpiresAt, rec.ExpireSeconds, want, prev.ExpireSeconds)
		}
		if rec.ObjectKey != prev.ObjectKey {
			t.Errorf("%s: stored at %s, was at %s", prev.Spec.Scene(), rec.ObjectKey, prev.ObjectKey)
		}
		img, err := w.store.Get(t.Context(), prev.Spec.Key())
		if err != nil {
			t.Fatal(err)
		}
		if content, err := qrdecode.Decode(img.Body); err != nil || content != rec.URL {
			t.Errorf("%s: the image at its key decodes to %q (%v), want the new url %q", prev.Spec.Scene(), content, err, rec.URL)
		}
		stored, err := catalog.ReadRecord(t.Context(), w.store, prev.Spec.Key())
		if err != nil {
			t.Fatal(err)
		}
		if stored.Generation != 2 || stored.Ticket != rec.Ticket || !stored.ExpiresAt.Equal(rec.ExpiresAt) {
			t.Errorf("%s: the stored record says generation %d ticket %q expiry %v, want the catalog's %d %q %v",
				prev.Spec.Scene(), stored.Generation, stored.Ticket, stored.ExpiresAt, rec.Generation, rec.Ticket, rec.ExpiresAt)
		}
	}
	if rec, err := w.cat.Get(t.Context(), ended.ID); err != nil || rec.Generation != 1 || rec.Ticket != ended.Ticket {
		t.Errorf("retired code: %+v, %v; want it untouched at generation 1", rec, err)
	}
	if got := w.sim.Calls(wechatsim.APICreateQRCode); got != 5+4 {
		t.Errorf("qrcode/create called %d times, want 9 (5 codes, 4 regenerated)", got)
	}

	// The new codes are valid for an hour: nothing is due any more.
	if r := w.runScan(t); r.Total().Due != 0 || w.drain(t) != 0 {
		t.Errorf("second scan did %+v, want nothing", r.Total())
	}
	// Forty-five minutes on they are due again: generation 3, once.
	w.clock.Advance(45 * time.Minute)
	if tot := w.runScan(t).Total(); tot.Queued != 4 {
		t.Errorf("next cycle queued %d, want 4", tot.Queued)
	}
	if tot := w.runScan(t).Total(); tot.Queued != 0 || tot.AlreadyQueued != 4 {
		t.Errorf("a second scan in that cycle did %+v, want the 4 already queued", tot)
	}
	w.drain(t)
	for _, prev := range old {
		if rec, err := w.cat.Get(t.Context(), prev.ID); err != nil || rec.Generation != 3 {
			t.Errorf("%s: %+v, %v; want generation 3", prev.Spec.Scene(), rec, err)
		}
	}
	if got := w.sim.Calls(wechatsim.APICreateQRCode); got != 5+4+4 {
		t.Errorf("qrcode/create called %d times, want 13", got)
	}
}

func TestScanWithinBudget(t *testing.T) {
	// 7 calls a day: the first generation of 5 codes spends 5.
	w := newWorld(t, 7)
	var recs []*wxqr.Record
	for i := range 5 {
		recs = append(recs, w.make(t, int64(i+1), "", time.Hour))
		w.clock.Advance(time.Minute) // each expires a minute after the previous
	}
	w.clock.Advance(40 * time.Minute) // all five due within 20 minutes

	r := w.runScan(t)
	if len(r.Apps) != 1 {
		t.Fatalf("report %+v, want one app", r)
	}
	a := r.Apps[0]
	if a.Due != 5 || a.Queued != 2 || a.Deferred != 3 || a.BudgetLeft == nil || *a.BudgetLeft != 2 || !a.SoonestDeferred.Equal(recs[2].ExpiresAt) {
		t.Errorf("report %+v, want 5 due, 2 queued, 3 deferred from %v, budget left 2", a, recs[2].ExpiresAt)
	}
	w.drain(t)
	for i, prev := range recs {
		rec, err := w.cat.Get(t.Context(), prev.ID)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]int{true: 2, false: 1}[i < 2]; rec.Generation != want {
			t.Errorf("code %d (expiring %v): generation %d, want %d: the soonest are regenerated first", i+1, prev.ExpiresAt, rec.Generation, want)
		}
	}

	// The budget is spent; the deferred codes wait for tomorrow's budget.
	if a := w.runScan(t).Apps[0]; a.Queued != 0 || a.Deferred != 3 {
		t.Errorf("scan with the budget spent: %+v, want the 3 deferred again", a)
	}
	w.clock.Advance(24 * time.Hour)
	if a := w.runScan(t).Apps[0]; a.Queued != 5 {
		t.Errorf("scan the next day: %+v, want every code queued", a)
	}
}

func TestEnqueueScanOncePerSlot(t *testing.T) {
	opts := testenv.RedisOptions(t)
	// Two workers, each with its own connections.
	var clients []*asynq.Client
	for range 2 {
		rdb := redis.NewClient(opts)
		t.Cleanup(func() { rdb.Close() })
		clients = append(clients, asynq.NewClientFromRedisClient(rdb))
	}
	inspector := asynq.NewInspector(asynq.RedisClientOpt{Addr: opts.Addr, DB: opts.DB, Username: opts.Username, Password: opts.Password})
	t.Cleanup(func() { inspector.Close() })

	slot := time.Date(2025, 3, 1, 19, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	results := make([]bool, 2)
	for i, c := range clients {
		wg.Go(func() {
			var err error
			if results[i], err = EnqueueScan(t.Context(), c, slot, time.Hour); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if results[0] == results[1] {
		t.Errorf("EnqueueScan reported %v from both workers, want one true", results)
	}
	if again, err := EnqueueScan(t.Context(), clients[0], slot, time.Hour); err != nil || again {
		t.Errorf("EnqueueScan of the same slot again: %v, %v; want false", again, err)
	}
	if queued, err := EnqueueScan(t.Context(), clients[1], slot.Add(24*time.Hour), time.Hour); err != nil || !queued {
		t.Errorf("EnqueueScan of the next slot: %v, %v; want true", queued, err)
	}
	infos, err := inspector.ListPendingTasks(QueueName)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, info := range infos {
		ids = append(ids, info.ID)
	}
	slices.Sort(ids)
	if want := []string{"regen-scan:2025-03-01T19:00:00Z", "regen-scan:2025-03-02T19:00:00Z"}; !slices.Equal(ids, want) {
		t.Errorf("queued scans %v, want %v", ids, want)
	}
}

// TestTriggersScanEachSlotOnce runs two workers in this process, each with
// its trigger and its asynq server, on a schedule of a slot per second.
func TestTriggersScanEachSlotOnce(t *testing.T) {
	opts := testenv.RedisOptions(t)
	connOpt := asynq.RedisClientOpt{Addr: opts.Addr, DB: opts.DB, Username: opts.Username, Password: opts.Password}
	schedule, err := ParseSchedule("@every 1s", nil)
	if err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var scanned []string // the slot of every scan run, by either worker
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for range 2 {
		rdb := redis.NewClient(opts)
		t.Cleanup(func() { rdb.Close() })
		client := asynq.NewClientFromRedisClient(rdb)
		planner, err := NewPlanner(PlannerConfig{Catalog: catalog.New(rdb, ""), Client: client})
		if err != nil {
			t.Fatal(err)
		}
		handler, err := NewScanHandler(ScanConfig{Planner: planner, Redis: rdb, Logger: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		mux := asynq.NewServeMux()
		mux.HandleFunc(TypeScan, func(ctx context.Context, task *asynq.Task) error {
			var p ScanPayload
			if err := json.Unmarshal(task.Payload(), &p); err != nil {
				return err
			}
			mu.Lock()
			scanned = append(scanned, p.Slot.Format(time.RFC3339))
			mu.Unlock()
			return handler.ProcessTask(ctx, task)
		})
		srv := asynq.NewServer(connOpt, asynq.Config{
			Concurrency: 2, Queues: map[string]int{QueueName: 1}, LogLevel: asynq.FatalLevel,
		})
		if err := srv.Start(mux); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(srv.Shutdown)
		trigger, err := NewTrigger(TriggerConfig{Schedule: schedule, Client: client, Logger: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { trigger.Run(ctx) })
	}

	// Wait for three scans (about three seconds).
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(scanned)
		mu.Unlock()
		if n >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d scans ran in 30 s, want 3", n)
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	cancel()
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	seen := map[string]int{}
	for _, slot := range scanned {
		seen[slot]++
	}
	for slot, n := range seen {
		if n != 1 {
			t.Errorf("slot %s scanned %d times, want once", slot, n)
		}
	}
	// The finished scans keep their slots taken.
	first, err := time.Parse(time.RFC3339, scanned[0])
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	if queued, err := EnqueueScan(t.Context(), asynq.NewClientFromRedisClient(rdb), first, DefaultScanRetention); err != nil || queued {
		t.Errorf("a late worker queueing the scanned slot %s: %v, %v; want false", first, queued, err)
	}
	r, err := LastReport(t.Context(), rdb)
	if err != nil || r.Slot.IsZero() {
		t.Errorf("last report %+v, %v; want a scheduled scan's", r, err)
	}
	t.Logf("slots scanned: %v", scanned)
}
