package catalog

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr"
)

// Every campaign keeps counters of its codes in a hash (keys.stats), so
// that its Stats are read in one round trip whatever its size. The fields:
//
//	generated          codes in the catalog, retired ones included
//	plan               1 once the campaign asked for codes (Plan): not a count
//	retired            codes that will never be regenerated
//	expires:2006-01-02 temporary codes, not retired, that expire on that day (UTC)

// Each writer that changes a record changes the counters in the same
// transaction, by the difference between what the old and the new record
// count for (see counts): Put, Retire and RetireCampaign. A field that
// reaches zero is deleted, so the hash holds only the days that still have
// codes. Records written before the counters existed are counted by
// Recount, which Rebuild runs too, and which reading a campaign's Stats runs
// when its generated count is not the size of its index (the two change in
// one transaction): a catalog upgraded in place holds codes from before the
// counters next to codes counted since.
//
// Planned and failed codes need no counter: the plan (the codes not made
// yet) is a set and the failures a hash, whose sizes Redis knows (SCARD,
// HLEN); the codes planned are those of the plan and those made.

// Counter fields.
const (
	fieldGenerated = "generated"
	fieldRetired   = "retired"
	fieldHasPlan   = "plan"     // "1" once the campaign asked for codes (see Plan): set by Plan, kept by Recount
	fieldExpires   = "expires:" // + the UTC day
)

// dayLayout names the day of an expiry bucket; its strings sort as the days.
const dayLayout = "2006-01-02"

func campaignSuffix(campaign string) string {
	if campaign == "" {
		return ""
	}
	return ":" + campaign
}

// counts is what one stored record adds to its campaign's counters.
func counts(rec *wxqr.Record) map[string]int64 {
	m := map[string]int64{fieldGenerated: 1}
	if rec.Retired {
		m[fieldRetired] = 1
	}
	if expires(rec) {
		m[fieldExpires+rec.ExpiresAt.UTC().Format(dayLayout)] = 1
	}
	return m
}

// counterDeltas collects changes to counters, by hash key and field.
type counterDeltas map[string]map[string]int64

// add adds sign × what rec counts for to its campaign's counters.
func (d counterDeltas) add(k keys, rec *wxqr.Record, sign int64) {
	key := k.stats(rec.Campaign)
	if d[key] == nil {
		d[key] = map[string]int64{}
	}
	for f, n := range counts(rec) {
		d[key][f] += sign * n
	}
}

// incrCounters adds to hash fields and deletes those that reach zero (or
// below, which only a record the counters never counted can cause, until
// Recount). ARGV: for each key, the number of fields, then field and delta
// pairs.
const incrCounters = `
local a = 1
for _, key in ipairs(KEYS) do
	local n = tonumber(ARGV[a])
	a = a + 1
	for _ = 1, n do
		if redis.call("HINCRBY", key, ARGV[a], ARGV[a + 1]) <= 0 then
			redis.call("HDEL", key, ARGV[a])
		end
		a = a + 2
	end
end
return 0`

// queue queues the changes on p, in one script call; nothing if every
// change is zero. The script's source goes with the call (EVAL, not
// EVALSHA): inside MULTI a missing script could not be loaded and retried.
// In a commit (put's) it runs as one of commitFns.
func (d counterDeltas) queue(ctx context.Context, p redis.Pipeliner) {
	var keys []string
	var args []any
	for key, fields := range d {
		var pairs []any
		for f, n := range fields {
			if n != 0 {
				pairs = append(pairs, f, n)
			}
		}
		if len(pairs) == 0 {
			continue
		}
		keys = append(keys, key)
		args = append(append(args, len(pairs)/2), pairs...)
	}
	if len(keys) > 0 {
		p.Eval(ctx, incrCounters, keys, args...)
	}
}

