package catalog

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Staged is what WeChat returned for one code, kept until the image is in
// storage and the record in the catalog. A worker that got this far and then
// failed (storage down, Redis blip, killed) finds it on retry and reuses it
// instead of spending quota again.
type Staged struct {
	Generation    int    // the generation being made
	Ticket        string // OA codes only
	URL           string // OA codes only: the QR content
	ExpireSeconds int    // temporary codes only
	Image         []byte
	ContentType   string
	CreatedAt     time.Time // when WeChat made the code
	// RefusedAt is when showqrcode first refused the staged ticket of a
	// permanent code (see NoteRefused); zero while it has not.
	RefusedAt time.Time
}

// Field names of a staged result's hash.
const (
	stagedGeneration    = "generation"
	stagedTicket        = "ticket"
	stagedURL           = "url"
	stagedExpireSeconds = "expire_seconds"
	stagedImage         = "image"
	stagedContentType   = "content_type"
	stagedCreatedAt     = "created_at"
	stagedRefusedAt     = "refused_at"
)

// Stage keeps s as the staged result of code id for StagedTTL (default 7
// days), replacing any earlier one. The image is stored as raw bytes, and
// counted in StagedBytes. With Config.MinReplicas, it fails with
// ErrNotReplicated unless that many replicas acknowledge it in time.
func (c *Catalog) Stage(ctx context.Context, id string, s *Staged) error {
	if id == "" || s == nil {
		return errors.New("catalog: stage: an id and a result are required")
	}
	// Every field is written, so nothing of an earlier result survives.
	keys := c.stagedKeys(id)
	err := c.replicated(ctx, keys[0], func(r redis.Cmdable) error {
		return stageScript.Run(ctx, r, keys,
			id, c.stagedTTL.Milliseconds(), len(s.Image),
			stagedGeneration, s.Generation,
			stagedTicket, s.Ticket,
			stagedURL, s.URL,
			stagedExpireSeconds, s.ExpireSeconds,
			stagedImage, s.Image,
			stagedContentType, s.ContentType,
			stagedCreatedAt, formatTime(s.CreatedAt),
			stagedRefusedAt, formatTime(s.RefusedAt),
		).Err()
	})
	if err != nil {
		return fmt.Errorf("catalog: stage %s: %w", id, err)
	}
	return nil
}

// formatTime is t as a staged result's field holds it: "" for the zero time.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// The staged results' images are counted, so that a worker can stop making
// codes while too many wait for storage (see StagedBytes). The count is
// kept exact with two more keys: the size counted for each code whose
// staged result has an image, and when that result expires. A result that
// expires unstored (its TTL ends before anyone drops it) is subtracted by
// the next Stage, which sweeps the expired ones: a plain counter that only
// Stage and DropStaged adjust would keep them for ever, and once grown past
// the cap would stop every worker.
func (c *Catalog) stagedKeys(id string) []string {
	return []string{c.keys.staged(id), c.keys.stagedBytes(), c.keys.stagedSizes(), c.keys.stagedExpiry()}
}

// stagedSweep is the start of stageScript and dropScript: it subtracts, at
// most 100 at a time, the results that expired since the last sweep, then
// reads the code's own size (stagedOld). KEYS: the result, the byte
// counter, the sizes, the expiries; ARGV[1]: the code's id.
const stagedSweep = `
local now = redis.call("TIME")
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
for _, gone in ipairs(redis.call("ZRANGEBYSCORE", KEYS[4], "-inf", now_ms, "LIMIT", 0, 100)) do
	local size = tonumber(redis.call("HGET", KEYS[3], gone) or "0")
	redis.call("DECRBY", KEYS[2], size)
	redis.call("HDEL", KEYS[3], gone)
	redis.call("ZREM", KEYS[4], gone)
end
` + stagedOld

// stagedOld reads old, the size that the code ARGV[1] counts now.
const stagedOld = `
local old = tonumber(redis.call("HGET", KEYS[3], ARGV[1]) or "0")
`

// stagedForget stops counting the size old that the code ARGV[1] had
// counted (KEYS as stagedSweep's).
const stagedForget = `
if old > 0 then
	redis.call("DECRBY", KEYS[2], old)
	redis.call("HDEL", KEYS[3], ARGV[1])
	redis.call("ZREM", KEYS[4], ARGV[1])
end
`

