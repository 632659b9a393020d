package catalog

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr"
)

// Campaigns returns the names of the campaigns that have at least one code,
// sorted.
func (c *Catalog) Campaigns(ctx context.Context) ([]string, error) {
	return c.sortedMembers(ctx, c.keys.campaigns(), "campaigns")
}

// Apps returns the ids of the apps that have at least one code, sorted.
func (c *Catalog) Apps(ctx context.Context) ([]string, error) {
	return c.sortedMembers(ctx, c.keys.apps(), "apps")
}

func (c *Catalog) sortedMembers(ctx context.Context, key, what string) ([]string, error) {
	names, err := c.rdb.SMembers(ctx, key).Result()
	if err != nil {
		return nil, fmt.Errorf("catalog: list %s: %w", what, err)
	}
	slices.Sort(names)
	return names, nil
}

// Each calls fn with every record of campaign, or, for campaign "", with
// every record: the codes without a campaign, then each campaign's, by
// name. Within a campaign it goes in id order, reading BatchSize records at
// a time, so memory stays bounded whatever the size of the campaign. A
// record put during the walk may or may not be visited; every record that
// stays in its campaign throughout is visited exactly once. Each stops at
// the first error from fn and returns it unchanged.
func (c *Catalog) Each(ctx context.Context, campaign string, fn func(*wxqr.Record) error) error {
	return c.eachRecords(ctx, campaign, func(recs []*wxqr.Record) error {
		for _, rec := range recs {
			if err := fn(rec); err != nil {
				return err
			}
		}
		return nil
	})
}

// eachRecords is Each a batch of records at a time: fn gets the records of
// one page of ids, those deleted since the page was read left out.
func (c *Catalog) eachRecords(ctx context.Context, campaign string, fn func([]*wxqr.Record) error) error {
	if campaign != "" {
		return c.eachIn(ctx, campaign, fn)
	}
	if err := c.eachIn(ctx, "", fn); err != nil {
		return err
	}
	names, err := c.Campaigns(ctx)
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := c.eachIn(ctx, name, fn); err != nil {
			return err
		}
	}
	return nil
}

// eachIn is eachRecords over the id index of one campaign ("" = the codes
// without a campaign).
func (c *Catalog) eachIn(ctx context.Context, campaign string, fn func([]*wxqr.Record) error) error {
	return c.eachBatch(ctx, c.idIndex(campaign), func(ids []string) error {
		recs, err := c.GetMany(ctx, ids)
		if err != nil {
			return err
		}
		return fn(slices.DeleteFunc(recs, func(rec *wxqr.Record) bool {
			// The index of the codes without a campaign held every id in
			// catalogs written before it did not: those of a campaign are
			// visited with it (and Recount drops them).
			return rec == nil || rec.Campaign != campaign
		}))
	})
}

// Count returns how many records campaign ("" = every record) holds, as
// Each would visit them now: a total for progress reports, in one round
// trip.
func (c *Catalog) Count(ctx context.Context, campaign string) (int64, error) {
	if campaign != "" {
		n, err := c.rdb.ZCard(ctx, c.idIndex(campaign)).Result()
		if err != nil {
			return 0, fmt.Errorf("catalog: count %s: %w", campaign, err)
		}
		return n, nil
	}
	names, err := c.Campaigns(ctx)
	if err != nil {
		return 0, err
	}
	cards := make([]*redis.IntCmd, 0, len(names)+1)
	_, err = c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, name := range append(names, "") {
			cards = append(cards, p.ZCard(ctx, c.idIndex(name)))
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("catalog: count every code: %w", err)
	}
	var n int64
	for _, card := range cards {
		n += card.Val()
	}
	return n, nil
}

// idIndex is the sorted set holding the ids of campaign ("" = the codes
// without a campaign).
func (c *Catalog) idIndex(campaign string) string {
	if campaign == "" {
		return c.keys.noCampaign()
	}
	return c.keys.campaign(campaign)
}

// eachBatch pages through the ids of the id index key, BatchSize at a time,
// in the order of its members: each page starts after the last member of
// the previous one, so writes during the walk neither repeat nor skip the
// ids already there.
func (c *Catalog) eachBatch(ctx context.Context, key string, fn func(ids []string) error) error {
	start := "-"
	for {
		members, err := c.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{
			Key: key, Start: start, Stop: "+", ByLex: true, Count: int64(c.batch),
		}).Result()
		if err != nil {
			return fmt.Errorf("catalog: list %s: %w", key, err)
		}
		if len(members) == 0 {
			return nil
		}
		if err := fn(idsOf(members)); err != nil {
			return err
		}
		if len(members) < c.batch {
			return nil
		}
		start = "(" + members[len(members)-1]
	}
}