// Recount rebuilds the counters of campaign ("" = the codes without a
// campaign) from its records: for records written before the counters
// existed, or to repair them. It reads every record of the campaign,
// BatchSize at a time (for "", it drops from their index the codes that
// have a campaign, which it held in catalogs written before), and writes the
// counters only if no writer changed them meanwhile, retrying otherwise
// (see transact); a campaign written to without pause may make it fail
// with an error wrapping redis.TxFailedErr.
func (c *Catalog) Recount(ctx context.Context, campaign string) error {
	key := c.keys.stats(campaign)
	err := c.transact(ctx, func(tx *redis.Tx) error {
		d := counterDeltas{}
		var strays []any // ids of codes with a campaign in the index of those without
		err := c.eachBatch(ctx, c.idIndex(campaign), func(ids []string) error {
			recs, err := c.GetMany(ctx, ids)
			if err != nil {
				return err
			}
			for i, rec := range recs {
				switch {
				case rec != nil && rec.Campaign == campaign:
					d.add(c.keys, rec, 1)
				case rec != nil && campaign == "":
					strays = append(strays, memberForms(ids[i])...)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		var pairs []any
		for f, n := range d[key] {
			pairs = append(pairs, f, n)
		}
		// The records do not say whether the campaign has a plan.
		switch hasPlan, err := tx.HGet(ctx, key, fieldHasPlan).Result(); {
		case err == nil:
			pairs = append(pairs, fieldHasPlan, hasPlan)
		case !errors.Is(err, redis.Nil):
			return err
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Del(ctx, key)
			if len(pairs) > 0 {
				p.HSet(ctx, key, pairs...)
			}
			if len(strays) > 0 {
				// Left by a catalog written when that index held every id.
				// A stray that moves meanwhile changes the counters of
				// the codes without a campaign, which fails the write.
				p.ZRem(ctx, c.idIndex(""), strays...)
			}
			return nil
		})
		return err
	}, key)
	if err != nil {
		return fmt.Errorf("catalog: recount %q: %w", campaign, err)
	}
	return nil
}

// CampaignStatsOf returns the Stats of each of campaigns, in the same
// order, in one round trip: four O(1) reads per campaign (the counters,
// the plan's, the failures' and the campaign's sizes) in one transaction,
// so that they agree, and no record. See CampaignStats.
//
// A campaign whose generated count is not the size of its index (some of
// its codes are older than the counters) is counted from its records
// (Recount) when it is read, which mends it for good; should the recount
// not finish, its counters are returned as they are.
func (c *Catalog) CampaignStatsOf(ctx context.Context, campaigns []string, now time.Time, soon time.Duration) ([]Stats, error) {
	type reads struct {
		counters                     *redis.MapStringStringCmd
		unmade, faild, codes, legacy *redis.IntCmd
	}
	rs := make([]reads, len(campaigns))
	_, err := c.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for i, name := range campaigns {
			rs[i].counters = p.HGetAll(ctx, c.keys.stats(name))
			rs[i].codes = p.ZCard(ctx, c.idIndex(name))
			if name != "" {
				rs[i].unmade = p.SCard(ctx, c.keys.unmade(name))
				rs[i].faild = p.HLen(ctx, c.keys.failed(name))
				rs[i].legacy = p.Exists(ctx, c.keys.legacyPlanned(name))
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("catalog: stats of %d campaigns: %w", len(campaigns), err)
	}
	upgraded := false
	for i, r := range rs {
		if r.legacy != nil && r.legacy.Val() > 0 {
			if err := c.upgradePlan(ctx, campaigns[i]); err != nil {
				return nil, err
			}
			upgraded = true
		}
	}
	if upgraded {
		return c.CampaignStatsOf(ctx, campaigns, now, soon)
	}
	out := make([]Stats, len(campaigns))
	for i, r := range rs {
		counters := r.counters.Val()
		if counters[fieldGenerated] != strconv.FormatInt(r.codes.Val(), 10) && r.codes.Val() > 0 {
			// A recount that cannot finish (writers busy on the campaign
			// all along) leaves the counters as they are, to be recounted
			// by a later read: the page shows them rather than an error.
			if recounted, err := c.recounted(ctx, campaigns[i]); err == nil {
				counters = recounted
			}
		}
		s, err := statsFrom(counters, now, soon)
		if err != nil {
			return nil, fmt.Errorf("catalog: stats of %q: %w", campaigns[i], err)
		}
		if r.faild != nil {
			s.Failed = int(r.faild.Val())
		}
		if counters[fieldHasPlan] != "" {
			// What it asked for is made, or still to make.
			s.Planned = int(r.unmade.Val() + r.codes.Val())
		}
		out[i] = s
	}
	return out, nil
}

// recounted counts a campaign from its records (see Recount) and returns
// its counters.
func (c *Catalog) recounted(ctx context.Context, campaign string) (map[string]string, error) {
	if err := c.Recount(ctx, campaign); err != nil {
		return nil, err
	}
	counters, err := c.rdb.HGetAll(ctx, c.keys.stats(campaign)).Result()
	if err != nil {
		return nil, fmt.Errorf("catalog: stats of %q: %w", campaign, err)
	}
	return counters, nil
}

// statsFrom reads the counters of one campaign at now. The expiry counters
// are by UTC day, and so are ExpiringSoon and Expired: a code counts as
// expired from the day after it expires, and as expiring soon from its day
// on, if that day is no later than the day of now + soon.
func statsFrom(fields map[string]string, now time.Time, soon time.Duration) (Stats, error) {
	today := now.UTC().Format(dayLayout)
	horizon := now.Add(soon).UTC().Format(dayLayout)
	var s Stats
	for f, v := range fields {
		n, err := strconv.Atoi(v)
		if err != nil {
			return s, fmt.Errorf("counter %s: %w", f, err)
		}
		switch day, ok := strings.CutPrefix(f, fieldExpires); {
		case f == fieldGenerated:
			s.Generated = n
		case f == fieldRetired:
			s.Retired = n
		case f == fieldHasPlan:
		case !ok: // a field of a later version: not ours to count
		case day < today:
			s.Expired += n
		case day <= horizon:
			s.ExpiringSoon += n
		}
	}
	return s, nil
}

// recountCampaigns is Recount for each campaign in names.
func (c *Catalog) recountCampaigns(ctx context.Context, names map[string]bool) error {
	for _, name := range slices.Sorted(maps.Keys(names)) {
		if err := c.Recount(ctx, name); err != nil {
			return err
		}
	}
	return nil
}
