// Package catalog keeps the record of every generated code in Redis: by id,
// by campaign, by expiry, and the lifetime quota each app has spent. It also
// holds staged results (what WeChat returned before storage and the catalog
// had it), exports records as CSV or JSON lines, and rebuilds itself from the
// JSON sidecars that every image in the bucket carries.
//
// The catalog never holds the only copy of a record: the sidecar next to the
// image does too, so a lost Redis is rebuilt with [Catalog.Rebuild].
//
// # Keys
//
// With the default prefix "wxqr:":
//
//	wxqr:code:{id}               string: the record as JSON
//	wxqr:codes                   sorted set (all scores 0): every id
//	wxqr:campaign:{name}         sorted set (all scores 0): the ids of one campaign
//	wxqr:campaigns               set: campaign names that have at least one code
//	wxqr:retired-campaigns       set: campaigns retired as a whole (RetireCampaign)
//	wxqr:apps                    set: app ids that have at least one code
//	wxqr:expiry                  sorted set: temporary, not retired codes, score = expires_at (Unix seconds)
//	wxqr:quota:{app_id}:{class}  set: ids that spent a lifetime quota (classes with Lifetime())
//	wxqr:staged:{id}             hash: a staged result, with a TTL
//	wxqr:called:{id}             string: the generation an attempt asked WeChat for, with a TTL
//	wxqr:lock:{id}               string: the token of the one worker making the code, with a TTL
//	wxqr:planned:{campaign}      set: the ids queued for a campaign
//	wxqr:failed:{campaign}       hash: id → why it failed for good; Put removes the id
//
// The id indexes are sorted sets with equal scores rather than plain sets so
// that they can be paged by id (ZRANGE BYLEX): iteration visits every record
// exactly once, in id order, with bounded memory, even while others write.
//
// # Redis Cluster
//
// Put and Retire are transactions over several keys, and GetMany uses MGET:
// in Redis Cluster every catalog key must live in one slot, so give the
// prefix a hash tag, e.g. "{wxqr}:".
package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr"
)

// ErrNotFound is returned (wrapped) by Get when the catalog has no record
// with that id.
var ErrNotFound = errors.New("catalog: record not found")

// Config configures a Catalog. The zero value is valid: every field has a
// default.
type Config struct {
	// Prefix starts every key the catalog writes. Default "wxqr:". In Redis
	// Cluster it must contain a hash tag, e.g. "{wxqr}:" (see the package
	// documentation).
	Prefix string
	// StagedTTL is how long a staged result survives if nobody drops it:
	// long enough to outlast the retries of any task. Default 7 days.
	StagedTTL time.Duration
	// BatchSize is how many records Each, GetMany, Retire and RetireCampaign
	// handle per round trip, and so bounds their memory. Default 500.
	BatchSize int
	// MinReplicas is how many replicas must acknowledge (Redis WAIT) a lock,
	// a staged result and a record before the caller goes on, so that a
	// failover cannot discard them; Lock, Stage and Put fail with
	// ErrNotReplicated when fewer do. Default 0: no wait, no extra round
	// trip, for a Redis without replicas. See durable.go.
	MinReplicas int
	// ReplicaTimeout bounds each wait for the replicas. Default 1s.
	ReplicaTimeout time.Duration
}

// Defaults used for zero Config fields.
const (
	DefaultPrefix    = "wxqr:"
	DefaultStagedTTL = 7 * 24 * time.Hour
	DefaultBatchSize = 500
)

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.StagedTTL == 0 {
		c.StagedTTL = DefaultStagedTTL
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.ReplicaTimeout == 0 {
		c.ReplicaTimeout = DefaultReplicaTimeout
	}
	return c
}

func (c Config) validate() error {
	if c.StagedTTL < 0 {
		return fmt.Errorf("catalog: StagedTTL must not be negative, got %s", c.StagedTTL)
	}
	if c.BatchSize < 0 {
		return fmt.Errorf("catalog: BatchSize must not be negative, got %d", c.BatchSize)
	}
	if c.MinReplicas < 0 {
		return fmt.Errorf("catalog: MinReplicas must not be negative, got %d", c.MinReplicas)
	}
	if c.ReplicaTimeout < time.Millisecond {
		return fmt.Errorf("catalog: ReplicaTimeout must be at least 1ms, got %s", c.ReplicaTimeout)
	}
	return nil
}

