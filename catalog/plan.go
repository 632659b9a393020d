package catalog

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// A campaign's plan is the set of codes it asked for, and its failures the
// codes that will not be made (WeChat refused them, or they ran out of
// retries). With the generated codes they say how much is still queued
// without reading the queues.

// Plan records that campaign asked for the codes ids. Planning a code twice
// counts it once.
func (c *Catalog) Plan(ctx context.Context, campaign string, ids ...string) error {
	if campaign == "" || len(ids) == 0 {
		return nil
	}
	members := make([]any, len(ids))
	for i, id := range ids {
		members[i] = id
	}
	_, err := c.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.SAdd(ctx, c.keys.planned(campaign), members...)
		p.SAdd(ctx, c.keys.campaigns(), campaign)
		return nil
	})
	if err != nil {
		return fmt.Errorf("catalog: plan %d codes of %q: %w", len(ids), campaign, err)
	}
	return nil
}

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
// trip and without reading a record: what is left to make (Stats.Queued)
// without CampaignStats's walk. Only Planned, Generated and Failed are set.
func (c *Catalog) Progress(ctx context.Context, campaign string) (Stats, error) {
	var p, g, f *redis.IntCmd
	_, err := c.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		p = pipe.SCard(ctx, c.keys.planned(campaign))
		g = pipe.ZCard(ctx, c.keys.campaign(campaign))
		f = pipe.HLen(ctx, c.keys.failed(campaign))
		return nil
	})
	if err != nil {
		return Stats{}, fmt.Errorf("catalog: progress of %q: %w", campaign, err)
	}
	return Stats{Planned: int(p.Val()), Generated: int(g.Val()), Failed: int(f.Val())}, nil
}
