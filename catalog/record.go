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
// so recording a code is one transaction and not three calls; under a lease
// that Claim took it decides on what Claim read, and takes one round trip.
// After it succeeds the lease is released (Release does nothing more); after
// it fails, nothing was written and the lease is still held, except with
// ErrNotReplicated: then all was written, the lock deleted too, and the
// replicas did not acknowledge it in time.
func (c *Catalog) Finish(ctx context.Context, rec *wxqr.Record, lease *Lease) error {
	if lease == nil {
		return errors.New("catalog: finish: a lease is required")
	}
	if rec == nil {
		return errors.New("catalog: finish: nil record")
	}
	drop := append(c.stagedKeys(rec.ID), c.keys.called(rec.ID))
	_, err := c.put(ctx, rec, false, lease, func(p redis.Pipeliner) {
		p.Eval(ctx, dropHeldScript, drop, rec.ID) // a function of the commit (commitFns)
		p.Del(ctx, lease.key)
	})
	if err != nil {
		return err
	}
	lease.released()
	return nil
}

// putState is what put decides on: the stored value of the code (its rec
// nil if there is none) and whether the record's campaign is retired, with
// the reads that gave them, the conditions of put's commit.
type putState struct {
	old             stored
	campaign        string // whose retired flag campaignRetired is
	campaignRetired bool
	conds           []cond // the retired flag's read, if any, last
}

// The reads that put decides on, each the command that its commit sends
// again as a condition.
func lockRead(key string) []any               { return []any{"get", key} }
func (c *Catalog) recordRead(id string) []any { return []any{"get", c.keys.code(id)} }
func (c *Catalog) retiredRead(camp string) []any {
	return []any{"sismember", c.keys.retiredCampaigns(), camp}
}

// of returns s for a put of a record of campaign. When s holds the retired
// flag of another campaign (Claim read the campaign the task named, and a
// regeneration names none), campaign is taken for not retired, as nearly
// every campaign is: the commit checks that too, and a retired one sends
// put back to read it. Nil stays nil.
func (s *putState) of(c *Catalog, campaign string) *putState {
	if s == nil || s.campaign == campaign {
		return s
	}
	conds := s.conds
	if s.campaign != "" {
		conds = conds[:len(conds)-1] // the retired flag's read
	}
	if campaign != "" {
		conds = append(slices.Clip(conds), cond{args: c.retiredRead(campaign), reply: boolReply(false)})
	}
	return &putState{old: s.old, campaign: campaign, conds: conds}
}

// readPut reads, in one round trip, what put decides on: whether lease (if
// any) still holds its lock, the stored value of id, and whether campaign
// is retired.
func (c *Catalog) readPut(ctx context.Context, id, campaign string, lease *Lease) (*putState, error) {
	pipe := c.rdb.Pipeline()
	var lock, retired *redis.Cmd
	if lease != nil {
		lock = pipe.Do(ctx, lockRead(lease.key)...)
	}
	record := pipe.Do(ctx, c.recordRead(id)...)
	if campaign != "" {
		retired = pipe.Do(ctx, c.retiredRead(campaign)...)
	}
	cmds, err := pipe.Exec(ctx)
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	if lock != nil {
		if err := lease.check(lock.Text()); err != nil {
			return nil, err
		}
	}
	s := &putState{campaign: campaign}
	for _, cmd := range cmds {
		reply, err := replyOf(cmd.(*redis.Cmd).Result())
		if err != nil {
			return nil, err
		}
		s.conds = append(s.conds, cond{args: cmd.Args(), reply: reply})
	}
	if data, err := record.Text(); err == nil {
		if s.old, err = decodeStored(id, []byte(data)); err != nil {
			return nil, err
		}
	}
	s.campaignRetired = retired != nil && retired.Val() == int64(1)
	return s, nil
}