// Expiring returns up to limit temporary codes that are not retired and
// expire before before (at one-second resolution), soonest first: the codes
// to regenerate. limit <= 0 means no limit.
func (c *Catalog) Expiring(ctx context.Context, before time.Time, limit int) ([]*wxqr.Record, error) {
	members, err := c.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{
		Key: c.keys.expiry(), Start: "-inf", Stop: "(" + strconv.FormatInt(before.Unix(), 10),
		ByScore: true, Count: int64(max(limit, 0)),
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("catalog: expiring before %s: %w", before.UTC().Format(time.RFC3339), err)
	}
	recs, err := c.GetMany(ctx, idsOf(members))
	if err != nil {
		return nil, err
	}
	found := recs[:0]
	for _, rec := range recs {
		if rec != nil {
			found = append(found, rec)
		}
	}
	return found, nil
}

// QuotaUsed returns how many distinct codes of app have spent the lifetime
// quota of class. Classes without a lifetime quota (see
// wxqr.QuotaClass.Lifetime) are not counted and always return 0.
func (c *Catalog) QuotaUsed(ctx context.Context, appID string, class wxqr.QuotaClass) (int64, error) {
	n, err := c.rdb.SCard(ctx, c.keys.quota(appID, class)).Result()
	if err != nil {
		return 0, fmt.Errorf("catalog: quota used by %s %s: %w", appID, class, err)
	}
	return n, nil
}

// QuotaSpent reports, for each of ids, whether that code of app is in the
// ledger of class: whether it spent a slot of the class's lifetime quota,
// which making it again does not spend twice. For a class without a
// lifetime quota every answer is false. One round trip for all of ids.
func (c *Catalog) QuotaSpent(ctx context.Context, appID string, class wxqr.QuotaClass, ids []string) ([]bool, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	members := make([]any, len(ids))
	for i, id := range ids {
		members[i] = id
	}
	spent, err := c.rdb.SMIsMember(ctx, c.keys.quota(appID, class), members...).Result()
	if err != nil {
		return nil, fmt.Errorf("catalog: quota spent by %d codes of %s %s: %w", len(ids), appID, class, err)
	}
	return spent, nil
}

// Stats summarises one campaign for its operators.
type Stats struct {
	Planned      int // codes the campaign asked for (see Plan); 0 for ""
	Failed       int // codes that will not be made (see Fail)
	Generated    int // codes in the catalog, retired ones included
	Retired      int // codes that will never be regenerated
	ExpiringSoon int // not retired, expire on a day from today (UTC) to the day the window ends
	Expired      int // not retired, expired on a day before today (UTC)
}

// Queued is how many planned codes are neither made nor failed: still in the
// queues (or paused there).
func (s Stats) Queued() int { return max(s.Planned-s.Generated-s.Failed, 0) }

// CampaignStats counts the codes of campaign ("" = every code) as seen at
// now, from the counters that every write keeps (see stats.go): one round
// trip for a campaign, one per call for "" (the counters of every campaign
// and of the codes without one, summed; Planned and Failed are 0). Expired
// and ExpiringSoon are counted by UTC day: see statsFrom.
func (c *Catalog) CampaignStats(ctx context.Context, campaign string, now time.Time, soon time.Duration) (Stats, error) {
	names := []string{campaign}
	if campaign == "" {
		all, err := c.Campaigns(ctx)
		if err != nil {
			return Stats{}, err
		}
		names = append(all, "")
	}
	each, err := c.CampaignStatsOf(ctx, names, now, soon)
	if err != nil {
		return Stats{}, err
	}
	if campaign != "" {
		return each[0], nil
	}
	var total Stats
	for _, s := range each {
		total.AddCodes(s)
	}
	return total, nil
}

// AddCodes adds the code counts of o to s: Generated, Retired, Expired and
// ExpiringSoon (a plan's counts do not add up across campaigns).
func (s *Stats) AddCodes(o Stats) {
	s.Generated += o.Generated
	s.Retired += o.Retired
	s.Expired += o.Expired
	s.ExpiringSoon += o.ExpiringSoon
}

