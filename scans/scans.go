// Package scans counts what happens to wxqr's codes once they are out in the
// street: the scan events WeChat pushes to an Official Account (subscribe,
// SCAN, unsubscribe) and the launches a Mini Program reports, each attributed
// to the code that caused it.
//
// # Attribution
//
// An Official Account event names its code by ticket and by scene. The
// ticket decides when there is one (a record keeps its earlier generations'
// tickets until they expire, see catalog.Catalog.ByScan); without one, the
// scene does, when exactly one code of the app has it. A launch names its
// code by its entry key (see wxqr.LaunchEntryKeys). An unsubscribe is
// attributed to the code its subscribe was, within Config.Retention. Events
// that name no code wxqr made are counted as unattributed (EventTotals) and
// nowhere else. See Store.attribute.
//
// # Openids
//
// Openids are personal data: only their keyed hash (HMAC-SHA-256 with
// Config.OpenIDKey, truncated) is stored, for the unique scanners, the
// follows and the deduplication markers. Without a configured key the store
// uses one it creates once in Redis, shared by every process, which keeps
// openids out of Redis but not out of reach of whoever has a dump of it: the
// key is in the dump, and an openid can be tested against the hashes. Give
// the key from the configuration (cmd/callback reads WXQR_OPENID_KEY) and a
// dump alone is not enough.
//
// # Keys
//
// With the default prefix "wxqr:":
//
//	wxqr:scan:code:{id}               hash: a code's totals (scans, new_follows, unfollows, launches) and per-day counts ({YYYYMMDD}:{metric}, Asia/Shanghai days)
//	wxqr:scan:code-uniq:{id}          HyperLogLog: the openid hashes of a code's scanners
//	wxqr:scan:campaign:{name}         hash: a campaign's totals and per-day counts, as a code's
//	wxqr:scan:campaign-uniq:{name}    HyperLogLog: the openid hashes of a campaign's scanners
//	wxqr:scan:top:{campaign}          sorted set: the campaign's code ids, score = scans + launches
//	wxqr:scan:events                  hash: {app_id}|{event}|{0 or 1, attributed} → events counted
//	wxqr:scan:seen:{h}                string: an event counted (h: its keyed hash), for an hour (retries are deduplicated)
//	wxqr:scan:follow:{app_id}:{h}     string: the code a follower's subscribe was attributed to (h: the openid's keyed hash), for Config.Retention
//	wxqr:scan:key                     string: the openid key, when Config.OpenIDKey is not set
//
// Every key is named by one method of the keys type (keys.go).
//
// # Redis Cluster
//
// Record updates every key of an event in one script: in Redis Cluster they
// must live in one slot, so give the prefix a hash tag, e.g. "{wxqr}:".
package scans

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/ratelimit"
)

// EventType is what happened.
type EventType string

// The event types counted.
const (
	Subscribe   EventType = "subscribe"   // a new follower; a scan when it carries a scene
	Scan        EventType = "SCAN"        // a follower scanned a code
	Unsubscribe EventType = "unsubscribe" // a follower left
	Launch      EventType = "launch"      // a Mini Program reported a launch from a code
)

// Event is one event as a receiver hands it over, already verified.
type Event struct {
	AppID string
	Type  EventType
	// OpenID is the user's openid (personal data): only its keyed hash is
	// kept. Required but for launches, where it is ignored.
	OpenID string
	// Time is WeChat's CreateTime (launches: when it was reported). It
	// decides the day the event is counted on.
	Time time.Time
	// Key is the EventKey as pushed ("qrscene_<scene>" on subscribe,
	// "<scene>" on SCAN, "" otherwise). Deduplication uses it as is.
	Key string
	// Ticket is the scanned code's ticket, if any.
	Ticket string
	// Launches only: the page path, its query (values decoded) and WeChat's
	// launch scene (1047, 1048, 1049).
	Path        string
	Query       map[string]string
	LaunchScene int
}

// ErrInvalidEvent is returned (wrapped) by Record for an event it cannot
// count: no app, an unknown type, no time, or no openid on an Official
// Account event. Nothing is counted; a receiver answers it as a bad request.
var ErrInvalidEvent = errors.New("scans: invalid event")

// validate checks that ev can be counted.
func (ev Event) validate() error {
	var why string
	switch {
	case ev.AppID == "":
		why = "no app id"
	case ev.Type != Subscribe && ev.Type != Scan && ev.Type != Unsubscribe && ev.Type != Launch:
		why = fmt.Sprintf("unknown type %q", ev.Type)
	case ev.Time.IsZero():
		why = "no time"
	case ev.Type != Launch && ev.OpenID == "":
		why = "no openid"
	default:
		return nil
	}
	return fmt.Errorf("%w: %s", ErrInvalidEvent, why)
}

// Outcome is what Record did with an event.
type Outcome struct {
	// Duplicate: the same event (FromUserName, CreateTime, Event, EventKey)
	// was already recorded: a retry by WeChat; nothing was counted.
	Duplicate bool
	// CodeID is the code the event was attributed to; "" when unattributed.
	CodeID   string
	Campaign string
}

// Config configures a Store. The zero value is valid: every field has a
// default.
type Config struct {
	// Prefix of every key; default "wxqr:" (the catalog's). In Redis Cluster
	// it must contain a hash tag (see the package documentation).
	Prefix string
	// OpenIDKey keys the openid hashes; at least 16 bytes. Default: a
	// random key created once in Redis (wxqr:scan:key) and shared by the
	// fleet. A key from the configuration keeps a Redis dump from being
	// enough to test an openid (see the package documentation). After a
	// change, a scanner seen before counts again as unique, and a follow
	// recorded before is no longer found to count its unfollow.
	OpenIDKey []byte
	// Retention: how long an attributed follow is remembered (to count its
	// unfollow). Default 90 days.
	Retention time.Duration
}

