package metrics

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/internal/testenv"
	"github.com/wxqr/wxqr/scans"
	"github.com/wxqr/wxqr/tasks"
)

// TestQueueSeriesFromStart: on a Redis where asynq has never queued a
// task, every configured queue already has its series, at zero; a queue
// asynq knows that is not configured is reported too.
func TestQueueSeriesFromStart(t *testing.T) {
	rdb := testenv.Redis(t)
	configured := []string{"wx1.oa_temp", "wx1.oa_perm", "wx2.wxa_unlimited"}
	m := newMetrics(t, Config{AsynqRedis: rdb, Queues: configured, QueueCacheFor: -1})

	text := scrape(t, m)
	var tests []wantSample
	for _, q := range configured {
		l := `{queue="` + q + `"}`
		tests = append(tests,
			wantSample{"asynq_queue_size" + l, 0},
			wantSample{"asynq_queue_latency_seconds" + l, 0},
			wantSample{"asynq_queue_memory_usage_approx_bytes" + l, 0},
			wantSample{"asynq_tasks_processed_total" + l, 0},
			wantSample{"asynq_tasks_failed_total" + l, 0},
			wantSample{"asynq_queue_paused_total" + l, 0},
		)
		for _, state := range []string{"active", "pending", "scheduled", "retry", "archived", "completed"} {
			tests = append(tests, wantSample{`asynq_tasks_enqueued_total{queue="` + q + `",state="` + state + `"}`, 0})
		}
	}
	checkSamples(t, text, tests)

	client := asynq.NewClientFromRedisClient(rdb)
	t.Cleanup(func() { _ = client.Close() })
	if _, err := client.EnqueueContext(t.Context(), asynq.NewTask("t", nil), asynq.Queue("removed.oa_temp")); err != nil {
		t.Fatal(err)
	}
	if _, err := client.EnqueueContext(t.Context(), asynq.NewTask("t", nil), asynq.Queue("wx1.oa_perm")); err != nil {
		t.Fatal(err)
	}
	checkSamples(t, scrape(t, m), []wantSample{
		{`asynq_queue_size{queue="removed.oa_temp"}`, 1},
		{`asynq_tasks_enqueued_total{queue="removed.oa_temp",state="pending"}`, 1},
		{`asynq_queue_size{queue="wx1.oa_perm"}`, 1},
		{`asynq_queue_size{queue="wx1.oa_temp"}`, 0},
	})
}

// commandCounter is a go-redis hook that counts the commands a client
// sends, pipelined ones included, and its round trips (a pipeline is one).
type commandCounter struct{ n, trips atomic.Int64 }

func (c *commandCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *commandCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		c.trips.Add(1)
		return next(ctx, cmd)
	}
}

func (c *commandCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(int64(len(cmds)))
		c.trips.Add(1)
		return next(ctx, cmds)
	}
}

// TestQueueCache: one read serves every scrape for QueueCacheFor,
// concurrent ones included, and the next scrape after it reads again.
func TestQueueCache(t *testing.T) {
	rdb := testenv.Redis(t)
	counter := &commandCounter{}
	rdb.AddHook(counter)
	var (
		mu  sync.Mutex
		now = time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	const queue = "wx1.oa_temp"
	c := &queueCollector{rdb: rdb, configured: []string{queue}, cacheFor: 5 * time.Second, timeout: 5 * time.Second, now: clock}
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	size := func(t *testing.T) string {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "asynq_queue_size" {
				return mf.GetMetric()[0].GetGauge().String()
			}
		}
		t.Fatal("no asynq_queue_size")
		return ""
	}
	first := size(t)
	if !strings.Contains(first, "value:0") {
		t.Fatalf("size of an empty queue: %s", first)
	}
	readCost := counter.n.Load()
	if readCost == 0 {
		t.Fatal("the first scrape sent no command")
	}

	client := asynq.NewClientFromRedisClient(rdb)
	t.Cleanup(func() { _ = client.Close() })
	if _, err := client.EnqueueContext(t.Context(), asynq.NewTask("t", nil), asynq.Queue(queue)); err != nil {
		t.Fatal(err)
	}
	counter.n.Store(0)

	t.Run("concurrent scrapes within the cache", func(t *testing.T) {
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				if _, err := reg.Gather(); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if n := counter.n.Load(); n != 0 {
			t.Errorf("8 scrapes within the cache sent %d commands, want none", n)
		}
		if got := size(t); got != first {
			t.Errorf("size within the cache = %s, want the cached %s", got, first)
		}
	})
	t.Run("after the cache", func(t *testing.T) {
		mu.Lock()
		now = now.Add(5 * time.Second)
		mu.Unlock()
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				if _, err := reg.Gather(); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if n := counter.n.Load(); n == 0 || n > 2*readCost {
			t.Errorf("8 concurrent scrapes after the cache sent %d commands, want one read's (about %d)", n, readCost)
		}
		if got := size(t); !strings.Contains(got, "value:1") {
			t.Errorf("size after the cache = %s, want 1", got)
		}
	})
}

