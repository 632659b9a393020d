package catalog_test

import (
	"testing"
	"time"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
)

func TestCampaignPlanAndFailures(t *testing.T) {
	c, _ := newCatalog(t, catalog.Config{})
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
}
