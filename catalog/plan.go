package catalog

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"
)

// A campaign's plan is the set of codes it asked for that are not made yet
// (with, in its counters, a mark that it has one: see stats.go), and its
// failures the codes that will not be made (WeChat refused them,
// or they ran out of retries). With the generated codes they say how much
// is still queued without reading the queues. A code leaves the plan when
// it is made (Put), so a finished campaign's plan costs nothing.

// Plan records that campaign asked for the codes ids: those it has not made
// yet join its plan. Planning a code twice counts it once.
func (c *Catalog) Plan(ctx context.Context, campaign string, ids ...string) error {
	if campaign == "" || len(ids) == 0 {
		return nil
	}
	args := make([]any, 0, 2*len(ids)+2)
	args = append(args, campaign, fieldHasPlan)
	for _, id := range ids {
		args = append(args, id, member(id))
	}
	keys := []string{c.keys.unmade(campaign), c.keys.campaign(campaign), c.keys.campaigns(), c.keys.stats(campaign)}
	if err := planScript.Run(ctx, c.rdb, keys, args...).Err(); err != nil {
		return fmt.Errorf("catalog: plan %d codes of %q: %w", len(ids), campaign, err)
	}
	return nil
}

// planScript adds to a campaign's plan the ids it has not made, at once, so
// that a code made meanwhile is not planned again.
//
// KEYS: 1 the plan, 2 the campaign's id index, 3 the campaigns, 4 the
// campaign's counters.
// ARGV: 1 the campaign, 2 the counters' field that marks a plan, 3... each
// id and its short form (see member.go).
var planScript = redis.NewScript(`
for i = 3, #ARGV, 2 do
	if not redis.call('ZSCORE', KEYS[2], ARGV[i+1]) and not redis.call('ZSCORE', KEYS[2], ARGV[i]) then
		redis.call('SADD', KEYS[1], ARGV[i])
	end
end
redis.call('HSET', KEYS[4], ARGV[2], 1)
redis.call('SADD', KEYS[3], ARGV[1])
return 0
`)

// Fail records that the code id of campaign will not be made, and why.
func (c *Catalog) Fail(ctx context.Context, campaign, id, reason string) error {
	if campaign == "" {
		return nil
	}
	if err := c.rdb.HSet(ctx, c.keys.failed(campaign), id, reason).Err(); err != nil {
		return fmt.Errorf("catalog: record failure of %s: %w", id, err)
	}
	return nil
}

// Failures returns why each failed code of campaign failed, by id.
func (c *Catalog) Failures(ctx context.Context, campaign string) (map[string]string, error) {
	m, err := c.rdb.HGetAll(ctx, c.keys.failed(campaign)).Result()
	if err != nil {
		return nil, fmt.Errorf("catalog: failures of %q: %w", campaign, err)
	}
	return m, nil
}

// Progress counts the codes campaign planned, made and failed, in one round
// trip and without reading a record: what is left to make (Stats.Queued).
// Only Planned, Generated and Failed are set.
func (c *Catalog) Progress(ctx context.Context, campaign string) (Stats, error) {
	s, err := c.CampaignStatsOf(ctx, []string{campaign}, time.Time{}, 0)
	if err != nil {
		return Stats{}, err
	}
	return Stats{Planned: s[0].Planned, Generated: s[0].Generated, Failed: s[0].Failed}, nil
}

// upgradePlan turns the plan of a catalog written when it held every code
// campaign asked for, made or not, into the codes not made yet. It reads
// the whole plan, once.
func (c *Catalog) upgradePlan(ctx context.Context, campaign string) error {
	old := c.keys.legacyPlanned(campaign)
	ids, err := c.rdb.SMembers(ctx, old).Result()
	if err != nil {
		return fmt.Errorf("catalog: upgrade the plan of %q: %w", campaign, err)
	}
	// Plan checks each id against what the campaign made, at once; the old
	// plan goes after: a read meanwhile upgrades it again, to the same.
	for chunk := range slices.Chunk(ids, c.batch) {
		if err := c.Plan(ctx, campaign, chunk...); err != nil {
			return err
		}
	}
	if err := c.rdb.Del(ctx, old).Err(); err != nil {
		return fmt.Errorf("catalog: upgrade the plan of %q: %w", campaign, err)
	}
	return nil
}