// TestQueueReadFails: a failed read is logged and left out of the scrape,
// not cached: the next scrape reads again.
func TestQueueReadFails(t *testing.T) {
	opts := testenv.RedisOptions(t)
	rdb := redis.NewClient(opts)
	m := newMetrics(t, Config{AsynqRedis: rdb, Queues: []string{"wx1.oa_temp"}})
	if err := rdb.Close(); err != nil {
		t.Fatal(err)
	}
	mfs, err := m.Registry().Gather()
	if err == nil || !strings.Contains(err.Error(), "list asynq's queues") {
		t.Errorf("Gather with Redis closed: %v, want the failed read", err)
	}
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "asynq_") {
			t.Errorf("%s served despite the failed read", mf.GetName())
		}
	}
}

// TestLint runs promtool's checks (promlint) over a real scrape that holds
// every series wxqr defines: they must all pass. asynq's series are not
// wxqr's to rename (asynq_tasks_enqueued_total is a gauge) and go_ and
// process_ are the client library's.
func TestLint(t *testing.T) {
	rdb := testenv.Redis(t)
	m := newMetrics(t, Config{
		AsynqRedis: rdb,
		Queues:     []string{"wx1.oa_temp"},
		Pauses: func(context.Context) ([]tasks.PauseState, error) {
			return []tasks.PauseState{{Queue: "wx1.oa_temp", AppID: "wx1", Class: wxqr.ClassOATemp, Errcode: 45009}}, nil
		},
		Budgets:    []BudgetKey{{"wx1", "qrcode/create"}},
		BudgetUsed: func(context.Context, string, string) (int64, int64, error) { return 3, 10, nil },
		ScanEvents: func(context.Context) ([]scans.EventTotal, error) {
			return []scans.EventTotal{{AppID: "wx1", Event: scans.Subscribe, Attributed: true, N: 2}}, nil
		},
	})
	m.WeChatCall("wx1", "qrcode/create", nil, time.Millisecond)
	m.LimiterWait("wx1", "qrcode/create", time.Millisecond)
	m.CodeGenerated("wx1", wxqr.KindOATemp)
	m.TokenRefreshed("wx1")

	text := scrape(t, m)
	problems, err := promlint.New(strings.NewReader(text)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for line := range strings.Lines(text) {
		if name, ok := strings.CutPrefix(line, "# TYPE wxqr_"); ok {
			seen["wxqr_"+strings.Fields(name)[0]] = true
		}
	}
	for _, want := range []string{
		"wxqr_wechat_requests_total", "wxqr_wechat_request_duration_seconds", "wxqr_codes_generated_total",
		"wxqr_limiter_wait_seconds", "wxqr_token_refreshes_total", "wxqr_daily_budget_used",
		"wxqr_daily_budget_remaining", "wxqr_queue_paused", "wxqr_scan_events_total",
	} {
		if !seen[want] {
			t.Errorf("%s missing from the scrape: the lint did not see it", want)
		}
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "wxqr_") {
			t.Errorf("promlint: %s: %s", p.Metric, p.Text)
		}
	}
}
