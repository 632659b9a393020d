package catalog_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
)

// Finish decides on what Claim read and writes in one round trip: whatever
// another writer changed since the claim must still be seen, by reading
// again, and a lock lost since must still stop it.
func TestFinishAfterWritesSinceClaim(t *testing.T) {
	tests := []struct {
		name string
		// meddle writes, as another worker or an operator, after the claim.
		meddle func(t *testing.T, c *catalog.Catalog, rdb *redis.Client, rec *wxqr.Record)
		// check looks at what Finish wrote; err is what it returned.
		check func(t *testing.T, c *catalog.Catalog, rec *wxqr.Record, err error)
	}{
		{
			name: "nothing",
			check: func(t *testing.T, c *catalog.Catalog, rec *wxqr.Record, err error) {
				if got := mustGet(t, c, rec.ID); err != nil || got.Generation != 2 || got.Retired {
					t.Errorf("Finish = %v; record generation %d retired %v, want generation 2 not retired", err, got.Generation, got.Retired)
				}
			},
		},
		{
			name: "the campaign was retired",
			meddle: func(t *testing.T, c *catalog.Catalog, _ *redis.Client, rec *wxqr.Record) {
				if _, err := c.RetireCampaign(t.Context(), rec.Campaign); err != nil {
					t.Fatal(err)
				}
			},
			check: func(t *testing.T, c *catalog.Catalog, rec *wxqr.Record, err error) {
				if got := mustGet(t, c, rec.ID); err != nil || got.Generation != 2 || !got.Retired {
					t.Errorf("Finish = %v; record generation %d retired %v, want generation 2 retired", err, got.Generation, got.Retired)
				}
			},
		},
		{
			name: "the code was retired",
			meddle: func(t *testing.T, c *catalog.Catalog, _ *redis.Client, rec *wxqr.Record) {
				mustRetire(t, c, rec.ID)
			},
			check: func(t *testing.T, c *catalog.Catalog, rec *wxqr.Record, err error) {
				if got := mustGet(t, c, rec.ID); err != nil || got.Generation != 2 || !got.Retired {
					t.Errorf("Finish = %v; record generation %d retired %v, want generation 2 retired", err, got.Generation, got.Retired)
				}
				if expiring, err := c.Expiring(t.Context(), base.Add(1000*time.Hour), 10); err != nil || len(expiring) != 0 {
					t.Errorf("Expiring = %v, %v; want no retired code", expiring, err)
				}
			},
		},
		{
			name: "another worker took the lock",
			meddle: func(t *testing.T, _ *catalog.Catalog, rdb *redis.Client, rec *wxqr.Record) {
				if err := rdb.Set(t.Context(), "wxqr:lock:"+rec.ID, "another worker's token", time.Minute).Err(); err != nil {
					t.Fatal(err)
				}
			},
			check: func(t *testing.T, c *catalog.Catalog, rec *wxqr.Record, err error) {
				if !errors.Is(err, catalog.ErrLockLost) {
					t.Errorf("Finish = %v, want ErrLockLost", err)
				}
				if got := mustGet(t, c, rec.ID); got.Generation != 1 {
					t.Errorf("record generation %d, want 1 untouched", got.Generation)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			c, rdb := newCatalog(t, catalog.Config{})
			old := tempRecord("finish", "spring", base.Add(time.Hour))
			mustPut(t, c, old)
			claim, err := c.Claim(ctx, old.ID, time.Minute, old.Campaign)
			if err != nil {
				t.Fatal(err)
			}
			defer claim.Lease.Release()
			if tt.meddle != nil {
				tt.meddle(t, c, rdb, old)
			}
			next := tempRecord("finish", "spring", base.Add(25*time.Hour))
			next.Generation = 2
			tt.check(t, c, next, c.Finish(ctx, next, claim.Lease))
		})
	}
}

// What Claim read for one code never decides the record of another put
// under its lease.
func TestPutHeldDecidesOnItsOwnCode(t *testing.T) {
	ctx := t.Context()
	c, _ := newCatalog(t, catalog.Config{})
	a := tempRecord("a", "spring", base.Add(time.Hour))
	b := tempRecord("b", "spring", base.Add(time.Hour))
	mustPut(t, c, a, b)
	mustRetire(t, c, a.ID)
	claim, err := c.Claim(ctx, a.ID, time.Minute, "spring")
	if err != nil {
		t.Fatal(err)
	}
	defer claim.Lease.Release()
	next := *b
	next.Generation = 2
	if err := c.PutHeld(ctx, &next, claim.Lease); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, c, b.ID); got.Generation != 2 || got.Retired {
		t.Errorf("b: generation %d retired %v, want generation 2 not retired (a is retired, b is not)", got.Generation, got.Retired)
	}
}

// A regeneration claims its code without a campaign, and records it in the
// campaign the record has: Finish takes that campaign for not retired, in
// one round trip, and still stores the code retired when it was.
func TestFinishOfARegeneration(t *testing.T) {
	for _, retired := range []bool{false, true} {
		t.Run(fmt.Sprintf("campaign retired %v", retired), func(t *testing.T) {
			ctx := t.Context()
			c, rdb := newCatalog(t, catalog.Config{})
			old := tempRecord("regenerated", "spring", base.Add(time.Hour))
			mustPut(t, c, old)
			if retired {
				if _, err := c.RetireCampaign(ctx, "spring"); err != nil {
					t.Fatal(err)
				}
			}
			claim, err := c.Claim(ctx, old.ID, time.Minute, "")
			if err != nil {
				t.Fatal(err)
			}
			defer claim.Lease.Release()
			var sent []string
			rdb.AddHook(observer(func(cmd redis.Cmder) { sent = append(sent, cmd.Name()) }))
			next := tempRecord("regenerated", "spring", base.Add(25*time.Hour))
			next.Generation = 2
			if err := c.Finish(ctx, next, claim.Lease); err != nil {
				t.Fatal(err)
			}
			finish := slices.Clone(sent)
			got := mustGet(t, c, old.ID)
			if got.Generation != 2 || got.Retired != retired {
				t.Errorf("record generation %d retired %v, want generation 2 retired %v", got.Generation, got.Retired, retired)
			}
			// A retired campaign costs a read and a second commit.
			if want := []string{"evalsha"}; !retired && !slices.Equal(finish, want) {
				t.Errorf("Finish sent %q, want only the commit %q", finish, want)
			}
		})
	}
}
