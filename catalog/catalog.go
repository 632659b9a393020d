// Package catalog keeps the record of every generated code in Redis: by id,
// by campaign, by expiry, and the lifetime quota each app has spent. It also
// holds staged results (what WeChat returned before storage and the catalog
// had it), exports records as CSV or JSON lines, and rebuilds itself from the
// records that every image in the bucket carries.
//
// The catalog never holds the only copy of a record: the image in the bucket
// carries it too, in its metadata (see [PutImage]; a record too large for
// it, in the image's sidecar, [SidecarKey]), so a lost Redis is rebuilt with
// [Catalog.Rebuild].
//
// # Keys
//
// With the default prefix "wxqr:":
//
//	wxqr:code:{id}               string: the record, in a compact binary form (codec.go), with its earlier generations' tickets
//	wxqr:codes                   sorted set (all scores 0): the ids of the codes without a campaign (every id, in catalogs written before)
//	wxqr:campaign:{name}         sorted set (all scores 0): the ids of one campaign
//	wxqr:campaigns               set: campaign names that have at least one code or a plan
//	wxqr:retired-campaigns       set: campaigns retired as a whole (RetireCampaign)
//	wxqr:apps                    set: app ids that have at least one code
//	wxqr:expiry                  sorted set: temporary, not retired codes, score = expires_at (Unix seconds)
//	wxqr:ticket:{h}              string: the id of the OA code whose ticket hashes to h, left by catalogs before the compact records: read by ByScan, never written; deleted when a write replaces its record with one that knows the ticket
//	wxqr:entries:{app_id}        hash: entry key → the id of the Mini Program code it opens (ByEntry)
//	wxqr:quota:{app_id}:{class}  set: ids that spent a lifetime quota (classes with Lifetime())
//	wxqr:unmade:{campaign}       set: the ids a campaign asked for that are not made yet (Plan; Put removes the id)
//	wxqr:planned:{campaign}      set: every id a campaign asked for, in catalogs written before: made into wxqr:unmade on the first read
//	wxqr:failed:{campaign}       hash: id → why it failed for good (Fail); Put removes the id
//	wxqr:stats{:campaign}        hash: the counters of a campaign's codes; wxqr:stats for codes without one (stats.go)
//	wxqr:lock:{id}               string: the token of the one worker making the code, with a TTL (Lock)
//	wxqr:called:{id}             string: the generation an attempt asked WeChat for, with a TTL (MarkCalled)
//	wxqr:staged:{id}             hash: a staged result, with a TTL (Stage)
//	wxqr:staged_bytes            string: the bytes of image all staged results hold (StagedBytes)
//	wxqr:staged_sizes            hash: id → the bytes counted for its staged image
//	wxqr:staged_expiry           sorted set: ids staged with an image, score = when the result expires (Unix ms)
//
// Every key is named by one method of the keys type (keys.go).
//
// The id indexes are sorted sets with equal scores rather than plain sets so
// that they can be paged by id (ZRANGE BYLEX): iteration visits every record
// exactly once, in id order, with bounded memory, even while others write.
// They and the expiry index hold each id in a short form (member.go).
//
// A scan event finds its code by its scene, which names at most four
// codes, and its ticket, which the record holds: a regenerated temporary
// code keeps its earlier generations' tickets until they expire, so a
// code printed before the regeneration still finds it (ByScan). A launch
// finds its code by the entry index (ByEntry). Retire leaves both alone,
// as a retired code may still be scanned.
//
// # Redis Cluster
//
// Put and Retire are transactions over several keys, and GetMany uses MGET:
// in Redis Cluster every catalog key must live in one slot, so give the
// prefix a hash tag, e.g. "{wxqr}:".
package catalog

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/redis/go-redis/v9"
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

// maxTxAttempts bounds the optimistic transactions (a commit: see
// commit.go; WATCH/MULTI/EXEC) that Put and Retire retry when another
// writer touched what they read between their read and their write. One
// code is written by one task at a time, so conflicts are rare and short;
// a Retire of many codes, though, collides with every Put of one of them.
const maxTxAttempts = 16

// transact runs fn in an optimistic transaction watching keys, retrying
// while another client changes a watched key first (see conflictPause).
func (c *Catalog) transact(ctx context.Context, fn func(*redis.Tx) error, keys ...string) error {
	for attempt := 1; attempt <= maxTxAttempts; attempt++ {
		err := c.rdb.Watch(ctx, fn, keys...)
		if !errors.Is(err, redis.TxFailedErr) {
			return err
		}
		if attempt == maxTxAttempts {
			break
		}
		if err := conflictPause(ctx, attempt); err != nil {
			return err
		}
	}
	return fmt.Errorf("still conflicting after %d attempts: %w", maxTxAttempts, redis.TxFailedErr)
}

// conflictPause waits before an optimistic transaction's next attempt a
// random while of up to a millisecond per failed attempt, so that writers
// that collided do not retry in step and collide again (on a loaded machine
// their reads take long enough for that to repeat 16 times).
func conflictPause(ctx context.Context, attempt int) error {
	backoff := time.NewTimer(rand.N(time.Duration(attempt) * time.Millisecond))
	defer backoff.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-backoff.C:
		return nil
	}
}
