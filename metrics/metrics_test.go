package metrics

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/internal/testenv"
	"github.com/wxqr/wxqr/ratelimit"
	"github.com/wxqr/wxqr/scans"
	"github.com/wxqr/wxqr/tasks"
	"github.com/wxqr/wxqr/wechat"
)

func newMetrics(t *testing.T, cfg Config) *Metrics {
	t.Helper()
	m, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return m
}

// scrape fetches the exposition text from m's handler, as Prometheus does.
func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: HTTP %d\n%s", resp.StatusCode, body)
	}
	return string(body)
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"zero value", Config{}, ""},
		{"budgets without a reader", Config{Budgets: []BudgetKey{{"wx1", "qrcode/create"}}}, "BudgetUsed is required"},
		{"negative scrape timeout", Config{ScrapeTimeout: -time.Second}, "ScrapeTimeout"},
		{"queues without Redis", Config{Queues: []string{"wx1.oa_perm"}}, "AsynqRedis is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("New: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("New: error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestOwnRegistry: each Metrics registers into its own registry, so two of
// them in one process do not collide (the global registry would panic).
func TestOwnRegistry(t *testing.T) {
	a := newMetrics(t, Config{})
	b := newMetrics(t, Config{})
	a.CodeGenerated("wx1", wxqr.KindOATemp)
	if got := testutil.ToFloat64(b.generated.WithLabelValues("wx1", "oa_temp")); got != 0 {
		t.Errorf("b counted a's code: %v", got)
	}
}

func TestObserverSeries(t *testing.T) {
	m := newMetrics(t, Config{})
	m.WeChatCall("wx1", "qrcode/create", nil, 120*time.Millisecond)
	m.WeChatCall("wx1", "qrcode/create", &wechat.APIError{Op: "qrcode/create", Code: 45009}, 80*time.Millisecond)
	m.WeChatCall("wx2", "wxaapp/createwxaqrcode", nil, 300*time.Millisecond)
	m.LimiterWait("wx1", "qrcode/create", 0)
	m.LimiterWait("wx1", "qrcode/create", 2*time.Second)
	m.CodeGenerated("wx1", wxqr.KindOATemp)
	m.CodeGenerated("wx2", wxqr.KindWxaQRCode)
	m.TokenRefreshed("wx1")

	want := `
# HELP wxqr_codes_generated_total Codes generated (first generations and regenerations), stored and recorded, by app and kind.
# TYPE wxqr_codes_generated_total counter
wxqr_codes_generated_total{app_id="wx1",kind="oa_temp"} 1
wxqr_codes_generated_total{app_id="wx2",kind="wxa_qrcode"} 1
# HELP wxqr_token_refreshes_total Access tokens fetched from WeChat by this process, by app.
# TYPE wxqr_token_refreshes_total counter
wxqr_token_refreshes_total{app_id="wx1"} 1
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want),
		"wxqr_codes_generated_total", "wxqr_token_refreshes_total"); err != nil {
		t.Error(err)
	}

	tests := []wantSample{
		{`wxqr_wechat_requests_total{api="qrcode/create",app_id="wx1",errcode="0"}`, 1},
		{`wxqr_wechat_requests_total{api="qrcode/create",app_id="wx1",errcode="45009"}`, 1},
		{`wxqr_wechat_requests_total{api="wxaapp/createwxaqrcode",app_id="wx2",errcode="0"}`, 1},
		{`wxqr_wechat_request_duration_seconds_count{api="qrcode/create",app_id="wx1"}`, 2},
		{`wxqr_wechat_request_duration_seconds_sum{api="qrcode/create",app_id="wx1"}`, 0.2},
		{`wxqr_limiter_wait_seconds_count{api="qrcode/create",app_id="wx1"}`, 2},
		{`wxqr_limiter_wait_seconds_bucket{api="qrcode/create",app_id="wx1",le="0"}`, 1},
		{`wxqr_limiter_wait_seconds_bucket{api="qrcode/create",app_id="wx1",le="2.5"}`, 2},
		{`wxqr_limiter_wait_seconds_sum{api="qrcode/create",app_id="wx1"}`, 2},
	}
	text := scrape(t, m)
	checkSamples(t, text, tests)

	// The counters move with further calls.
	m.WeChatCall("wx1", "qrcode/create", nil, time.Millisecond)
	if got, _ := sample(scrape(t, m), `wxqr_wechat_requests_total{api="qrcode/create",app_id="wx1",errcode="0"}`); got != 2 {
		t.Errorf("after another success: %v, want 2", got)
	}
}

// TestScrapeTimeSeries reads the pauses, budgets and asynq queues from a
// real Redis when scraped.
func TestScrapeTimeSeries(t *testing.T) {
	opts := testenv.RedisOptions(t)
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	redisOpt := asynq.RedisClientOpt{Addr: opts.Addr, DB: opts.DB, Password: opts.Password, Username: opts.Username}
	client := asynq.NewClient(redisOpt)
	t.Cleanup(func() { _ = client.Close() })
	inspector := asynq.NewInspector(redisOpt)
	t.Cleanup(func() { _ = inspector.Close() })

	pauses := tasks.NewPauses(rdb, inspector)
	budget := ratelimit.NewBudget(rdb, ratelimit.BudgetConfig{
		Limits: func(key string) (int64, bool) {
			if key == "wx1:qrcode/create" {
				return 10, true
			}
			return 0, false
		},
	})
	m := newMetrics(t, Config{
		AsynqRedis: rdb,
		Queues:     []string{tasks.QueueName("wx1", wxqr.ClassOAPerm)},
		Pauses:     pauses.List,
		Budgets:    []BudgetKey{{"wx1", "qrcode/create"}, {"wx2", "wxaapp/createwxaqrcode"}},
		BudgetUsed: func(ctx context.Context, appID, api string) (int64, int64, error) {
			return budget.Used(ctx, appID+":"+api)
		},
	})

	queue := tasks.QueueName("wx1", wxqr.ClassOAPerm)
	task, err := tasks.NewGenerateTask(tasks.GeneratePayload{Spec: wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: "wx1", SceneID: 7}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.EnqueueContext(t.Context(), task); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, err := pauses.Pause(ctx, tasks.PauseState{Queue: queue, AppID: "wx1", Class: wxqr.ClassOAPerm, Errcode: 45029, Reason: "lifetime quota spent"}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := budget.Spend(ctx, "wx1:qrcode/create", 1); err != nil {
			t.Fatal(err)
		}
	}

	text := scrape(t, m)
	tests := []wantSample{
		{`wxqr_queue_paused{app_id="wx1",class="oa_perm",queue="wx1.oa_perm",reason="total_quota"}`, 1},
		{`wxqr_daily_budget_used{api="qrcode/create",app_id="wx1"}`, 3},
		{`wxqr_daily_budget_remaining{api="qrcode/create",app_id="wx1"}`, 7},
		{`asynq_queue_size{queue="wx1.oa_perm"}`, 1},
		{`asynq_queue_paused_total{queue="wx1.oa_perm"}`, 1},
	}
	checkSamples(t, text, tests)
	if strings.Contains(text, `app_id="wx2"`) {
		t.Errorf("wx2 has no budget but is reported:\n%s", text)
	}

	// Resumed: the pause series goes; spending moves the budget.
	if err := pauses.Resume(ctx, queue); err != nil {
		t.Fatal(err)
	}
	if _, err := budget.Spend(ctx, "wx1:qrcode/create", 1); err != nil {
		t.Fatal(err)
	}
	text = scrape(t, m)
	if strings.Contains(text, "wxqr_queue_paused{") {
		t.Errorf("resumed queue still reported paused:\n%s", text)
	}
	if got, _ := sample(text, `wxqr_daily_budget_remaining{api="qrcode/create",app_id="wx1"}`); got != 6 {
		t.Errorf("remaining after one more call = %v, want 6", got)
	}
}

// TestScanEvents counts scan events recorded by the real scans store, read
// from Redis when scraped: by app, event and attribution, WeChat's retries
// once.
func TestScanEvents(t *testing.T) {
	ctx := t.Context()
	rdb := testenv.Redis(t)
	cat := catalog.New(rdb, "")
	spec := wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: "wx1", SceneID: 7}.Normalize()
	if err := cat.Put(ctx, &wxqr.Record{
		ID: spec.ID(), Spec: spec, Campaign: "spring", Ticket: "ticket-7", URL: "http://weixin.qq.com/q/7",
		CreatedAt: time.Now().UTC().Truncate(time.Second), Generation: 1,
		Bucket: "codes", ObjectKey: spec.Key(), ContentType: "image/jpeg", Size: 1, SHA256: "ab",
	}); err != nil {
		t.Fatal(err)
	}
	store, err := scans.New(ctx, rdb, cat, scans.Config{OpenIDKey: []byte("a key for the test")})
	if err != nil {
		t.Fatal(err)
	}
	record := func(ev scans.Event) {
		t.Helper()
		if _, err := store.Record(ctx, ev); err != nil {
			t.Fatalf("Record(%s %s): %v", ev.Type, ev.Key, err)
		}
	}
	now := time.Now().Truncate(time.Second)
	unknown := scans.Event{AppID: "wx1", Type: scans.Scan, OpenID: "o-b", Time: now, Key: "999"}
	record(scans.Event{AppID: "wx1", Type: scans.Subscribe, OpenID: "o-a", Time: now, Key: "qrscene_7", Ticket: "ticket-7"})
	record(unknown)
	// WeChat's retry: counted once.
	record(unknown)
	// A follow from a search: no scene.
	record(scans.Event{AppID: "wx1", Type: scans.Subscribe, OpenID: "o-c", Time: now})

	m := newMetrics(t, Config{ScanEvents: store.EventTotals})
	want := `
# HELP wxqr_scan_events_total Scan events counted (WeChat's retries once), by app, event ("subscribe", "SCAN", "unsubscribe", "launch") and whether a code wxqr made was found for it.
# TYPE wxqr_scan_events_total counter
wxqr_scan_events_total{app_id="wx1",attributed="false",event="SCAN"} 1
wxqr_scan_events_total{app_id="wx1",attributed="false",event="subscribe"} 1
wxqr_scan_events_total{app_id="wx1",attributed="true",event="subscribe"} 1
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "wxqr_scan_events_total"); err != nil {
		t.Error(err)
	}

	// Read on every scrape: a new event shows at once.
	record(scans.Event{AppID: "wx1", Type: scans.Scan, OpenID: "o-a", Time: now.Add(time.Second), Key: "7", Ticket: "ticket-7"})
	if got, _ := sample(scrape(t, m), `wxqr_scan_events_total{app_id="wx1",attributed="true",event="SCAN"}`); got != 1 {
		t.Errorf("attributed SCAN after one more event = %v, want 1", got)
	}
}

// TestScrapeSurvivesFailingReads: a series that cannot be read is left out
// and logged; the scrape still serves the rest.
func TestScrapeSurvivesFailingReads(t *testing.T) {
	var logs bytes.Buffer
	boom := errors.New("redis: connection refused")
	m := newMetrics(t, Config{
		Pauses:  func(context.Context) ([]tasks.PauseState, error) { return nil, boom },
		Budgets: []BudgetKey{{"wx1", "qrcode/create"}},
		BudgetUsed: func(context.Context, string, string) (int64, int64, error) {
			return 0, 0, boom
		},
		ScanEvents: func(context.Context) ([]scans.EventTotal, error) { return nil, boom },
		Logger:     zerolog.New(&logs),
	})
	m.CodeGenerated("wx1", wxqr.KindOATemp)

	text := scrape(t, m)
	if _, ok := sample(text, `wxqr_codes_generated_total{app_id="wx1",kind="oa_temp"}`); !ok {
		t.Errorf("the counters are missing:\n%s", text)
	}
	for _, name := range []string{"wxqr_queue_paused{", "wxqr_daily_budget_used{", "wxqr_scan_events_total{"} {
		if strings.Contains(text, name) {
			t.Errorf("%s served despite the failed read:\n%s", name, text)
		}
	}
	for _, want := range []string{"list paused queues", "read daily budget of wx1 qrcode/create", "read scan event totals"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}

type wantSample struct {
	series string // name and labels, as sample takes them
	want   float64
}

// checkSamples checks one series of text per test, each in a subtest.
func checkSamples(t *testing.T, text string, tests []wantSample) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.series, func(t *testing.T) {
			got, ok := sample(text, tt.series)
			if !ok {
				t.Fatalf("%s missing from the scrape:\n%s", tt.series, text)
			}
			if got != tt.want {
				t.Errorf("%s = %v, want %v", tt.series, got, tt.want)
			}
		})
	}
}

// sample returns the value of one series (name and labels exactly as
// Prometheus writes them, labels sorted) in an exposition text.
func sample(text, series string) (float64, bool) {
	for line := range strings.Lines(text) {
		rest, ok := strings.CutPrefix(line, series+" ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		return v, err == nil
	}
	return 0, false
}
