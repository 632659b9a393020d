package catalog

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr"
)

// Claim is what a worker about to make a code needs to know, read under the
// code's lock: see Catalog.Claim.
type Claim struct {
	// Lease holds the code's lock; its holder releases it (Lease.Release,
	// or Finish).
	Lease *Lease
	// Record is the code's record, or nil when the catalog has none.
	Record *wxqr.Record
	// Staged is the result an earlier attempt staged, or nil (Staged).
	Staged *Staged
	// Called is the generation an earlier attempt asked WeChat for since
	// the code was last recorded, or 0 (Called).
	Called int
	// CampaignRetired is whether the campaign named in the call was
	// retired as a whole (CampaignRetired).
	CampaignRetired bool
}

// Claim takes the lock of code id as Lock does and, in the same round trip,
// reads what the worker decides on: the record, the staged result, the call
// mark and whether campaign is retired. The reads follow the lock on the same
// connection, so they see every write of the lock's previous holder. A
// Redis Cluster keeps that order only when every catalog key lives in one
// slot (a prefix with a hash tag; see the package documentation).
//
// It fails with ErrLocked when someone else holds the code, and with
// Config.MinReplicas as Lock does. A record, staged result or call mark that
// cannot be decoded is an error: the lock is released, and the caller must
// not call WeChat.
func (c *Catalog) Claim(ctx context.Context, id string, ttl time.Duration, campaign string) (*Claim, error) {
	l, err := c.newLease(ctx, id)
	if err != nil {
		return nil, err
	}
	var (
		lock    *redis.BoolCmd
		record  *redis.StringCmd
		staged  *redis.MapStringStringCmd
		called  *redis.StringCmd
		retired *redis.BoolCmd
	)
	cmds, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		lock = p.SetNX(ctx, l.key, l.token, ttl)
		record = p.Get(ctx, c.keys.code(id))
		staged = p.HGetAll(ctx, c.keys.staged(id))
		called = p.Get(ctx, c.keys.called(id))
		if campaign != "" {
			retired = p.SIsMember(ctx, c.keys.retiredCampaigns(), campaign)
		}
		return nil
	})
	if err != nil {
		// A missing key is an answer; any other error of any command is not.
		err = nil
		for _, cmd := range cmds {
			if cerr := cmd.Err(); cerr != nil && !errors.Is(cerr, redis.Nil) {
				err = cerr
				break
			}
		}
	}
	if err != nil {
		if lock.Val() {
			l.unlock()
		}
		return nil, fmt.Errorf("catalog: claim %s: %w", id, err)
	}
	if !lock.Val() {
		return nil, ErrLocked
	}
	claim, seen, err := c.decodeClaim(id, campaign, record, staged, called, retired)
	if err != nil {
		l.unlock()
		return nil, fmt.Errorf("catalog: claim %s: %w", id, err)
	}
	if err := c.replicateLock(ctx, l.key, l.token, ttl); err != nil {
		return nil, fmt.Errorf("catalog: claim %s: %w", id, err)
	}
	go l.renew(ttl)
	// What put decides on, read under the lock: Finish needs no reads.
	seen.conds = append([]cond{{args: lockRead(l.key), reply: stringReply(l.token)}}, seen.conds...)
	l.seen.Store(seen)
	claim.Lease = l
	return claim, nil
}

// decodeClaim reads the answers of Claim's pipeline, and returns with the
// claim what put would read of them (but for the lock).
func (c *Catalog) decodeClaim(id, campaign string, record *redis.StringCmd, staged *redis.MapStringStringCmd, called *redis.StringCmd, retired *redis.BoolCmd) (*Claim, *putState, error) {
	claim := &Claim{}
	seen := &putState{campaign: campaign}
	data, err := record.Result()
	if err == nil {
		if seen.old, err = decodeStored(id, []byte(data)); err != nil {
			return nil, nil, err
		}
		// The claim's own copy: what its holder does with it must not
		// change what Finish decides on.
		rec := *seen.old.rec
		claim.Record = &rec
	}
	reply, err := replyOf(data, err)
	if err != nil {
		return nil, nil, err
	}
	seen.conds = append(seen.conds, cond{args: c.recordRead(id), reply: reply})
	if fields := staged.Val(); len(fields) > 0 {
		s, err := decodeStaged(fields)
		if err != nil {
			return nil, nil, fmt.Errorf("staged result: %w", err)
		}
		claim.Staged = s
	}
	if called.Err() == nil {
		gen, err := called.Int()
		if err != nil {
			return nil, nil, fmt.Errorf("call mark: %w", err)
		}
		claim.Called = gen
	}
	if retired != nil {
		claim.CampaignRetired = retired.Val()
		seen.campaignRetired = claim.CampaignRetired
		seen.conds = append(seen.conds, cond{args: c.retiredRead(campaign), reply: boolReply(claim.CampaignRetired)})
	}
	return claim, seen, nil
}
