package catalog

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/redis/go-redis/v9"
)

// Retire marks the codes with ids as retired: they stay in the catalog (and
// in their campaign, and in the quota they spent) but leave the expiry index,
// so they are never regenerated, and their campaigns' counters say so. It returns how many codes it retired; ids
// that are unknown or already retired are not counted.
func (c *Catalog) Retire(ctx context.Context, ids ...string) (int, error) {
	seen := make(map[string]bool, len(ids))
	unique := make([]string, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			unique = append(unique, id)
		}
	}
	total := 0
	for batch := range slices.Chunk(unique, c.batch) {
		n, err := c.retire(ctx, batch)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// RetireCampaign retires campaign for good: every code it has, BatchSize at
// a time, and every code it will have, as Put stores them retired and the
// generator makes none (see CampaignRetired). It returns how many records
// it retired (those already retired are not counted).
//
// The campaign is marked first and its records walked after: a Put either
// committed before the mark, and the walk finds its record, or its commit
// finds the mark it did not read, reads again and stores the record
// retired.
func (c *Catalog) RetireCampaign(ctx context.Context, campaign string) (int, error) {
	if campaign == "" {
		return 0, errors.New("catalog: retire campaign: a campaign name is required")
	}
	if err := c.rdb.SAdd(ctx, c.keys.retiredCampaigns(), campaign).Err(); err != nil {
		return 0, fmt.Errorf("catalog: retire campaign %q: %w", campaign, err)
	}
	total := 0
	err := c.eachBatch(ctx, c.keys.campaign(campaign), func(ids []string) error {
		n, err := c.retire(ctx, ids)
		total += n
		return err
	})
	return total, err
}

// CampaignRetired reports whether campaign was retired with RetireCampaign.
// The campaign "" never is.
func (c *Catalog) CampaignRetired(ctx context.Context, campaign string) (bool, error) {
	if campaign == "" {
		return false, nil
	}
	retired, err := c.rdb.SIsMember(ctx, c.keys.retiredCampaigns(), campaign).Result()
	if err != nil {
		return false, fmt.Errorf("catalog: is campaign %q retired: %w", campaign, err)
	}
	return retired, nil
}

// retire retires one batch of distinct ids in one transaction.
func (c *Catalog) retire(ctx context.Context, ids []string) (int, error) {
	codeKeys := make([]string, len(ids))
	for i, id := range ids {
		codeKeys[i] = c.keys.code(id)
	}
	retired := 0
	err := c.transact(ctx, func(tx *redis.Tx) error {
		retired = 0
		vals, err := tx.MGet(ctx, codeKeys...).Result()
		if err != nil {
			return err
		}
		type update struct {
			id           string
			data         []byte
			legacyTicket string // the key to delete, if any
		}
		var updates []update
		deltas := counterDeltas{}
		for i, v := range vals {
			s, ok := v.(string)
			if !ok {
				continue
			}
			value, err := decodeStored(ids[i], []byte(s))
			if err != nil {
				return err
			}
			rec := value.rec
			if rec.Retired {
				continue
			}
			deltas.add(c.keys, rec, -1)
			rec.Retired = true
			deltas.add(c.keys, rec, 1)
			// The record is its own successor: it knows its ticket.
			updates = append(updates, update{ids[i], value.encode(), c.legacyTicketKey(value, value)})
		}
		if len(updates) == 0 {
			return nil
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			for _, u := range updates {
				p.Set(ctx, c.keys.code(u.id), u.data, 0)
				if u.legacyTicket != "" {
					p.Del(ctx, u.legacyTicket)
				}
				p.ZRem(ctx, c.keys.expiry(), memberForms(u.id)...)
			}
			deltas.queue(ctx, p)
			return nil
		})
		if err == nil {
			retired = len(updates)
		}
		return err
	}, codeKeys...)
	if err != nil {
		return 0, fmt.Errorf("catalog: retire %d codes: %w", len(ids), err)
	}
	return retired, nil
}