// Catalog is the code catalog in Redis. It is safe for concurrent use, also
// by many processes sharing one Redis.
type Catalog struct {
	rdb       redis.UniversalClient
	keys      keys
	stagedTTL time.Duration
	batch     int
	// minReplicas and replicaTimeout: see Config and durable.go.
	minReplicas    int
	replicaTimeout time.Duration
}

// New returns a catalog in rdb whose keys start with prefix (default
// "wxqr:"), with the other Config defaults. It panics if rdb is nil.
func New(rdb redis.UniversalClient, prefix string) *Catalog {
	c, err := NewWithConfig(rdb, Config{Prefix: prefix})
	if err != nil {
		panic(err)
	}
	return c
}

// NewWithConfig returns a catalog in rdb configured by cfg, after applying
// its defaults. It fails if rdb is nil or cfg is invalid.
func NewWithConfig(rdb redis.UniversalClient, cfg Config) (*Catalog, error) {
	if rdb == nil {
		return nil, errors.New("catalog: a Redis client is required")
	}
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Catalog{
		rdb: rdb, keys: keys{cfg.Prefix}, stagedTTL: cfg.StagedTTL, batch: cfg.BatchSize,
		minReplicas: cfg.MinReplicas, replicaTimeout: cfg.ReplicaTimeout,
	}, nil
}

// keys names every Redis key the catalog uses.
type keys struct{ prefix string }

func (k keys) code(id string) string       { return k.prefix + "code:" + id }
func (k keys) codes() string               { return k.prefix + "codes" }
func (k keys) campaign(name string) string { return k.prefix + "campaign:" + name }
func (k keys) campaigns() string           { return k.prefix + "campaigns" }
func (k keys) retiredCampaigns() string    { return k.prefix + "retired-campaigns" }
func (k keys) apps() string                { return k.prefix + "apps" }
func (k keys) expiry() string              { return k.prefix + "expiry" }
func (k keys) staged(id string) string     { return k.prefix + "staged:" + id }
func (k keys) quota(app string, class wxqr.QuotaClass) string {
	return k.prefix + "quota:" + app + ":" + string(class)
}

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
// the campaign (moving the code if its campaign changed), the expiry index
// (temporary codes that are not retired), the lifetime quota of its app and
// class, and the app set.
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
	_, err := c.put(ctx, rec, false, nil)
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
	_, err := c.put(ctx, rec, false, lease)
	return err
}

// maxTxAttempts bounds the optimistic transactions (WATCH/MULTI/EXEC) that
// Put and Retire retry when another writer touched the same keys between
// their read and their write. One code is written by one task at a time, so
// conflicts are rare and short.
const maxTxAttempts = 16

