package scans

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
)

// The metrics of a code's and a campaign's hash, each a total and, prefixed
// with the day, a day's count.
const (
	metricScans      = "scans"
	metricNewFollows = "new_follows"
	metricUnfollows  = "unfollows"
	metricLaunches   = "launches"
)

// sceneKeyPrefix starts the EventKey of a subscribe by scanning a code.
const sceneKeyPrefix = "qrscene_"

// seenTTL is how long a counted event is remembered to recognise WeChat's
// retries, which come within about 15 seconds.
const seenTTL = time.Hour

// maxAttempts bounds how often Record plans an unsubscribe again when the
// follow it read changed before it was counted: only another event of the
// same user, at the same moment, does that.
const maxAttempts = 3

// Record attributes and counts ev, once: atomically, so that an error means
// nothing was counted and WeChat's retry may be answered 503 and counted
// then. An event already counted (a retry) is not counted again and reports
// Outcome.Duplicate, also when the error was in the answer and the count was
// made. Launches are not deduplicated: the Mini Program sends each once.
//
// It fails with an error wrapping ErrInvalidEvent for an event it cannot
// count, and with a Redis error when Redis is down.
func (s *Store) Record(ctx context.Context, ev Event) (Outcome, error) {
	if err := ev.validate(); err != nil {
		return Outcome{}, err
	}
	for range maxAttempts {
		t, err := s.plan(ctx, ev)
		if err != nil {
			return Outcome{}, fmt.Errorf("scans: record %s for %s: %w", ev.Type, ev.AppID, err)
		}
		res, err := countScript.Run(ctx, s.rdb, t.scriptKeys(s.keys, ev.AppID), t.scriptArgs(s.retention)...).Text()
		if err != nil {
			return Outcome{}, fmt.Errorf("scans: record %s for %s: %w", ev.Type, ev.AppID, err)
		}
		switch res {
		case "duplicate":
			return Outcome{Duplicate: true}, nil
		case "counted":
			return Outcome{CodeID: t.code, Campaign: t.campaign}, nil
		}
		// "moved": the follow changed since plan read it.
	}
	return Outcome{}, fmt.Errorf("scans: record %s for %s: the follow kept changing (%d attempts)", ev.Type, ev.AppID, maxAttempts)
}

// tally is what one event adds up: decided by plan, written by countScript.
type tally struct {
	seen     string // the event's keyed hash, for deduplication; "" for launches
	event    string // the scan:events field, without its attributed flag
	openID   string // the openid's keyed hash; "" for launches
	follow   followOp
	code     string // the code the event is attributed to; "" for none
	campaign string // the code's campaign; "" for none
	scanner  bool   // adds the openid to the unique scanners
	ranked   bool   // adds to the code's score in its campaign's top
	day      string // YYYYMMDD, Asia/Shanghai
	metrics  []string
}

// followOp is what an event does to the record of the user's follow; ""
// for nothing.
type followOp string

const (
	followSet   followOp = "set"   // an attributed subscribe: the follow is the code's
	followClear followOp = "clear" // any other subscribe: the follow is no code's
	followTake  followOp = "take"  // an unsubscribe: the follow ends; attributed to code, which it must still name
)

// plan decides what ev adds up.
func (s *Store) plan(ctx context.Context, ev Event) (tally, error) {
	t := tally{
		event: ev.AppID + "|" + string(ev.Type) + "|",
		day:   ev.Time.In(s.day).Format("20060102"),
	}
	if ev.Type != Launch {
		hash, err := s.hasher(ctx)
		if err != nil {
			return tally{}, err
		}
		t.openID = hash(ev.OpenID)
		t.seen = hash(ev.AppID, ev.OpenID, strconv.FormatInt(ev.Time.Unix(), 10), string(ev.Type), ev.Key)
	}
	code, err := s.attribute(ctx, ev, t.openID)
	if err != nil {
		return tally{}, err
	}
	if code != nil {
		t.code, t.campaign = code.id, code.campaign
	}
	_, hasScene := ev.scene()
	switch {
	case ev.Type == Launch:
		t.metrics, t.ranked = []string{metricLaunches}, true
	case ev.Type == Scan && hasScene:
		t.metrics, t.ranked, t.scanner = []string{metricScans}, true, true
	case ev.Type == Subscribe && hasScene:
		t.metrics, t.ranked, t.scanner = []string{metricScans, metricNewFollows}, true, true
	case ev.Type == Unsubscribe:
		t.metrics, t.follow = []string{metricUnfollows}, followTake
	}
	if ev.Type == Subscribe {
		// WeChat sends a subscribe only to a user who does not follow: what
		// an earlier follow was attributed to has ended, even if its
		// unsubscribe never came.
		t.follow = followClear
		if code != nil {
			t.follow = followSet
		}
	}
	return t, nil
}

// attribution is the code an event came from.
type attribution struct{ id, campaign string }