// put is Put; with keepNewer it leaves a stored record of a higher
// generation alone and reports written == false; with a lease it writes only
// while the lease holds its lock; also, if not nil, queues more writes in
// the same transaction. It reads what it decides on, then writes in one
// commit that applies only while those reads still stand (see commit.go),
// reading again when another writer came between. A lease that took its
// lock with Claim gives the first attempt what Claim read.
func (c *Catalog) put(ctx context.Context, rec *wxqr.Record, keepNewer bool, lease *Lease, also func(redis.Pipeliner)) (written bool, err error) {
	if err := checkRecord(rec); err != nil {
		return false, fmt.Errorf("catalog: put: %w", err)
	}
	next := canonical(rec)
	seen := lease.claimed(c, next.ID).of(c, next.Campaign)
	for attempt := 1; ; attempt++ {
		if seen == nil {
			if seen, err = c.readPut(ctx, next.ID, next.Campaign, lease); err != nil {
				break
			}
		}
		written, err = c.putOnce(ctx, seen, &next, rec.Retired, keepNewer, lease, also)
		if !errors.Is(err, errConflict) {
			break
		}
		if attempt == maxTxAttempts {
			err = fmt.Errorf("still conflicting after %d attempts: %w", maxTxAttempts, redis.TxFailedErr)
			break
		}
		if err = conflictPause(ctx, attempt); err != nil {
			break
		}
		seen = nil
	}
	if err != nil {
		return written, fmt.Errorf("catalog: put %s: %w", next.ID, err)
	}
	return written, nil
}

// putOnce decides put's writes on seen and commits them, or fails with
// errConflict when what it saw changed meanwhile.
func (c *Catalog) putOnce(ctx context.Context, seen *putState, next *wxqr.Record, retired, keepNewer bool, lease *Lease, also func(redis.Pipeliner)) (bool, error) {
	old := seen.old.rec
	if keepNewer && old != nil && old.Generation > next.Generation {
		return false, nil
	}
	next.Retired = retired || old != nil && old.Retired || seen.campaignRetired
	value := stored{rec: next}
	if old != nil {
		value.earlier = seen.old.succeed(next)
	}
	deltas := counterDeltas{}
	if old != nil {
		deltas.add(c.keys, old, -1)
	}
	deltas.add(c.keys, next, 1)
	p := c.rdb.Pipeline()
	p.Set(ctx, c.keys.code(next.ID), value.encode(), 0)
	if key := c.legacyTicketKey(seen.old, value); key != "" {
		p.Del(ctx, key)
	}
	c.index(ctx, p, next)
	deltas.queue(ctx, p)
	if old != nil && old.Campaign != next.Campaign {
		c.leave(ctx, p, old.Campaign, next.ID)
	}
	if also != nil {
		also(p)
	}
	// The record is what says "done": with Config.MinReplicas, it must
	// outlive a failover (commit waits for the replicas).
	written, failed, err := c.commit(ctx, seen.conds, p)
	if errors.Is(err, errConflict) && lease != nil && failed == 1 {
		return false, lease.notHeld()
	}
	return written, err
}

// leave queues the removal of code id from the index of campaign ("" =
// that of the codes without a campaign), and of the campaign itself when
// it was its last code.
func (c *Catalog) leave(ctx context.Context, p redis.Pipeliner, campaign, id string) {
	if campaign == "" {
		p.ZRem(ctx, c.idIndex(""), memberForms(id)...)
		return
	}
	p.Eval(ctx, leaveIndexScript, []string{c.idIndex(campaign), c.keys.campaigns()},
		append([]any{campaign}, memberForms(id)...)...)
}

// leaveIndexScript removes a code from a campaign's index (KEYS[1]) and the
// campaign from the campaigns (KEYS[2]) when that emptied it. ARGV: the
// campaign, then the forms of the code's id (memberForms).
const leaveIndexScript = `
redis.call("ZREM", KEYS[1], unpack(ARGV, 2))
if redis.call("ZCARD", KEYS[1]) == 0 then
	redis.call("SREM", KEYS[2], ARGV[1])
end
return 0`

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
