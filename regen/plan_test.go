package regen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/internal/testenv"
	"github.com/wxqr/wxqr/ratelimit"
	"github.com/wxqr/wxqr/tasks"
)

// now is the planners' clock in these tests.
var now = time.Date(2025, 3, 1, 19, 0, 0, 0, time.UTC)

// code is a temporary code of app with a numeric scene.
func code(app string, scene int64) wxqr.Spec {
	return wxqr.Spec{Kind: wxqr.KindOATemp, AppID: app, SceneID: scene}
}

// put records spec in cat as generated, generation gen, expiring in
// expiresIn if it is temporary.
func put(t *testing.T, cat *catalog.Catalog, spec wxqr.Spec, campaign string, gen int, expiresIn time.Duration) *wxqr.Record {
	t.Helper()
	spec = spec.Normalize()
	rec := &wxqr.Record{
		ID: spec.ID(), Spec: spec, Campaign: campaign,
		Ticket: fmt.Sprintf("ticket-%s-%d", spec.Scene(), gen), URL: "http://weixin.qq.com/q/" + spec.Scene(),
		CreatedAt: now.Add(-time.Hour), Generation: gen,
		Bucket: "codes", ObjectKey: spec.Key(), ContentType: "image/jpeg", Size: 1000, SHA256: strings.Repeat("ab", 32),
	}
	if spec.Kind.Temporary() {
		rec.ExpireSeconds, rec.ExpiresAt = 86400, now.Add(expiresIn)
	}
	if err := cat.Put(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	return rec
}

// budgets is a Budget with fixed amounts left; apps absent have none.
type budgets map[string]int64

func (b budgets) Remaining(_ context.Context, key string) (int64, error) {
	if n, ok := b[key]; ok {
		return n, nil
	}
	return 0, fmt.Errorf("budget of %s: %w", key, ratelimit.ErrNoBudget)
}

// env is a planner on a Redis database of its own.
type env struct {
	rdb       *redis.Client
	cat       *catalog.Catalog
	inspector *asynq.Inspector
}

func newEnv(t *testing.T) *env {
	t.Helper()
	rdb := testenv.Redis(t)
	return &env{rdb: rdb, cat: catalog.New(rdb, ""), inspector: asynq.NewInspectorFromRedisClient(rdb)}
}

func (e *env) planner(t *testing.T, b Budget) *Planner {
	t.Helper()
	p, err := NewPlanner(PlannerConfig{
		Catalog: e.cat, Client: asynq.NewClientFromRedisClient(e.rdb), Budget: b,
		Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// pending returns the generate tasks waiting in queue, by task id.
func (e *env) pending(t *testing.T, queue string) map[string]tasks.GeneratePayload {
	t.Helper()
	out := map[string]tasks.GeneratePayload{}
	queues, err := e.inspector.Queues()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(queues, queue) {
		return out
	}
	infos, err := e.inspector.ListPendingTasks(queue, asynq.PageSize(1000))
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range infos {
		var p tasks.GeneratePayload
		if err := json.Unmarshal(info.Payload, &p); err != nil {
			t.Fatal(err)
		}
		out[info.ID] = p
	}
	return out
}

// outcomes returns "scene:outcome" for every item, in plan order.
func outcomes(plan *Plan) []string {
	var out []string
	for _, it := range plan.Items {
		out = append(out, it.Spec.AppID+"/"+it.Spec.Scene()+":"+string(it.Outcome))
	}
	return out
}

func TestPlan(t *testing.T) {
	tests := []struct {
		name     string
		budget   Budget
		campaign string
		within   time.Duration
		want     []string // app/scene:outcome, soonest first
	}{
		{
			name:   "soonest first, expired included, later ones not due",
			within: 4 * time.Hour,
			want: []string{
				"wxa/9:to queue", "wxa/1:to queue", "wxb/5:to queue", "wxa/2:to queue",
				"wxa/3:to queue", "wxb/6:to queue",
			},
		},
		{
			name:   "budget: the soonest fit, the rest are deferred",
			budget: budgets{"wxa:qrcode/create": 2},
			within: 4 * time.Hour,
			want: []string{
				"wxa/9:to queue", "wxa/1:to queue", "wxb/5:to queue", "wxa/2:deferred",
				"wxa/3:deferred", "wxb/6:to queue",
			},
		},
		{
			name:   "budget spent",
			budget: budgets{"wxa:qrcode/create": 0, "wxb:qrcode/create": 1},
			within: 4 * time.Hour,
			want: []string{
				"wxa/9:deferred", "wxa/1:deferred", "wxb/5:to queue", "wxa/2:deferred",
				"wxa/3:deferred", "wxb/6:deferred",
			},
		},
		{
			name:     "one campaign",
			campaign: "spring",
			within:   4 * time.Hour,
			want:     []string{"wxa/1:to queue", "wxa/2:to queue"},
		},
		{
			name:   "short horizon",
			within: 90 * time.Minute,
			want:   []string{"wxa/9:to queue", "wxa/1:to queue", "wxb/5:to queue"},
		},
	}
	e := newEnv(t)
	put(t, e.cat, code("wxa", 1), "spring", 1, time.Hour)
	put(t, e.cat, code("wxa", 2), "spring", 3, 2*time.Hour)
	put(t, e.cat, code("wxa", 3), "autumn", 1, 3*time.Hour)
	put(t, e.cat, code("wxa", 4), "spring", 1, 5*time.Hour) // beyond every horizon
	put(t, e.cat, code("wxb", 5), "", 1, 80*time.Minute)
	put(t, e.cat, code("wxb", 6), "", 1, 3*time.Hour+time.Minute)
	put(t, e.cat, code("wxa", 9), "", 1, -time.Hour) // expired already
	retired := put(t, e.cat, code("wxa", 7), "spring", 1, 30*time.Minute)
	if _, err := e.cat.Retire(t.Context(), retired.ID); err != nil {
		t.Fatal(err)
	}
	// Never due: permanent codes do not expire.
	put(t, e.cat, wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: "wxa", SceneID: 8}, "spring", 1, 0)

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := e.planner(t, tt.budget).Plan(t.Context(), Options{Within: tt.within, Campaign: tt.campaign})
			if err != nil {
				t.Fatal(err)
			}
			if got := outcomes(plan); !slices.Equal(got, tt.want) {
				t.Errorf("plan\n got %v\nwant %v", got, tt.want)
			}
			if want := now.Add(tt.within); !plan.Before.Equal(want) {
				t.Errorf("plan.Before = %v, want %v", plan.Before, want)
			}
			for _, it := range plan.Items {
				rec, err := e.cat.Get(t.Context(), it.ID)
				if err != nil {
					t.Fatal(err)
				}
				if it.Generation != rec.Generation+1 || it.ExpireSeconds != rec.ExpireSeconds || it.Campaign != rec.Campaign || !it.ExpiresAt.Equal(rec.ExpiresAt) {
					t.Errorf("item %+v for record %+v; want the next generation with the same validity", it, rec)
				}
			}
			if got := len(e.pending(t, "wxa.oa_temp")) + len(e.pending(t, "wxb.oa_temp")); got != 0 {
				t.Errorf("planning queued %d tasks, want none", got)
			}
		})
	}
}