// Defaults used for zero Config fields.
const (
	DefaultPrefix    = catalog.DefaultPrefix
	DefaultRetention = 90 * 24 * time.Hour
)

// minOpenIDKey is the shortest OpenIDKey accepted: a key shorter than the
// hash it makes would be the easier thing to guess.
const minOpenIDKey = 16

// WithDefaults returns c with every zero field set to its default, but
// OpenIDKey, which New reads from Redis.
func (c Config) WithDefaults() Config {
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.Retention == 0 {
		c.Retention = DefaultRetention
	}
	return c
}

func (c Config) validate() error {
	if c.OpenIDKey != nil && len(c.OpenIDKey) < minOpenIDKey {
		return fmt.Errorf("scans: OpenIDKey must be at least %d bytes, got %d", minOpenIDKey, len(c.OpenIDKey))
	}
	if c.Retention < time.Second {
		return fmt.Errorf("scans: Retention must be at least 1s, got %s", c.Retention)
	}
	return nil
}

// Store records events and reads the counts. It is safe for concurrent use,
// also by many processes sharing one Redis.
type Store struct {
	rdb  redis.UniversalClient
	cat  *catalog.Catalog
	keys keys
	// openIDKey is Config.OpenIDKey, or the fleet's key once read (see
	// hasher): only the recording side hashes openids, so a process that only
	// reads counts never creates it.
	keyMu     sync.Mutex
	openIDKey []byte
	retention time.Duration
	// day is the zone whose midnight starts a day of counts: Asia/Shanghai,
	// the day of WeChat's quotas and of the people scanning.
	day *time.Location
}

// New returns a Store over rdb, attributing with cat. Without
// Config.OpenIDKey, the first Record reads the fleet's key from Redis,
// creating it if it is the first to ask.
func New(ctx context.Context, rdb redis.UniversalClient, cat *catalog.Catalog, cfg Config) (*Store, error) {
	if rdb == nil || cat == nil {
		return nil, errors.New("scans: a Redis client and a catalog are required")
	}
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Store{
		rdb: rdb, cat: cat, keys: keys{cfg.Prefix}, openIDKey: cfg.OpenIDKey,
		retention: cfg.Retention, day: ratelimit.DefaultLocation(),
	}
	return s, nil
}

// hasher returns the keyed hash of fields (see hash) with the configured
// key, or with the fleet's, read (or created) once. Redis is read outside
// the lock: a slow Redis must not queue every push behind one read, each
// past its own deadline; concurrent first reads get the same key.
func (s *Store) hasher(ctx context.Context) (func(fields ...string) string, error) {
	s.keyMu.Lock()
	key := s.openIDKey
	s.keyMu.Unlock()
	if key == nil {
		shared, err := s.sharedOpenIDKey(ctx)
		if err != nil {
			return nil, err
		}
		s.keyMu.Lock()
		s.openIDKey, key = shared, shared
		s.keyMu.Unlock()
	}
	return func(fields ...string) string { return hash(key, fields...) }, nil
}

// sharedOpenIDKey returns the fleet's openid key, which the first process to
// ask creates: every process must hash an openid the same way.
func (s *Store) sharedOpenIDKey(ctx context.Context) ([]byte, error) {
	key := s.keys.openIDKey()
	created := make([]byte, 32)
	rand.Read(created) // never fails (crypto/rand)
	if err := s.rdb.SetNX(ctx, key, created, 0).Err(); err != nil {
		return nil, fmt.Errorf("scans: create the openid key: %w", err)
	}
	secret, err := s.rdb.Get(ctx, key).Bytes()
	if err != nil {
		return nil, fmt.Errorf("scans: read the openid key: %w", err)
	}
	if len(secret) < minOpenIDKey {
		return nil, fmt.Errorf("scans: the openid key in Redis is %d bytes, want at least %d", len(secret), minOpenIDKey)
	}
	return secret, nil
}

// hash returns the keyed hash of fields: 16 bytes of HMAC-SHA-256, in hex.
// Fields are length-prefixed, so no two different lists hash the same input.
func hash(key []byte, fields ...string) string {
	mac := hmac.New(sha256.New, key)
	for _, f := range fields {
		fmt.Fprintf(mac, "%d:%s;", len(f), f)
	}
	return hex.EncodeToString(mac.Sum(nil)[:16])
}

// Counts are the counts of one code or one campaign.
type Counts struct {
	Scans          int64 // every SCAN and every subscribe with a scene
	NewFollows     int64 // subscribe with qrscene_
	Unfollows      int64 // unsubscribe by a user whose follow was attributed here
	UniqueScanners int64 // HyperLogLog estimate (0 in a Day: not kept per day)
	Launches       int64 // Mini Program launches reported by the client
}

// NetFollows is NewFollows - Unfollows.
func (c Counts) NetFollows() int64 { return c.NewFollows - c.Unfollows }

// Day is one day's counts (Asia/Shanghai days, as WeChat's quotas).
type Day struct {
	Date time.Time // midnight, Asia/Shanghai
	Counts
}

// CodeCounts are one code's counts.
type CodeCounts struct {
	ID string
	Counts
}

// EventTotal is how many events of one kind an app received.
type EventTotal struct {
	AppID      string
	Event      EventType
	Attributed bool
	N          int64
}