// stageScript writes a staged result and counts its image. ARGV: the id,
// the TTL in ms, the image's size, then the hash's fields and values. A
// result without an image (an Official Account code's ticket) has no size
// to count, and none is kept for it.
var stageScript = redis.NewScript(stagedSweep + `
local fields = {}
for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call("HSET", KEYS[1], unpack(fields))
redis.call("PEXPIRE", KEYS[1], ARGV[2])
local size = tonumber(ARGV[3])
if size > 0 then
	redis.call("INCRBY", KEYS[2], size - old)
	redis.call("HSET", KEYS[3], ARGV[1], size)
	redis.call("ZADD", KEYS[4], now_ms + tonumber(ARGV[2]), ARGV[1])
else` + stagedForget + `end
return 1`)

// dropScript deletes a staged result and its count, and the code's call
// mark (KEYS[5]), only while the code's lock (KEYS[6]) holds the dropper's
// token (ARGV[2]): it returns 0, and deletes nothing, when it does not.
// ARGV[1]: the id.
var dropScript = redis.NewScript(`
if redis.call("GET", KEYS[6]) ~= ARGV[2] then
	return 0
end
` + stagedSweep + stagedDrop)

// dropHeldScript is dropScript without the sweep, for Finish's commit,
// where it runs as one of commitFns: the next Stage sweeps. KEYS and ARGV
// as dropScript's.
const dropHeldScript = stagedOld + stagedDrop

// stagedDrop is the end of both drop scripts: the result and the call mark
// deleted, the size old no longer counted.
const stagedDrop = `
redis.call("DEL", KEYS[1], KEYS[5])
` + stagedForget + `
return 1`

// StagedBytes returns the bytes of image that staged results hold: what
// waits in Redis for storage.
func (c *Catalog) StagedBytes(ctx context.Context) (int64, error) {
	n, err := c.rdb.Get(ctx, c.keys.stagedBytes()).Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, fmt.Errorf("catalog: staged bytes: %w", err)
	}
	return n, nil
}

// Staged returns the staged result of code id, or nil (and no error) if
// there is none.
func (c *Catalog) Staged(ctx context.Context, id string) (*Staged, error) {
	fields, err := c.rdb.HGetAll(ctx, c.keys.staged(id)).Result()
	if err != nil {
		return nil, fmt.Errorf("catalog: staged %s: %w", id, err)
	}
	if len(fields) == 0 {
		return nil, nil
	}
	s, err := decodeStaged(fields)
	if err != nil {
		return nil, fmt.Errorf("catalog: staged %s: %w", id, err)
	}
	return s, nil
}

func decodeStaged(fields map[string]string) (*Staged, error) {
	for _, name := range []string{stagedGeneration, stagedTicket, stagedURL, stagedExpireSeconds, stagedImage, stagedContentType, stagedCreatedAt} {
		if _, ok := fields[name]; !ok {
			return nil, fmt.Errorf("field %s is missing", name)
		}
	}
	s := &Staged{
		Ticket:      fields[stagedTicket],
		URL:         fields[stagedURL],
		ContentType: fields[stagedContentType],
	}
	// An empty field is a ticket staged before its image was fetched: no
	// image, whatever Redis gives back for it.
	if img := fields[stagedImage]; img != "" {
		s.Image = []byte(img)
	}
	var err error
	if s.Generation, err = strconv.Atoi(fields[stagedGeneration]); err != nil {
		return nil, fmt.Errorf("field %s: %w", stagedGeneration, err)
	}
	if s.ExpireSeconds, err = strconv.Atoi(fields[stagedExpireSeconds]); err != nil {
		return nil, fmt.Errorf("field %s: %w", stagedExpireSeconds, err)
	}
	if s.CreatedAt, err = parseTime(stagedCreatedAt, fields[stagedCreatedAt]); err != nil {
		return nil, err
	}
	// A result staged before the field existed has none: never refused.
	if s.RefusedAt, err = parseTime(stagedRefusedAt, fields[stagedRefusedAt]); err != nil {
		return nil, err
	}
	return s, nil
}

// parseTime reads v, the time field name of a staged result: the zero time
// when it is empty.
func parseTime(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("field %s: %w", name, err)
	}
	return t, nil
}

// DropStaged deletes the staged result of code id and its call mark (see
// MarkCalled), for the holder of lease, the code's lock, when the result can
// no longer be used (a temporary ticket that died). It is fenced by the
// lease as Finish is: while another worker holds the code (this one's lock
// lapsed and was taken), it deletes nothing and fails with an error wrapping
// ErrLockLost, so that what the new holder staged survives. Dropping a
// result that does not exist is not an error. (Finish drops the result of a
// code it records.)
func (c *Catalog) DropStaged(ctx context.Context, id string, lease *Lease) error {
	if lease == nil {
		return errors.New("catalog: drop staged: a lease is required")
	}
	keys := append(c.stagedKeys(id), c.keys.called(id), lease.key)
	held, err := dropScript.Run(ctx, c.rdb, keys, id, lease.token).Int()
	if err != nil {
		return fmt.Errorf("catalog: drop staged %s: %w", id, err)
	}
	if held == 0 {
		return fmt.Errorf("catalog: drop staged %s: %w", id, lease.notHeld())
	}
	return nil
}