// put is Put; with keepNewer it leaves a stored record of a higher
// generation alone and reports written == false; with a lease it writes only
// while the lease holds its lock.
func (c *Catalog) put(ctx context.Context, rec *wxqr.Record, keepNewer bool, lease *Lease) (written bool, err error) {
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
		if lease != nil {
			if err := lease.check(tx.Get(ctx, lease.key).Result()); err != nil {
				return err
			}
		}
		old, err := c.readRecord(ctx, tx, next.ID)
		if err != nil {
			return err
		}
		if keepNewer && old != nil && old.Generation > next.Generation {
			return nil
		}
		campaignRetired, err := c.campaignRetired(ctx, tx, next.Campaign)
		if err != nil {
			return err
		}
		next.Retired = rec.Retired || old != nil && old.Retired || campaignRetired
		data, err := json.Marshal(next)
		if err != nil {
			return fmt.Errorf("encode record: %w", err)
		}
		var leaving string // the campaign the code moves out of, if any
		emptied := false   // whether leaving has no other code
		if old != nil && old.Campaign != "" && old.Campaign != next.Campaign {
			leaving = old.Campaign
			if emptied, err = c.onlyMember(ctx, tx, c.keys.campaign(leaving), next.ID); err != nil {
				return err
			}
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, codeKey, data, 0)
			c.index(ctx, p, &next)
			if leaving != "" {
				p.ZRem(ctx, c.keys.campaign(leaving), next.ID)
				if emptied {
					p.SRem(ctx, c.keys.campaigns(), leaving)
				}
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
	member := redis.Z{Member: rec.ID}
	p.ZAdd(ctx, c.keys.codes(), member)
	p.SAdd(ctx, c.keys.apps(), rec.AppID)
	if rec.Campaign != "" {
		p.ZAdd(ctx, c.keys.campaign(rec.Campaign), member)
		p.SAdd(ctx, c.keys.campaigns(), rec.Campaign)
		p.HDel(ctx, c.keys.failed(rec.Campaign), rec.ID)
	}
	if expires(rec) {
		p.ZAdd(ctx, c.keys.expiry(), redis.Z{Score: float64(rec.ExpiresAt.Unix()), Member: rec.ID})
	} else {
		p.ZRem(ctx, c.keys.expiry(), rec.ID)
	}
	if class := rec.Kind.Class(); class.Lifetime() {
		p.SAdd(ctx, c.keys.quota(rec.AppID, class), rec.ID)
	}
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
	err = tx.ZScore(ctx, key, id).Err()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	return err == nil, err
}

// transact runs fn in an optimistic transaction watching keys, retrying
// while another client changes a watched key first.
func (c *Catalog) transact(ctx context.Context, fn func(*redis.Tx) error, keys ...string) error {
	for range maxTxAttempts {
		err := c.rdb.Watch(ctx, fn, keys...)
		if !errors.Is(err, redis.TxFailedErr) {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return fmt.Errorf("still conflicting after %d attempts: %w", maxTxAttempts, redis.TxFailedErr)
}

// readRecord returns the stored record id, or nil if there is none.
func (c *Catalog) readRecord(ctx context.Context, tx *redis.Tx, id string) (*wxqr.Record, error) {
	data, err := tx.Get(ctx, c.keys.code(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return decodeRecord(id, data)
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

func decodeRecord(id string, data []byte) (*wxqr.Record, error) {
	var rec wxqr.Record
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("catalog: decode record %s: %w", id, err)
	}
	return &rec, nil
}

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

// Each calls fn with every record of campaign ("" = every record), in id
// order, reading BatchSize records at a time, so memory stays bounded
// whatever the size of the campaign. A record put during the walk may or may
// not be visited; every record present throughout is visited exactly once.
// Each stops at the first error from fn and returns it unchanged.
func (c *Catalog) Each(ctx context.Context, campaign string, fn func(*wxqr.Record) error) error {
	return c.eachBatch(ctx, c.idIndex(campaign), func(ids []string) error {
		recs, err := c.GetMany(ctx, ids)
		if err != nil {
			return err
		}
		for _, rec := range recs {
			if rec == nil { // deleted since the page was read
				continue
			}
			if err := fn(rec); err != nil {
				return err
			}
		}
		return nil
	})
}

// Count returns how many records campaign ("" = every record) holds, as
// Each would visit them now: a total for progress reports, in one round trip.
func (c *Catalog) Count(ctx context.Context, campaign string) (int64, error) {
	n, err := c.rdb.ZCard(ctx, c.idIndex(campaign)).Result()
	if err != nil {
		return 0, fmt.Errorf("catalog: count %s: %w", c.idIndex(campaign), err)
	}
	return n, nil
}

// idIndex is the sorted set holding the ids of campaign ("" = all).
func (c *Catalog) idIndex(campaign string) string {
	if campaign == "" {
		return c.keys.codes()
	}
	return c.keys.campaign(campaign)
}

// eachBatch pages through the ids of the id index key, BatchSize at a time,
// by id: each page starts after the last id of the previous one, so writes
// during the walk neither repeat nor skip the ids already there.
func (c *Catalog) eachBatch(ctx context.Context, key string, fn func(ids []string) error) error {
	start := "-"
	for {
		ids, err := c.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{
			Key: key, Start: start, Stop: "+", ByLex: true, Count: int64(c.batch),
		}).Result()
		if err != nil {
			return fmt.Errorf("catalog: list %s: %w", key, err)
		}
		if len(ids) == 0 {
			return nil
		}
		if err := fn(ids); err != nil {
			return err
		}
		if len(ids) < c.batch {
			return nil
		}
		start = "(" + ids[len(ids)-1]
	}
}

// Expiring returns up to limit temporary codes that are not retired and
// expire before before (at one-second resolution), soonest first: the codes
// to regenerate. limit <= 0 means no limit.
func (c *Catalog) Expiring(ctx context.Context, before time.Time, limit int) ([]*wxqr.Record, error) {
	ids, err := c.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{
		Key: c.keys.expiry(), Start: "-inf", Stop: "(" + strconv.FormatInt(before.Unix(), 10),
		ByScore: true, Count: int64(max(limit, 0)),
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("catalog: expiring before %s: %w", before.UTC().Format(time.RFC3339), err)
	}
	recs, err := c.GetMany(ctx, ids)
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

// Retire marks the codes with ids as retired: they stay in the catalog (and
// in their campaign, and in the quota they spent) but leave the expiry index,
// so they are never regenerated. It returns how many codes it retired; ids
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
// committed before the mark, and the walk finds its record, or it watched
// the mark and stores the record retired.
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

// campaignRetired is CampaignRetired inside a transaction that watches the
// set of retired campaigns.
func (c *Catalog) campaignRetired(ctx context.Context, tx *redis.Tx, campaign string) (bool, error) {
	if campaign == "" {
		return false, nil
	}
	return tx.SIsMember(ctx, c.keys.retiredCampaigns(), campaign).Result()
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
			id   string
			data []byte
		}
		var updates []update
		for i, v := range vals {
			s, ok := v.(string)
			if !ok {
				continue
			}
			rec, err := decodeRecord(ids[i], []byte(s))
			if err != nil {
				return err
			}
			if rec.Retired {
				continue
			}
			rec.Retired = true
			data, err := json.Marshal(rec)
			if err != nil {
				return fmt.Errorf("encode record %s: %w", rec.ID, err)
			}
			updates = append(updates, update{ids[i], data})
		}
		if len(updates) == 0 {
			return nil
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			for _, u := range updates {
				p.Set(ctx, c.keys.code(u.id), u.data, 0)
				p.ZRem(ctx, c.keys.expiry(), u.id)
			}
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

// Stats summarises one campaign for its operators.
type Stats struct {
	Planned      int // codes the campaign asked for (see Plan); 0 for ""
	Failed       int // codes that will not be made (see Fail)
	Generated    int // codes in the catalog, retired ones included
	Retired      int // codes that will never be regenerated
	ExpiringSoon int // not retired, still valid, and expire within the window
	Expired      int // not retired and already expired
}

// Queued is how many planned codes are neither made nor failed: still in the
// queues (or paused there).
func (s Stats) Queued() int { return max(s.Planned-s.Generated-s.Failed, 0) }

// CampaignStats counts the codes of campaign ("" = every code) as seen at
// now; ExpiringSoon counts codes that expire after now and at most soon after
// it. It reads every record of the campaign, BatchSize at a time.
func (c *Catalog) CampaignStats(ctx context.Context, campaign string, now time.Time, soon time.Duration) (Stats, error) {
	var s Stats
	if campaign != "" {
		var err error
		if s.Planned, s.Failed, err = c.planCounts(ctx, campaign); err != nil {
			return s, err
		}
	}
	horizon := now.Add(soon)
	err := c.Each(ctx, campaign, func(rec *wxqr.Record) error {
		s.Generated++
		switch {
		case rec.Retired:
			s.Retired++
		case !rec.Valid(now):
			s.Expired++
		case !rec.ExpiresAt.IsZero() && !rec.ExpiresAt.After(horizon):
			s.ExpiringSoon++
		}
		return nil
	})
	return s, err
}