func TestPlanReport(t *testing.T) {
	e := newEnv(t)
	put(t, e.cat, code("wxa", 1), "", 1, time.Hour)
	put(t, e.cat, code("wxa", 2), "", 1, 2*time.Hour)
	put(t, e.cat, code("wxa", 3), "", 1, 3*time.Hour)
	put(t, e.cat, code("wxb", 4), "", 1, 4*time.Hour)
	plan, err := e.planner(t, budgets{"wxa:qrcode/create": 1}).Plan(t.Context(), Options{Within: 5 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	r := plan.Report()
	one := int64(1)
	want := []AppReport{
		{AppID: "wxa", Due: 3, ToQueue: 1, Deferred: 2, BudgetLeft: &one, SoonestDeferred: now.Add(2 * time.Hour)},
		{AppID: "wxb", Due: 1, ToQueue: 1},
	}
	if !r.DryRun || len(r.Apps) != len(want) {
		t.Fatalf("report %+v, want a dry run over %d apps", r, len(want))
	}
	for i, w := range want {
		g := r.Apps[i]
		if g.AppID != w.AppID || g.Due != w.Due || g.ToQueue != w.ToQueue || g.Deferred != w.Deferred ||
			(g.BudgetLeft == nil) != (w.BudgetLeft == nil) || g.BudgetLeft != nil && *g.BudgetLeft != *w.BudgetLeft ||
			!g.SoonestDeferred.Equal(w.SoonestDeferred) {
			t.Errorf("app report %d = %+v, want %+v", i, g, w)
		}
	}
	total := r.Total()
	if total.Due != 4 || total.ToQueue != 2 || total.Deferred != 2 || !total.SoonestDeferred.Equal(now.Add(2*time.Hour)) {
		t.Errorf("total %+v, want 4 due, 2 to queue, 2 deferred from %v", total, now.Add(2*time.Hour))
	}
}

func TestQueue(t *testing.T) {
	e := newEnv(t)
	recs := []*wxqr.Record{
		put(t, e.cat, code("wxa", 1), "spring", 1, time.Hour),
		put(t, e.cat, code("wxa", 2), "spring", 2, 2*time.Hour),
		put(t, e.cat, code("wxa", 3), "", 1, 3*time.Hour),
	}
	p := e.planner(t, budgets{"wxa:qrcode/create": 2})

	plan, err := p.Plan(t.Context(), Options{Within: 4 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	r, err := p.Queue(t.Context(), plan)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := outcomes(plan), []string{"wxa/1:queued", "wxa/2:queued", "wxa/3:deferred"}; !slices.Equal(got, want) {
		t.Errorf("outcomes %v, want %v", got, want)
	}
	if tot := r.Total(); r.DryRun || tot.Queued != 2 || tot.Deferred != 1 || tot.AlreadyQueued != 0 {
		t.Errorf("report %+v (total %+v), want 2 queued and 1 deferred", r, tot)
	}
	pending := e.pending(t, "wxa.oa_temp")
	if len(pending) != 2 {
		t.Fatalf("%d tasks queued, want 2: %v", len(pending), pending)
	}
	for _, rec := range recs[:2] {
		id := fmt.Sprintf("%s:g%d", rec.ID, rec.Generation+1)
		got, ok := pending[id]
		want := tasks.GeneratePayload{ID: rec.ID, Spec: rec.Spec, Campaign: rec.Campaign, ExpireSeconds: rec.ExpireSeconds, Generation: rec.Generation + 1}
		if !ok || got != want {
			t.Errorf("task %s = %+v (found %v), want %+v", id, got, ok, want)
		}
	}

	// A second scan in the same cycle queues nothing again.
	plan, err = p.Plan(t.Context(), Options{Within: 4 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Queue(t.Context(), plan); err != nil {
		t.Fatal(err)
	}
	if got, want := outcomes(plan), []string{"wxa/1:already queued", "wxa/2:already queued", "wxa/3:deferred"}; !slices.Equal(got, want) {
		t.Errorf("second scan: outcomes %v, want %v", got, want)
	}
	if n := len(e.pending(t, "wxa.oa_temp")); n != 2 {
		t.Errorf("after the second scan %d tasks wait, want 2", n)
	}
}

// failingClient queues okCalls tasks, then fails.
type failingClient struct {
	okCalls int
	queued  []string
}

var errBroken = errors.New("connection refused")

func (f *failingClient) EnqueueContext(_ context.Context, task *asynq.Task, _ ...asynq.Option) (*asynq.TaskInfo, error) {
	if len(f.queued) == f.okCalls {
		return nil, errBroken
	}
	f.queued = append(f.queued, string(task.Payload()))
	return &asynq.TaskInfo{}, nil
}

func TestQueueStopsAtFirstError(t *testing.T) {
	e := newEnv(t)
	for i := range 3 {
		put(t, e.cat, code("wxa", int64(i+1)), "", 1, time.Duration(i+1)*time.Hour)
	}
	client := &failingClient{okCalls: 1}
	p, err := NewPlanner(PlannerConfig{Catalog: e.cat, Client: client, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := p.Plan(t.Context(), Options{Within: 4 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	r, err := p.Queue(t.Context(), plan)
	if !errors.Is(err, errBroken) {
		t.Errorf("Queue error %v, want %v", err, errBroken)
	}
	if got, want := outcomes(plan), []string{"wxa/1:queued", "wxa/2:to queue", "wxa/3:to queue"}; !slices.Equal(got, want) {
		t.Errorf("outcomes %v, want %v", got, want)
	}
	if tot := r.Total(); tot.Queued != 1 || tot.ToQueue != 2 {
		t.Errorf("report total %+v, want 1 queued and 2 still to queue", tot)
	}
}

// brokenBudget fails every lookup.
type brokenBudget struct{}

func (brokenBudget) Remaining(context.Context, string) (int64, error) { return 0, errBroken }

func TestPlanErrors(t *testing.T) {
	e := newEnv(t)
	put(t, e.cat, code("wxa", 1), "", 1, time.Hour)
	tests := []struct {
		name    string
		budget  Budget
		within  time.Duration
		wantErr string
	}{
		{"no horizon", nil, 0, "horizon must be positive"},
		{"negative horizon", nil, -time.Hour, "horizon must be positive"},
		{"budget unreadable", brokenBudget{}, time.Hour * 2, "budget of wxa:qrcode/create: connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.planner(t, tt.budget).Plan(t.Context(), Options{Within: tt.within})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want one saying %q", err, tt.wantErr)
			}
		})
	}
}

func TestNewPlannerRequires(t *testing.T) {
	cat := catalog.New(redis.NewClient(&redis.Options{}), "")
	for _, tt := range []struct {
		name string
		cfg  PlannerConfig
		want string
	}{
		{"catalog", PlannerConfig{Client: &failingClient{}}, "Catalog is required"},
		{"client", PlannerConfig{Catalog: cat}, "Client is required"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewPlanner(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestValidity(t *testing.T) {
	created := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		rec  wxqr.Record
		want int
	}{
		{"as recorded", wxqr.Record{ExpireSeconds: 604800, CreatedAt: created, ExpiresAt: created.Add(time.Hour)}, 604800},
		{"not recorded: its lifetime", wxqr.Record{CreatedAt: created, ExpiresAt: created.Add(2 * time.Hour)}, 7200},
		{"not recorded, lifetime beyond WeChat's", wxqr.Record{CreatedAt: created, ExpiresAt: created.Add(40 * 24 * time.Hour)}, 2592000},
		{"nothing to go by: the default", wxqr.Record{CreatedAt: created, ExpiresAt: created.Add(-time.Hour)}, 2592000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := validity(&tt.rec); got != tt.want {
				t.Errorf("validity = %d, want %d", got, tt.want)
			}
		})
	}
}

// TestPlanSkipsRetiredCampaigns: no code of a retired campaign is planned,
// not even one its retirement did not reach (cut short after marking the
// campaign).
func TestPlanSkipsRetiredCampaigns(t *testing.T) {
	ctx := t.Context()
	e := newEnv(t)
	put(t, e.cat, code("wxa", 1), "spring", 1, time.Hour)
	put(t, e.cat, code("wxa", 2), "autumn", 1, time.Hour)
	put(t, e.cat, code("wxa", 3), "winter", 1, time.Hour)
	if _, err := e.cat.RetireCampaign(ctx, "spring"); err != nil {
		t.Fatal(err)
	}
	// What RetireCampaign writes first, alone: the mark on the campaign.
	if err := e.rdb.SAdd(ctx, "wxqr:retired-campaigns", "autumn").Err(); err != nil {
		t.Fatal(err)
	}
	if retired, err := e.cat.CampaignRetired(ctx, "autumn"); err != nil || !retired {
		t.Fatalf("CampaignRetired(autumn) = %v, %v; the key of retired campaigns moved", retired, err)
	}
	plan, err := e.planner(t, nil).Plan(ctx, Options{Within: 48 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := outcomes(plan), []string{"wxa/3:to queue"}; !slices.Equal(got, want) {
		t.Errorf("plan %v, want %v", got, want)
	}
}