// refusedScript notes when showqrcode first refused a staged ticket. KEYS:
// the result, the code's lock. ARGV: the holder's token, the generation, the
// time, and the names of the generation and refusal fields. It returns nil
// when the lock does not hold the token, "" when no result of that
// generation is staged, else the first refusal's time: the one already
// noted, or ARGV[3], now noted.
var refusedScript = redis.NewScript(`
if redis.call("GET", KEYS[2]) ~= ARGV[1] then
	return false
end
if redis.call("HGET", KEYS[1], ARGV[4]) ~= ARGV[2] then
	return ""
end
local first = redis.call("HGET", KEYS[1], ARGV[5])
if first and first ~= "" then
	return first
end
redis.call("HSET", KEYS[1], ARGV[5], ARGV[3])
return ARGV[3]`)

// NoteRefused records, for the holder of lease, that showqrcode refused
// at time at the ticket staged for generation gen of code id, unless an
// earlier refusal is recorded already: the staged result keeps the first
// refusal's time (Staged.RefusedAt), until a new result replaces it. It
// returns that first time, or the zero time when no result of generation gen
// is staged (nothing is written then). Like DropStaged, it is fenced by the
// lease: while another worker holds the code it writes nothing and fails
// with an error wrapping ErrLockLost. It does not wait for the replicas: a
// refusal lost with a failover only makes the patience start again.
func (c *Catalog) NoteRefused(ctx context.Context, id string, gen int, at time.Time, lease *Lease) (time.Time, error) {
	if lease == nil {
		return time.Time{}, errors.New("catalog: note refused: a lease is required")
	}
	first, err := refusedScript.Run(ctx, c.rdb, []string{c.keys.staged(id), lease.key},
		lease.token, gen, formatTime(at), stagedGeneration, stagedRefusedAt).Text()
	switch {
	case errors.Is(err, redis.Nil):
		return time.Time{}, fmt.Errorf("catalog: note refused %s: %w", id, lease.notHeld())
	case err != nil:
		return time.Time{}, fmt.Errorf("catalog: note refused %s: %w", id, err)
	}
	t, err := parseTime(stagedRefusedAt, first)
	if err != nil {
		return time.Time{}, fmt.Errorf("catalog: note refused %s: %w", id, err)
	}
	return t, nil
}

// markCalledScript sets the call mark (KEYS[1]) to the generation ARGV[2]
// for ARGV[3] ms, only while the code's lock (KEYS[2]) holds the caller's
// token (ARGV[1]): it returns 0, and writes nothing, when it does not.
var markCalledScript = redis.NewScript(`
if redis.call("GET", KEYS[2]) ~= ARGV[1] then
	return 0
end
redis.call("SET", KEYS[1], ARGV[2], "PX", ARGV[3])
return 1`)

// MarkCalled notes, for the holder of lease, before it asks WeChat for
// generation gen of code id, that it did: a later attempt that finds neither
// a record nor a staged result then knows that the code may exist already
// (its image and sidecar stored, the record lost with a Redis outage or
// failover) and looks in the bucket before it pays again. The mark lives as
// long as a staged result and goes with it (DropStaged). Like the staged
// result, it waits for the replicas (Config.MinReplicas), so that a failover
// cannot discard it.
//
// It is the last step before the call, so it checks the lease in the same
// round trip: while another worker holds the code (this one's lock lapsed
// while it waited its turn), it writes nothing and fails with an error
// wrapping ErrLockLost, and the caller must not call.
func (c *Catalog) MarkCalled(ctx context.Context, id string, gen int, lease *Lease) error {
	if lease == nil {
		return errors.New("catalog: mark called: a lease is required")
	}
	key := c.keys.called(id)
	err := c.replicated(ctx, key, func(r redis.Cmdable) error {
		held, err := markCalledScript.Run(ctx, r, []string{key, lease.key}, lease.token, gen, c.stagedTTL.Milliseconds()).Int()
		if err == nil && held == 0 {
			// Nothing was written, so there is nothing to wait for: the
			// replicas' lag must not hide the lost lock.
			return lease.notHeld()
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("catalog: mark %s called: %w", id, err)
	}
	return nil
}

// Called returns the generation of code id that an attempt asked WeChat
// for since the code was last recorded, or 0.
func (c *Catalog) Called(ctx context.Context, id string) (int, error) {
	gen, err := c.rdb.Get(ctx, c.keys.called(id)).Int()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("catalog: called %s: %w", id, err)
	}
	return gen, nil
}
