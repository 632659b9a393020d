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

func TestLock(t *testing.T) {
	c, rdb := newCatalog(t, catalog.Config{})
	ctx := t.Context()
	unlock, ok, err := c.Lock(ctx, "code1", time.Minute)
	if err != nil || !ok {
		t.Fatalf("Lock = %v, %v; want it taken", ok, err)
	}
	if _, ok, err := c.Lock(ctx, "code1", time.Minute); err != nil || ok {
		t.Fatalf("second Lock = %v, %v; want it refused while held", ok, err)
	}
	unlock2, ok, _ := c.Lock(ctx, "code2", time.Minute)
	if !ok {
		t.Fatal("Lock of another code refused")
	}
	unlock2()
	// A lock that expired and was taken by another is not released by the
	// first holder.
	if err := rdb.Del(ctx, "wxqr:lock:code1").Err(); err != nil {
		t.Fatal(err)
	}
	unlockSecond, ok, _ := c.Lock(ctx, "code1", time.Minute)
	if !ok {
		t.Fatal("Lock after expiry refused")
	}
	defer unlockSecond()
	unlock()
	if _, ok, _ := c.Lock(ctx, "code1", time.Minute); ok {
		t.Fatal("the first holder's unlock released the second holder's lock")
	}

	// A held lock is renewed: it outlives its ttl until released.
	unlock, ok, err = c.Lock(ctx, "code3", 300*time.Millisecond)
	if err != nil || !ok {
		t.Fatalf("Lock(code3) = %v, %v", ok, err)
	}
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		if _, ok, _ := c.Lock(ctx, "code3", time.Minute); ok {
			t.Fatal("a held lock lapsed: it was not renewed")
		}
		time.Sleep(50 * time.Millisecond) // polling a state over time: the renewal is the subject
	}
	unlock()
	unlock3, ok, _ := c.Lock(ctx, "code3", time.Minute)
	if !ok {
		t.Fatal("Lock after unlock refused")
	}
	unlock3()
}
