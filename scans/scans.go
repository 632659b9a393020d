// Package scans counts what happens to wxqr's codes once they are out in the
// street: the scan events WeChat pushes to an Official Account (subscribe,
// SCAN, unsubscribe) and the launches a Mini Program reports, each attributed
// to the code that caused it.
//
// API SKETCH (the implementation replaces every panic; signatures may be
// refined but callers code against these).
package scans

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr/catalog"
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
	// kept. Empty for launches.
	OpenID string
	// Time is WeChat's CreateTime (launches: when it was reported).
	Time time.Time
	// Key is the EventKey as pushed ("qrscene_<scene>" on subscribe,
	// "<scene>" on SCAN, "" otherwise). Deduplication uses it as is.
	Key string
	// Ticket is the scanned code's ticket, if any.
	Ticket string
	// Launches only: the page path, its query and WeChat's launch scene
	// (1047, 1048, 1049).
	Path        string
	Query       map[string]string
	LaunchScene int
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

// Config configures a Store. Every field states its default.
type Config struct {
	// Prefix of every key; default "wxqr:" (the catalog's).
	Prefix string
	// OpenIDKey keys the openid hashes. Default: a random key created once
	// in Redis and shared by the fleet.
	OpenIDKey []byte
	// Retention: how long an attributed follow is remembered (to count its
	// unfollow). Default 90 days.
	Retention time.Duration
}

// Store records events and reads the counts.
type Store struct{}

// New returns a Store over rdb, attributing with cat.
func New(ctx context.Context, rdb redis.UniversalClient, cat *catalog.Catalog, cfg Config) (*Store, error) {
	panic("unimplemented")
}

// Record attributes and counts ev, once: atomically, so that an error means
// nothing was counted and WeChat's retry may be answered 503 and counted
// then.
func (s *Store) Record(ctx context.Context, ev Event) (Outcome, error) { panic("unimplemented") }

// Counts are the counts of one code or one campaign.
type Counts struct {
	Scans          int64 // every SCAN and every subscribe with a scene
	NewFollows     int64 // subscribe with qrscene_
	Unfollows      int64 // unsubscribe by a user whose follow was attributed here
	UniqueScanners int64 // HyperLogLog estimate
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

// Codes returns the counts of each id, in order (zero for none).
func (s *Store) Codes(ctx context.Context, ids []string) ([]Counts, error) { panic("unimplemented") }

// Campaigns returns the counts of each campaign, in order.
func (s *Store) Campaigns(ctx context.Context, names []string) ([]Counts, error) {
	panic("unimplemented")
}

// Days returns a campaign's counts per day from..to (inclusive), one entry per
// day, zeros included.
func (s *Store) Days(ctx context.Context, campaign string, from, to time.Time) ([]Day, error) {
	panic("unimplemented")
}

// Top returns the campaign's n codes with the most scans and launches.
func (s *Store) Top(ctx context.Context, campaign string, n int) ([]CodeCounts, error) {
	panic("unimplemented")
}

// EventTotal is how many events of one kind an app received.
type EventTotal struct {
	AppID      string
	Event      EventType
	Attributed bool
	N          int64
}

// EventTotals returns the fleet's event totals, for metrics.
func (s *Store) EventTotals(ctx context.Context) ([]EventTotal, error) { panic("unimplemented") }
