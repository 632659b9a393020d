package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/internal/config"
	"github.com/wxqr/wxqr/internal/testenv"
	"github.com/wxqr/wxqr/ratelimit"
	"github.com/wxqr/wxqr/regen"
	"github.com/wxqr/wxqr/scans"
	"github.com/wxqr/wxqr/tasks"
)

// TestMetricsCoverEveryQueue: a worker's /metrics shows the asynq series
// of every queue it serves (each app × quota class, and the scan queue)
// before any task was ever queued, at zero.
func TestMetricsCoverEveryQueue(t *testing.T) {
	rdb := testenv.Redis(t)
	inspector := asynq.NewInspectorFromRedisClient(rdb)
	t.Cleanup(func() { _ = inspector.Close() })
	cfg := &config.Config{Apps: config.Apps{
		{AppID: "wxoa", Type: wxqr.AppOA},
		{AppID: "wxmp", Type: wxqr.AppMP},
	}}
	counts, err := scans.New(t.Context(), rdb, catalog.New(rdb, ""), scans.Config{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := newMetrics(cfg, rdb, tasks.NewPauses(rdb, inspector), ratelimit.NewBudget(rdb, ratelimit.BudgetConfig{}),
		config.PerAppAPI[int64]{}, counts.EventTotals, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{regen.QueueName}
	for _, app := range cfg.Apps {
		for _, class := range app.Type.Classes() {
			want = append(want, tasks.QueueName(app.AppID, class))
		}
	}
	if len(want) < 5 {
		t.Fatalf("only %d queues to look for: %v", len(want), want)
	}
	for _, q := range want {
		series := `asynq_queue_size{queue="` + q + `"} 0`
		if !strings.Contains(string(body), series+"\n") {
			t.Errorf("%s missing from a fresh worker's /metrics", series)
		}
	}
}
