package catalog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr"
)

// Get returns the record with id, or an error wrapping ErrNotFound.
func (c *Catalog) Get(ctx context.Context, id string) (*wxqr.Record, error) {
	data, err := c.rdb.Get(ctx, c.keys.code(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("catalog: get %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("catalog: get %s: %w", id, err)
	}
	return decodeRecord(id, data)
}

// GetMany returns the records with ids, in the same order, with nil where
// the catalog has none. It reads BatchSize records per MGET, all batches in
// one pipeline.
func (c *Catalog) GetMany(ctx context.Context, ids []string) ([]*wxqr.Record, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	pipe := c.rdb.Pipeline()
	var cmds []*redis.SliceCmd
	for batch := range slices.Chunk(ids, c.batch) {
		codeKeys := make([]string, len(batch))
		for i, id := range batch {
			codeKeys[i] = c.keys.code(id)
		}
		cmds = append(cmds, pipe.MGet(ctx, codeKeys...))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("catalog: get %d records: %w", len(ids), err)
	}
	recs := make([]*wxqr.Record, 0, len(ids))
	for _, cmd := range cmds {
		for _, v := range cmd.Val() {
			s, ok := v.(string)
			if !ok {
				recs = append(recs, nil)
				continue
			}
			rec, err := decodeRecord(ids[len(recs)], []byte(s))
			if err != nil {
				return nil, err
			}
			recs = append(recs, rec)
		}
	}
	return recs, nil
}

// Put inserts or replaces rec and updates every index in one transaction:
// the campaign (moving the code if its campaign changed), the campaigns'
// counters (see stats.go), the expiry index
// (temporary codes that are not retired), the lifetime quota of its app and
// class, the app set and the entry index (Mini Program codes; see
// ByEntry). A new ticket keeps the one it replaces in the record, while
// that is still scannable (see ByScan).
//
// The stored record has its spec normalised and its times in UTC. Put never
// un-retires a code: if the stored record is retired, or its campaign is
// (see RetireCampaign), the new one is stored retired too, so a generation
// that raced with Retire or RetireCampaign cannot bring the code back.
// rec itself is not modified.
//
// Put fails without writing if rec has no id or its id is not rec.Spec.ID().
// With Config.MinReplicas, it fails with ErrNotReplicated when the record was
// written but not acknowledged by that many replicas in time.
func (c *Catalog) Put(ctx context.Context, rec *wxqr.Record) error {
	_, err := c.put(ctx, rec, false, nil, nil)
	return err
}

// PutHeld is Put by the holder of lease, fenced by it: the record is written
// only while the lease still holds the code's lock, in the same transaction,
// and otherwise PutHeld fails with an error wrapping ErrLockLost, so that a
// worker that stalled past its lock never overwrites what the code's new
// holder wrote.
func (c *Catalog) PutHeld(ctx context.Context, rec *wxqr.Record, lease *Lease) error {
	if lease == nil {
		return errors.New("catalog: put: a lease is required")
	}
	_, err := c.put(ctx, rec, false, lease, nil)
	return err
}

// Finish is PutHeld for the run that made the code, and its last word: the
// same transaction also drops the code's staged result and call mark (as
// DropStaged does) and deletes the lease's lock, which it has just checked,
// so recording a code is one transaction and not three calls. After it
// succeeds the lease is released (Release does nothing more); after it
// fails, nothing was written and the lease is still held.
func (c *Catalog) Finish(ctx context.Context, rec *wxqr.Record, lease *Lease) error {
	if lease == nil {
		return errors.New("catalog: finish: a lease is required")
	}
	if rec == nil {
		return errors.New("catalog: finish: nil record")
	}
	drop := append(c.stagedKeys(rec.ID), c.keys.called(rec.ID))
	_, err := c.put(ctx, rec, false, lease, func(p redis.Pipeliner) {
		// EVAL and not EVALSHA: inside MULTI a script that Redis forgot
		// (a restart, a failover) would fail after the record was written.
		p.Eval(ctx, dropHeldScript, drop, rec.ID)
		p.Del(ctx, lease.key)
	})
	if err != nil {
		return err
	}
	lease.released()
	return nil
}

// putReads reads, on tx's connection in one round trip, what put decides
// on: whether lease (if any) still holds its lock, the stored value of id
// (its rec nil if there is none), and whether campaign is retired.
func (c *Catalog) putReads(ctx context.Context, tx *redis.Tx, id, campaign string, lease *Lease) (old stored, campaignRetired bool, err error) {
	var lock, record *redis.StringCmd
	var retired *redis.BoolCmd
	_, err = tx.Pipelined(ctx, func(p redis.Pipeliner) error {
		if lease != nil {
			lock = p.Get(ctx, lease.key)
		}
		record = p.Get(ctx, c.keys.code(id))
		if campaign != "" {
			retired = p.SIsMember(ctx, c.keys.retiredCampaigns(), campaign)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return stored{}, false, err
	}
	if lease != nil {
		if err := lease.check(lock.Result()); err != nil {
			return stored{}, false, err
		}
	}
	switch data, err := record.Bytes(); {
	case errors.Is(err, redis.Nil):
	case err != nil:
		return stored{}, false, err
	default:
		if old, err = decodeStored(id, data); err != nil {
			return stored{}, false, err
		}
	}
	if retired != nil {
		if campaignRetired, err = retired.Result(); err != nil {
			return stored{}, false, err
		}
	}
	return old, campaignRetired, nil
}

// put is Put; with keepNewer it leaves a stored record of a higher
// generation alone and reports written == false; with a lease it writes only
// while the lease holds its lock; also, if not nil, queues more writes in
// the same transaction.
func (c *Catalog) put(ctx context.Context, rec *wxqr.Record, keepNewer bool, lease *Lease, also func(redis.Pipeliner)) (written bool, err error) {
	if err := checkRecord(rec); err != nil {
		return false, fmt.Errorf("catalog: put: %w", err)
	}
	next := canonical(rec)
	codeKey := c.keys.code(next.ID)
	watched := []string{codeKey, c.keys.retiredCampaigns()}
	if lease != nil {
		watched = append(watched, lease.key)
	}
	err = c.transact(ctx, func(tx *redis.Tx) error {
		written = false
		oldStored, campaignRetired, err := c.putReads(ctx, tx, next.ID, next.Campaign, lease)
		if err != nil {
			return err
		}
		old := oldStored.rec
		if keepNewer && old != nil && old.Generation > next.Generation {
			return nil
		}
		next.Retired = rec.Retired || old != nil && old.Retired || campaignRetired
		value := stored{rec: &next}
		if old != nil {
			value.earlier = oldStored.succeed(&next)
		}
		// A code that moves leaves old.Campaign's index ("" = that of the
		// codes without a campaign), and the campaign itself when it was
		// its last code.
		moves := old != nil && old.Campaign != next.Campaign
		emptied := false
		if moves && old.Campaign != "" {
			if emptied, err = c.onlyMember(ctx, tx, c.keys.campaign(old.Campaign), next.ID); err != nil {
				return err
			}
		}
		deltas := counterDeltas{}
		if old != nil {
			deltas.add(c.keys, old, -1)
		}
		deltas.add(c.keys, &next, 1)
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, codeKey, value.encode(), 0)
			if key := c.legacyTicketKey(oldStored, value); key != "" {
				p.Del(ctx, key)
			}
			c.index(ctx, p, &next)
			deltas.queue(ctx, p)
			if moves {
				p.ZRem(ctx, c.idIndex(old.Campaign), memberForms(next.ID)...)
				if emptied {
					p.SRem(ctx, c.keys.campaigns(), old.Campaign)
				}
			}
			if also != nil {
				also(p)
			}
			return nil
		})
		written = err == nil
		if written {
			// The record is what says "done": it must outlive a failover.
			err = c.awaitReplicas(ctx, tx)
		}
		return err
	}, watched...)
	if err != nil {
		return false, fmt.Errorf("catalog: put %s: %w", next.ID, err)
	}
	return written, nil
}

// index queues the index updates for the stored record rec.
func (c *Catalog) index(ctx context.Context, p redis.Pipeliner, rec *wxqr.Record) {
	addMember(ctx, p, c.idIndex(rec.Campaign), 0, rec.ID)
	p.SAdd(ctx, c.keys.apps(), rec.AppID)
	if rec.Campaign != "" {
		p.SAdd(ctx, c.keys.campaigns(), rec.Campaign)
		p.SRem(ctx, c.keys.unmade(rec.Campaign), rec.ID)
		p.HDel(ctx, c.keys.failed(rec.Campaign), rec.ID)
	}
	if expires(rec) {
		addMember(ctx, p, c.keys.expiry(), float64(rec.ExpiresAt.Unix()), rec.ID)
	} else {
		p.ZRem(ctx, c.keys.expiry(), memberForms(rec.ID)...)
	}
	if class := rec.Kind.Class(); class.Lifetime() {
		p.SAdd(ctx, c.keys.quota(rec.AppID, class), rec.ID)
	}
	if entry := rec.EntryKey(); entry != "" {
		p.HSet(ctx, c.keys.entries(rec.AppID), entry, rec.ID)
	}
}

// ticketGrace is how long an earlier generation's ticket still finds the
// code after that generation expired: WeChat retries a push for a while,
// and a scan just before the expiry may arrive late.
const ticketGrace = 24 * time.Hour

// ticketExpiry is until when rec's ticket finds the code once a later
// generation replaced it (see ByScan): a day after a temporary code
// expires; the zero time for a permanent one, whose ticket a regeneration
// keeps.
func ticketExpiry(rec *wxqr.Record) time.Time {
	if !rec.Kind.Temporary() || rec.ExpiresAt.IsZero() {
		return time.Time{}
	}
	return rec.ExpiresAt.Add(ticketGrace)
}

// expires reports whether rec belongs in the expiry index: a temporary code
// that will need regenerating.
func expires(rec *wxqr.Record) bool {
	return rec.Kind.Temporary() && !rec.Retired && !rec.ExpiresAt.IsZero()
}

// onlyMember watches the id index key and reports whether id is its only
// member, so that the transaction can drop the emptied campaign by name, and
// fails if someone adds to it meanwhile.
func (c *Catalog) onlyMember(ctx context.Context, tx *redis.Tx, key, id string) (bool, error) {
	if err := tx.Watch(ctx, key).Err(); err != nil {
		return false, err
	}
	n, err := tx.ZCard(ctx, key).Result()
	if err != nil || n != 1 {
		return n == 0, err
	}
	for _, m := range memberForms(id) {
		err := tx.ZScore(ctx, key, m.(string)).Err()
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, redis.Nil) {
			return false, err
		}
	}
	return false, nil
}

// checkRecord refuses records that would be indexed under one identity and
// stored under another.
func checkRecord(rec *wxqr.Record) error {
	switch {
	case rec == nil:
		return errors.New("nil record")
	case rec.ID == "":
		return errors.New("record has no id")
	case rec.ID != rec.Spec.ID():
		return fmt.Errorf("record id %s does not match its spec (id %s)", rec.ID, rec.Spec.ID())
	}
	return nil
}

// canonical returns a copy of rec in the form the catalog stores: spec
// normalised, times in UTC.
func canonical(rec *wxqr.Record) wxqr.Record {
	r := *rec
	r.Spec = r.Spec.Normalize()
	if !r.ExpiresAt.IsZero() {
		r.ExpiresAt = r.ExpiresAt.UTC()
	}
	if !r.CreatedAt.IsZero() {
		r.CreatedAt = r.CreatedAt.UTC()
	}
	return r
}