// Page is one page of a campaign's records, in the order of its index,
// and where it is.
type Page struct {
	Records []*wxqr.Record
	// Before counts the codes of the campaign that come before the page's.
	Before int64
	// Next is the cursor of the next page (the index member of the last
	// code shown: URL-safe, and the same for a code whatever its page) when
	// HasNext.
	Next    string
	HasNext bool
	// Prev is the cursor of the previous page when HasPrev; "" for the
	// first page.
	Prev    string
	HasPrev bool
}

// PageAfter returns the records of campaign ("" = the codes without a
// campaign) that follow the cursor after ("" = from the first; else a
// Page.Next or Page.Prev), up to size of them, with the cursors of the next
// and previous pages. Its cost does not depend on where
// the page is: two round trips, each reading at most size+1 ids (ZRANGE
// BYLEX from the cursor, no offset) and the page's records.
func (c *Catalog) PageAfter(ctx context.Context, campaign, after string, size int) (Page, error) {
	key := c.idIndex(campaign)
	start := "-"
	if after != "" {
		start = "(" + after
	}
	var page Page
	var ids, prev *redis.StringSliceCmd
	var before *redis.IntCmd
	_, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		ids = p.ZRangeArgs(ctx, redis.ZRangeArgs{Key: key, Start: start, Stop: "+", ByLex: true, Count: int64(size) + 1})
		if after != "" {
			// The previous page is the size ids up to after; its cursor
			// the id before them.
			prev = p.ZRangeArgs(ctx, redis.ZRangeArgs{Key: key, Start: "[" + after, Stop: "-", ByLex: true, Rev: true, Count: int64(size) + 1})
			before = p.ZLexCount(ctx, key, "-", "["+after)
		}
		return nil
	})
	if err != nil {
		return page, fmt.Errorf("catalog: page of %s after %q: %w", key, after, err)
	}
	shown := ids.Val()
	if len(shown) > size {
		shown = shown[:size]
		page.HasNext, page.Next = true, shown[size-1]
	}
	if prev != nil {
		earlier := prev.Val()
		page.HasPrev = len(earlier) > 0
		if len(earlier) > size {
			page.Prev = earlier[size]
		}
		page.Before = before.Val()
	}
	recs, err := c.GetMany(ctx, idsOf(shown))
	if err != nil {
		return page, err
	}
	page.Records = slices.DeleteFunc(recs, func(rec *wxqr.Record) bool { return rec == nil })
	return page, nil
}

// ExpiryCursor is where a walk of the expiry index stands: past every code
// that expires before Score (Unix seconds) and the first Skip that expire
// at Score. The zero value starts at the beginning.
type ExpiryCursor struct {
	Score int64
	Skip  int
}

// ExpiringPage is Expiring a page at a time: up to limit (> 0) codes that
// expire before before, from cursor on, soonest first, the cursor of the
// next page, and whether there may be more. Each page costs one range read
// of the index (ZRANGE BYSCORE from the cursor's score, skipping only the
// codes that share that second) and one read of its records. A code
// removed from the index before the cursor while the walk goes on may make
// it skip one code; the next walk finds it.
func (c *Catalog) ExpiringPage(ctx context.Context, before time.Time, cursor ExpiryCursor, limit int) ([]*wxqr.Record, ExpiryCursor, bool, error) {
	entries, err := c.rdb.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{
		Key: c.keys.expiry(), Start: strconv.FormatInt(cursor.Score, 10), Stop: "(" + strconv.FormatInt(before.Unix(), 10),
		ByScore: true, Offset: int64(cursor.Skip), Count: int64(limit),
	}).Result()
	if err != nil {
		return nil, cursor, false, fmt.Errorf("catalog: expiring before %s: %w", before.UTC().Format(time.RFC3339), err)
	}
	ids := make([]string, len(entries))
	next := cursor
	for i, z := range entries {
		ids[i] = idOf(z.Member.(string))
		if score := int64(z.Score); score != next.Score {
			next = ExpiryCursor{Score: score}
		}
		next.Skip++
	}
	recs, err := c.GetMany(ctx, ids)
	if err != nil {
		return nil, cursor, false, err
	}
	return slices.DeleteFunc(recs, func(rec *wxqr.Record) bool { return rec == nil }), next, len(entries) == limit, nil
}
