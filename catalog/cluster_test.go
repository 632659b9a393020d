package catalog_test

import (
	"testing"
	"time"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/internal/testenv"
)

// TestScriptsOnCluster runs the catalog's scripts and transactions on a
// Redis Cluster, under a hash-tagged prefix: each touches several keys,
// which fail with CROSSSLOT unless they share a slot.
func TestScriptsOnCluster(t *testing.T) {
	cluster := testenv.Cluster(t)
	ctx := t.Context()
	c, err := catalog.NewWithConfig(cluster.Client, catalog.Config{Prefix: cluster.KeyPrefix})
	if err != nil {
		t.Fatal(err)
	}
	temp := tempRecord("cluster", "spring", base.Add(time.Hour))
	perm := permRecord("wxa1b2c3", wxqr.KindOAPerm, 1, "spring")

	t.Run("plan, put, fail, progress", func(t *testing.T) {
		if err := c.Plan(ctx, "spring", temp.ID, perm.ID); err != nil {
			t.Fatalf("Plan: %v", err)
		}
		if err := c.Fail(ctx, "spring", perm.ID, "45029"); err != nil {
			t.Fatalf("Fail: %v", err)
		}
		mustPut(t, c, temp, perm)
		stats, err := c.Progress(ctx, "spring")
		if err != nil || stats.Generated != 2 {
			t.Fatalf("Progress = %+v, %v; want 2 generated", stats, err)
		}
		recs, err := c.GetMany(ctx, []string{temp.ID, perm.ID})
		if err != nil || len(recs) != 2 || recs[0] == nil || recs[1] == nil {
			t.Fatalf("GetMany = %v, %v; want both records", recs, err)
		}
		if got, err := c.ByScan(ctx, catalog.Scan{AppID: perm.AppID, Scene: perm.Scene(), Ticket: perm.Ticket}); err != nil || got == nil || got.ID != perm.ID {
			t.Errorf("ByScan = %v, %v; want %s", got, err, perm.ID)
		}
	})
	t.Run("lock, stage, drop", func(t *testing.T) {
		lease, err := c.Lock(ctx, temp.ID, time.Minute)
		if err != nil || lease == nil {
			t.Fatalf("Lock = %v, %v", lease, err)
		}
		defer lease.Release()
		if err := c.MarkCalled(ctx, temp.ID, 2, lease); err != nil {
			t.Fatalf("MarkCalled: %v", err)
		}
		staged := &catalog.Staged{Generation: 2, Ticket: "t", URL: "u", ExpireSeconds: 60, ContentType: "image/jpeg", CreatedAt: base}
		if err := c.Stage(ctx, temp.ID, staged); err != nil {
			t.Fatalf("Stage: %v", err)
		}
		if got, err := c.Staged(ctx, temp.ID); err != nil || got == nil || got.Ticket != "t" {
			t.Fatalf("Staged = %+v, %v; want the staged result", got, err)
		}
		if _, err := c.NoteRefused(ctx, temp.ID, 2, base, lease); err != nil {
			t.Fatalf("NoteRefused: %v", err)
		}
		if err := c.DropStaged(ctx, temp.ID, lease); err != nil {
			t.Fatalf("DropStaged: %v", err)
		}
	})
	t.Run("claim, finish, move", func(t *testing.T) {
		claim, err := c.Claim(ctx, temp.ID, time.Minute, "spring")
		if err != nil {
			t.Fatalf("Claim: %v", err)
		}
		defer claim.Lease.Release()
		if err := c.Stage(ctx, temp.ID, &catalog.Staged{Generation: 2, Ticket: "t", CreatedAt: base}); err != nil {
			t.Fatalf("Stage: %v", err)
		}
		next := *temp
		next.Generation = 2
		if err := c.Finish(ctx, &next, claim.Lease); err != nil {
			t.Fatalf("Finish: %v", err)
		}
		// The move empties no campaign: perm stays in spring.
		next.Campaign = "autumn"
		mustPut(t, c, &next)
		if got := mustGet(t, c, temp.ID); got.Generation != 2 || got.Campaign != "autumn" {
			t.Errorf("Get = generation %d of %q, want generation 2 of autumn", got.Generation, got.Campaign)
		}
	})
	t.Run("retire", func(t *testing.T) {
		if n, err := c.Retire(ctx, temp.ID); err != nil || n != 1 {
			t.Errorf("Retire = %d, %v; want 1", n, err)
		}
		if _, err := c.RetireCampaign(ctx, "spring"); err != nil {
			t.Errorf("RetireCampaign: %v", err)
		}
	})
}