// attribute returns the code that ev came from, or nil when it names none
// that wxqr made, or more than one:
//
//   - SCAN, and subscribe with a "qrscene_" key: the scene is the key without
//     the prefix. With a ticket, the app's code with that scene whose ticket
//     it is (in any generation still scannable, see catalog.Catalog.ByScan);
//     a ticket the catalog does not know is a code wxqr never made, whatever
//     its scene (a temporary and a permanent code may share one). Without a
//     ticket, the app's one OA code with that scene (temporary or permanent,
//     scene_id or scene_str).
//   - subscribe without a scene: a follow from elsewhere, no code.
//   - unsubscribe: the code the user's follow was attributed to (openID, the
//     openid's keyed hash, finds it), with its campaign as recorded now.
//   - launch: the app's Mini Program code with the launch's entry key, the
//     scene's entry first (see wxqr.LaunchEntryKeys).
func (s *Store) attribute(ctx context.Context, ev Event, openID string) (*attribution, error) {
	switch ev.Type {
	case Launch:
		for _, entry := range wxqr.LaunchEntryKeys(ev.Path, ev.Query) {
			rec, err := s.cat.ByEntry(ctx, ev.AppID, entry)
			if errors.Is(err, catalog.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			return &attribution{rec.ID, rec.Campaign}, nil
		}
		return nil, nil
	case Unsubscribe:
		return s.followed(ctx, ev.AppID, openID)
	}
	scene, ok := ev.scene()
	if !ok {
		return nil, nil
	}
	rec, err := s.cat.ByScan(ctx, catalog.Scan{AppID: ev.AppID, Scene: scene, Ticket: ev.Ticket, At: ev.Time})
	if errors.Is(err, catalog.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &attribution{rec.ID, rec.Campaign}, nil
}

// scene returns the scene an Official Account event names, if any.
func (ev Event) scene() (string, bool) {
	scene := ev.Key
	switch ev.Type {
	case Scan:
	case Subscribe:
		var ok bool
		if scene, ok = strings.CutPrefix(ev.Key, sceneKeyPrefix); !ok {
			return "", false
		}
	default:
		return "", false
	}
	return scene, scene != ""
}

// followed returns the code the user's follow was attributed to, or nil.
func (s *Store) followed(ctx context.Context, app, openID string) (*attribution, error) {
	id, err := s.rdb.Get(ctx, s.keys.follow(app, openID)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	rec, err := s.cat.Get(ctx, id)
	if errors.Is(err, catalog.ErrNotFound) {
		return &attribution{id: id}, nil // counted on the code, which has no campaign now
	}
	if err != nil {
		return nil, err
	}
	return &attribution{id, rec.Campaign}, nil
}

// countScript counts one event, atomically: nothing or everything. Redis
// does not undo a script that fails half-way, but this one cannot, short of
// a key of the wrong type: a Redis out of memory refuses a script's first
// write, and every other write comes after it.
//
// KEYS: 1 seen marker, 2 events, 3 follow, 4 code, 5 code's scanners,
// 6 campaign, 7 campaign's scanners, 8 campaign's top.
// ARGV: 1 seen TTL in ms (0: no deduplication), 2 events field without its
// flag, 3 follow op (see followOp), 4 follow TTL in ms, 5 code id ("": not
// attributed), 6 campaign ("": none), 7 the openid hash of a scanner ("":
// not a scan), 8 day prefix, 9 "1" to rank the code, 10... metrics.
//
// It returns "duplicate" (nothing counted), "moved" (the follow no longer
// names the code to take it from; nothing counted) or "counted".
var countScript = redis.NewScript(`
local dedup = ARGV[1] ~= "0"
if dedup and redis.call("EXISTS", KEYS[1]) == 1 then return "duplicate" end
local code, campaign, op = ARGV[5], ARGV[6], ARGV[3]
if op == "take" then
	if (redis.call("GET", KEYS[3]) or "") ~= code then return "moved" end
	redis.call("DEL", KEYS[3])
elseif op == "set" then
	redis.call("SET", KEYS[3], code, "PX", ARGV[4])
elseif op == "clear" then
	redis.call("DEL", KEYS[3])
end
if dedup then redis.call("SET", KEYS[1], "1", "PX", ARGV[1]) end
if code == "" then
	redis.call("HINCRBY", KEYS[2], ARGV[2] .. "0", 1)
	return "counted"
end
redis.call("HINCRBY", KEYS[2], ARGV[2] .. "1", 1)
for i = 10, #ARGV do
	redis.call("HINCRBY", KEYS[4], ARGV[i], 1)
	redis.call("HINCRBY", KEYS[4], ARGV[8] .. ARGV[i], 1)
	if campaign ~= "" then
		redis.call("HINCRBY", KEYS[6], ARGV[i], 1)
		redis.call("HINCRBY", KEYS[6], ARGV[8] .. ARGV[i], 1)
	end
end
if ARGV[7] ~= "" then
	redis.call("PFADD", KEYS[5], ARGV[7])
	if campaign ~= "" then redis.call("PFADD", KEYS[7], ARGV[7]) end
end
if ARGV[9] == "1" and campaign ~= "" then redis.call("ZINCRBY", KEYS[8], 1, code) end
return "counted"`)

// scriptKeys returns countScript's KEYS for t. Keys that t does not touch
// are named all the same (an empty id or hash): a cluster needs every key
// declared, and they share the prefix's slot.
func (t tally) scriptKeys(k keys, app string) []string {
	return []string{
		k.seen(t.seen), k.events(), k.follow(app, t.openID),
		k.code(t.code), k.codeUniq(t.code),
		k.campaign(t.campaign), k.campaignUniq(t.campaign), k.top(t.campaign),
	}
}

// scriptArgs returns countScript's ARGV for t, with the follow TTL of
// retention.
func (t tally) scriptArgs(retention time.Duration) []any {
	seenMS := int64(0)
	if t.seen != "" {
		seenMS = seenTTL.Milliseconds()
	}
	scanner := ""
	if t.scanner {
		scanner = t.openID
	}
	ranked := "0"
	if t.ranked {
		ranked = "1"
	}
	args := []any{seenMS, t.event, string(t.follow), retention.Milliseconds(), t.code, t.campaign, scanner, t.day + ":", ranked}
	for _, m := range t.metrics {
		args = append(args, m)
	}
	return args
}
