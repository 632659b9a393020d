package catalog_test

import (
	"slices"
	"testing"
	"time"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
)

func TestCampaignPlanAndFailures(t *testing.T) {
	c, rdb := newCatalog(t, catalog.Config{})
	ctx := t.Context()
	made := permRecord("wxapp", wxqr.KindOAPerm, 1, "spring")
	refused := permRecord("wxapp", wxqr.KindOAPerm, 2, "spring")
	waiting := permRecord("wxapp", wxqr.KindOAPerm, 3, "spring")
	retried := permRecord("wxapp", wxqr.KindOAPerm, 4, "spring")

	for range 2 { // planning twice counts once
		if err := c.Plan(ctx, "spring", made.ID, refused.ID, waiting.ID, retried.ID); err != nil {
			t.Fatalf("Plan: %v", err)
		}
	}
	if err := c.Fail(ctx, "spring", refused.ID, "errcode 40053"); err != nil {
		t.Fatalf("Fail: %v", err)
	}
	if err := c.Fail(ctx, "spring", retried.ID, "timeout"); err != nil {
		t.Fatalf("Fail: %v", err)
	}
	// A failed code made later (an operator re-ran it) is no longer failed.
	mustPut(t, c, made, retried)

	s, err := c.CampaignStats(ctx, "spring", base, time.Hour)
	if err != nil {
		t.Fatalf("CampaignStats: %v", err)
	}
	if s.Planned != 4 || s.Generated != 2 || s.Failed != 1 || s.Queued() != 1 {
		t.Errorf("stats = %+v, queued %d; want planned 4, generated 2, failed 1, queued 1", s, s.Queued())
	}
	if p, err := c.Progress(ctx, "spring"); err != nil || p != (catalog.Stats{Planned: 4, Generated: 2, Failed: 1}) {
		t.Errorf("Progress = %+v, %v; want planned 4, generated 2, failed 1", p, err)
	}
	failures, err := c.Failures(ctx, "spring")
	if err != nil {
		t.Fatalf("Failures: %v", err)
	}
	if len(failures) != 1 || failures[refused.ID] != "errcode 40053" {
		t.Errorf("Failures = %v, want only %s: errcode 40053", failures, refused.ID)
	}
	campaigns, err := c.Campaigns(ctx)
	if err != nil || len(campaigns) != 1 || campaigns[0] != "spring" {
		t.Errorf("Campaigns = %v, %v; want [spring]", campaigns, err)
	}
	t.Run("the plan keeps only the codes not made yet", func(t *testing.T) {
		unmade, err := rdb.SMembers(ctx, catalog.DefaultPrefix+"unmade:spring").Result()
		if err != nil || !slices.Equal(sorted(unmade...), sorted(refused.ID, waiting.ID)) {
			t.Errorf("plan = %v, %v; want the refused and the waiting code", unmade, err)
		}
		// Asking again for what is made or planned counts nothing twice.
		if err := c.Plan(ctx, "spring", made.ID, waiting.ID); err != nil {
			t.Fatal(err)
		}
		mustPut(t, c, refused, waiting)
		if p, err := c.Progress(ctx, "spring"); err != nil || p != (catalog.Stats{Planned: 4, Generated: 4}) {
			t.Errorf("Progress = %+v, %v; want planned 4, generated 4", p, err)
		}
		if n, err := rdb.Exists(ctx, catalog.DefaultPrefix+"unmade:spring").Result(); err != nil || n != 0 {
			t.Errorf("a finished campaign's plan: %d keys, %v; want none", n, err)
		}
		if err := c.Recount(ctx, "spring"); err != nil {
			t.Fatal(err)
		}
		if p, err := c.Progress(ctx, "spring"); err != nil || p.Planned != 4 {
			t.Errorf("Progress after Recount = %+v, %v; want planned 4", p, err)
		}
	})
}

// TestUpgradePlan: a catalog written when the plan held every code asked
// for is turned into the new plan by the first read.
func TestUpgradePlan(t *testing.T) {
	c, rdb := newCatalog(t, catalog.Config{})
	ctx := t.Context()
	made := permRecord("wxapp", wxqr.KindOAPerm, 1, "autumn")
	waiting := permRecord("wxapp", wxqr.KindOAPerm, 2, "autumn")
	mustPut(t, c, made)
	if err := rdb.SAdd(ctx, catalog.DefaultPrefix+"planned:autumn", made.ID, waiting.ID).Err(); err != nil {
		t.Fatal(err)
	}
	if p, err := c.Progress(ctx, "autumn"); err != nil || p != (catalog.Stats{Planned: 2, Generated: 1}) || p.Queued() != 1 {
		t.Errorf("Progress = %+v, %v; want planned 2, generated 1", p, err)
	}
	unmade, err := rdb.SMembers(ctx, catalog.DefaultPrefix+"unmade:autumn").Result()
	if err != nil || !slices.Equal(unmade, []string{waiting.ID}) {
		t.Errorf("plan = %v, %v; want only %s", unmade, err, waiting.ID)
	}
	if n, err := rdb.Exists(ctx, catalog.DefaultPrefix+"planned:autumn").Result(); err != nil || n != 0 {
		t.Errorf("the old plan: %d keys, %v; want it gone", n, err)
	}
	if s, err := c.CampaignStats(ctx, "autumn", base, time.Hour); err != nil || s.Planned != 2 {
		t.Errorf("CampaignStats after the upgrade = %+v, %v; want planned 2", s, err)
	}
}
