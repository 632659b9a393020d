package tasks_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/internal/testenv"
	"github.com/wxqr/wxqr/regen"
	"github.com/wxqr/wxqr/tasks"
)

// TestRetireDuringGeneration retires a campaign while its codes are made:
// the codes still queued cost no call and leave no record, the one WeChat
// had made already is stored retired, and nothing of the campaign is ever
// regenerated.
func TestRetireDuringGeneration(t *testing.T) {
	ctx := t.Context()
	rdb := testenv.Redis(t)
	cat := catalog.New(rdb, "")
	h := newHarness(t)
	h.configure(t, func(cfg *tasks.GeneratorConfig) { cfg.Catalog = cat })
	const campaign = "spring"
	spec := func(scene string) wxqr.Spec {
		return wxqr.Spec{Kind: wxqr.KindOATemp, AppID: oaApp, SceneStr: scene}.Normalize()
	}
	task := func(scene string, gen int) *asynq.Task {
		return generateTask(t, tasks.GeneratePayload{Spec: spec(scene), Campaign: campaign, ExpireSeconds: tempSeconds, Generation: gen})
	}

	// Made before the retirement.
	if err := h.run(t, task("made", 0)); err != nil {
		t.Fatal(err)
	}
	// Made at WeChat, not stored yet: its ticket is staged.
	if err := cat.Stage(ctx, spec("staged").ID(), &catalog.Staged{
		Generation: 1, Ticket: "ticket-staged", URL: "http://weixin.qq.com/q/staged",
		ExpireSeconds: tempSeconds, CreatedAt: genNow,
	}); err != nil {
		t.Fatal(err)
	}
	before := len(h.wechat.Calls())

	if n, err := cat.RetireCampaign(ctx, campaign); err != nil || n != 1 {
		t.Fatalf("RetireCampaign = %d, %v; want the one code made", n, err)
	}
	for _, scene := range []string{"queued-1", "queued-2", "staged"} {
		if err := h.run(t, task(scene, 0)); err != nil {
			t.Fatalf("%s: %v", scene, err)
		}
	}
	// A regeneration queued before the retirement.
	if err := h.run(t, task("made", 2)); err != nil {
		t.Fatal(err)
	}

	if calls := h.wechat.Calls()[before:]; !slices.Equal(calls, []string{apiShow}) {
		t.Errorf("WeChat calls after the retirement: %v; want only showqrcode for the staged ticket", calls)
	}
	for _, scene := range []string{"queued-1", "queued-2"} {
		if rec, err := cat.Get(ctx, spec(scene).ID()); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("%s: record %+v, %v; want none", scene, rec, err)
		}
	}
	for _, scene := range []string{"made", "staged"} {
		rec, err := cat.Get(ctx, spec(scene).ID())
		if err != nil || !rec.Retired || rec.Generation != 1 {
			t.Errorf("%s: record %+v, %v; want generation 1, retired", scene, rec, err)
		}
	}

	planner, err := regen.NewPlanner(regen.PlannerConfig{
		Catalog: cat, Client: asynq.NewClientFromRedisClient(rdb), Now: func() time.Time { return genNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := planner.Plan(ctx, regen.Options{Within: 365 * 24 * time.Hour})
	if err != nil || len(plan.Items) != 0 {
		t.Errorf("regeneration plan %+v, %v; want nothing", plan, err)
	}
}
