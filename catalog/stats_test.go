package catalog_test

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
)

// counters returns the raw counters of campaign ("" = codes without one).
func counters(t *testing.T, rdb *redis.Client, campaign string) map[string]string {
	t.Helper()
	key := catalog.DefaultPrefix + "stats"
	if campaign != "" {
		key += ":" + campaign
	}
	m, err := rdb.HGetAll(t.Context(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestCountersExactUnderConcurrency has writers put, regenerate, move and
// retire codes at the same time, then checks that the counters every write
// kept are what a Recount from the records finds.
func TestCountersExactUnderConcurrency(t *testing.T) {
	c, rdb := newCatalog(t, catalog.Config{BatchSize: 7})
	ctx := t.Context()
	campaigns := []string{"a", "b", "c", ""}
	const writers, codesEach = 6, 40
	var wg sync.WaitGroup
	errs := make(chan error, writers+1)
	for w := range writers {
		wg.Go(func() {
			for i := range codesEach {
				// Writers share codes: writer w and w+1 touch code i of
				// the same scene, so puts of one code race.
				rec := tempRecord(fmt.Sprintf("s%d-%d", w/2, i), campaigns[(w+i)%len(campaigns)], base.Add(time.Duration(i)*7*time.Hour))
				if err := c.Put(ctx, rec); err != nil {
					errs <- err
					return
				}
				switch i % 4 {
				case 1: // regenerate: a later day
					next := *rec
					next.Generation, next.ExpiresAt = 2, rec.ExpiresAt.Add(30*time.Hour)
					if err := c.Put(ctx, &next); err != nil {
						errs <- err
						return
					}
				case 2: // move to another campaign
					moved := *rec
					moved.Campaign = campaigns[(w+i+1)%len(campaigns)]
					if err := c.Put(ctx, &moved); err != nil {
						errs <- err
						return
					}
				case 3:
					if _, err := c.Retire(ctx, rec.ID); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Go(func() {
		if _, err := c.RetireCampaign(ctx, "c"); err != nil {
			errs <- err
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	total := 0
	for _, name := range campaigns {
		t.Run("campaign="+name, func(t *testing.T) {
			kept := counters(t, rdb, name)
			if err := c.Recount(ctx, name); err != nil {
				t.Fatal(err)
			}
			recounted := counters(t, rdb, name)
			if !maps.Equal(kept, recounted) {
				t.Errorf("counters kept by the writes\n%v\ndiffer from a recount\n%v", kept, recounted)
			}
			n, err := c.Count(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			if name != "" && recounted["generated"] != fmt.Sprint(n) {
				t.Errorf("generated = %s, the campaign holds %d", recounted["generated"], n)
			}
			var g int
			fmt.Sscan(recounted["generated"], &g)
			total += g
		})
	}
	all, err := c.Count(ctx, "")
	if err != nil || int64(total) != all {
		t.Errorf("the campaigns' counters sum to %d codes, the catalog holds %d (%v)", total, all, err)
	}
	if s, err := c.CampaignStats(ctx, "", base, time.Hour); err != nil || int64(s.Generated) != all {
		t.Errorf(`CampaignStats("") counts %d codes, the catalog holds %d (%v)`, s.Generated, all, err)
	}
}

// TestRecountCountsOldRecords: records from before the counters (here:
// counters deleted) are counted on the first read and by Recount, and later
// writes stay exact.
func TestRecountCountsOldRecords(t *testing.T) {
	c, rdb := newCatalog(t, catalog.Config{})
	ctx := t.Context()
	soon := tempRecord("soon", "spring", base.Add(time.Hour))
	mustPut(t, c, soon, tempRecord("later", "spring", base.Add(72*time.Hour)), permRecord("wxoa", wxqr.KindOAPerm, 1, "spring"))
	want := counters(t, rdb, "spring")
	if err := rdb.Del(ctx, catalog.DefaultPrefix+"stats:spring").Err(); err != nil {
		t.Fatal(err)
	}
	// The first read counts them: a catalog upgraded to counters shows
	// its campaigns right without a reindex.
	if got, err := c.CampaignStats(ctx, "spring", base, time.Hour); err != nil || got.Generated != 3 {
		t.Fatalf("the first read of a campaign without counters: %+v, %v; want 3 generated", got, err)
	}
	if got := counters(t, rdb, "spring"); !maps.Equal(got, want) {
		t.Fatalf("counted on first read: %v, want %v", got, want)
	}
	// A read counts them: a catalog upgraded to counters shows its
	// campaigns right without a reindex, even once newer codes are counted.
	mustPut(t, c, permRecord("wxoa", wxqr.KindOAPerm, 2, "spring"))
	if got, err := c.CampaignStats(ctx, "spring", base, time.Hour); err != nil || got.Generated != 4 {
		t.Fatalf("a read of a campaign with codes older than its counters: %+v, %v; want 4 generated", got, err)
	}
	want["generated"] = "4"
	if got := counters(t, rdb, "spring"); !maps.Equal(got, want) {
		t.Fatalf("counted on read: %v, want %v", got, want)
	}
	if err := c.Recount(ctx, "spring"); err != nil {
		t.Fatal(err)
	}
	if got := counters(t, rdb, "spring"); !maps.Equal(got, want) {
		t.Fatalf("recounted %v, want %v", got, want)
	}
	mustRetire(t, c, soon.ID)
	got, err := c.CampaignStats(ctx, "spring", base, time.Hour)
	want2 := catalog.Stats{Generated: 4, Retired: 1}
	if err != nil || got != want2 {
		t.Errorf("after Retire: %+v, %v; want %+v", got, err, want2)
	}
	if f := counters(t, rdb, "spring"); f["expires:2025-03-01"] != "" {
		t.Errorf("an emptied day bucket stays: %v", f)
	}
}

// TestExpiringPage walks the expiry index in pages smaller than the groups
// of codes that expire in the same second: each due code once, in order.
func TestExpiringPage(t *testing.T) {
	c, _ := newCatalog(t, catalog.Config{})
	var want []string
	for i := range 23 {
		rec := tempRecord(fmt.Sprintf("s%02d", i), "", base.Add(time.Duration(i/5)*time.Second))
		mustPut(t, c, rec)
		if i < 20 {
			want = append(want, rec.ID)
		}
	}
	for _, size := range []int{1, 3, 5, 7, 100} {
		t.Run(fmt.Sprint("size=", size), func(t *testing.T) {
			var got []string
			var cursor catalog.ExpiryCursor
			for more := true; more; {
				var recs []*wxqr.Record
				var err error
				recs, cursor, more, err = c.ExpiringPage(t.Context(), base.Add(4*time.Second), cursor, size)
				if err != nil {
					t.Fatal(err)
				}
				if len(recs) > size {
					t.Fatalf("a page of %d codes, limit %d", len(recs), size)
				}
				for _, rec := range recs {
					got = append(got, rec.ID)
				}
			}
			if slices.Sort(got); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
				t.Errorf("walked %d codes, want %d each once", len(got), len(want))
			}
		})
	}
}

// TestUpgradeFromIndexOfEveryCode: a catalog written when its index of the
// codes without a campaign held every id is walked right at once, and
// mended by the first read of those codes' counters.
func TestUpgradeFromIndexOfEveryCode(t *testing.T) {
	c, rdb := newCatalog(t, catalog.Config{})
	ctx := t.Context()
	loose := tempRecord("loose", "", base.Add(time.Hour))
	inCampaign := []*wxqr.Record{tempRecord("a", "spring", base.Add(time.Hour)), permRecord("wxoa", wxqr.KindOAPerm, 1, "autumn")}
	mustPut(t, c, append(inCampaign, loose)...)
	index := catalog.DefaultPrefix + "codes"
	for _, rec := range inCampaign {
		if err := rdb.ZAdd(ctx, index, redis.Z{Member: rec.ID}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := eachIDs(t, c, ""), sorted(loose.ID, inCampaign[0].ID, inCampaign[1].ID); !slices.Equal(sorted(got...), want) {
		t.Errorf("Each(all) = %v, want each code once: %v", got, want)
	}
	if got := eachIDs(t, c, ""); len(got) != 3 {
		t.Errorf("Each(all) visited %d codes, want 3", len(got))
	}
	if err := rdb.Del(ctx, catalog.DefaultPrefix+"stats").Err(); err != nil { // as before the counters
		t.Fatal(err)
	}
	if s, err := c.CampaignStats(ctx, "", base, time.Hour); err != nil || s.Generated != 3 {
		t.Errorf(`CampaignStats("") = %+v, %v; want 3 generated`, s, err)
	}
	if ids, err := rdb.ZRange(ctx, index, 0, -1).Result(); err != nil || !slices.Equal(ids, []string{catalog.Member(loose.ID)}) {
		t.Errorf("index of the codes without a campaign after a read: %v, %v; want only %s", ids, err, loose.ID)
	}
	if n, err := c.Count(ctx, ""); err != nil || n != 3 {
		t.Errorf(`Count("") = %d, %v; want 3`, n, err)
	}
}
