package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// This file is the Redis side of sending: the claims, the outbox and the
// batches of failures.

// emitScript claims an event and adds it to the outbox, in one step: the
// claim is never taken without the event queued. KEYS: the claim, the
// outbox. ARGV: the claim's TTL in ms (0: kept for ever), the event, the
// outbox's cap. It returns 1 when this call claimed the event, 0 when it
// was claimed before.
var emitScript = redis.NewScript(`
local claimed
if tonumber(ARGV[1]) > 0 then
	claimed = redis.call("SET", KEYS[1], "1", "NX", "PX", ARGV[1])
else
	claimed = redis.call("SET", KEYS[1], "1", "NX")
end
if not claimed then
	return 0
end
redis.call("XADD", KEYS[2], "MAXLEN", "~", ARGV[3], "*", "event", ARGV[2])
return 1`)

// emit claims ev (for ttl; 0 for ever) and queues it, unless it was
// claimed before; it reports whether this call queued it.
func (n *Notifier) emit(ctx context.Context, ev Event, ttl time.Duration) (bool, error) {
	data, err := json.Marshal(ev)
	if err != nil {
		return false, fmt.Errorf("notify: encode %s: %w", ev.ID, err)
	}
	queued, err := emitScript.Run(ctx, n.cfg.Redis, []string{n.keys.claim(ev.ID), n.keys.outbox()},
		ttl.Milliseconds(), data, n.cfg.MaxOutbox).Int()
	if err != nil {
		return false, fmt.Errorf("notify: queue %s: %w", ev.ID, err)
	}
	return queued == 1, nil
}

// ensureGroup makes the outbox and its consumer group if they are missing.
// The group starts at the outbox's beginning: events queued before any
// worker ran are sent too.
func (n *Notifier) ensureGroup(ctx context.Context) error {
	err := n.cfg.Redis.XGroupCreateMkStream(ctx, n.keys.outbox(), n.keys.group(), "0").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return fmt.Errorf("notify: make the outbox: %w", err)
	}
	return nil
}

// outboxBatch is how many events a worker takes from the outbox at once.
const outboxBatch = 10

// take returns events for this worker to send: first those another worker
// took and left unsent for ReclaimAfter, then new ones.
func (n *Notifier) take(ctx context.Context) ([]redis.XMessage, error) {
	msgs, _, err := n.cfg.Redis.XAutoClaim(ctx, &redis.XAutoClaimArgs{
		Stream: n.keys.outbox(), Group: n.keys.group(), Consumer: n.cfg.Consumer,
		MinIdle: n.cfg.ReclaimAfter, Start: "0-0", Count: outboxBatch,
	}).Result()
	if err == nil && len(msgs) == 0 {
		var streams []redis.XStream
		streams, err = n.cfg.Redis.XReadGroup(ctx, &redis.XReadGroupArgs{
			Group: n.keys.group(), Consumer: n.cfg.Consumer,
			Streams: []string{n.keys.outbox(), ">"}, Count: outboxBatch, Block: -1,
		}).Result()
		for _, s := range streams {
			msgs = append(msgs, s.Messages...)
		}
	}
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil && strings.HasPrefix(err.Error(), "NOGROUP") {
		// The outbox was deleted under us: make it again, and look next
		// time.
		return nil, n.ensureGroup(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("notify: read the outbox: %w", err)
	}
	return msgs, nil
}

// done takes the event id out of the outbox: it was sent, or given up.
func (n *Notifier) done(ctx context.Context, id string) error {
	_, err := n.cfg.Redis.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.XAck(ctx, n.keys.outbox(), n.keys.group(), id)
		p.XDel(ctx, n.keys.outbox(), id)
		return nil
	})
	if err != nil {
		return fmt.Errorf("notify: take %s out of the outbox: %w", id, err)
	}
	return nil
}

// leave drops this worker from the outbox's group when it holds no event,
// so that the group does not list every worker that ever ran.
func (n *Notifier) leave(ctx context.Context) error {
	pending, err := n.cfg.Redis.XPendingExt(ctx, &redis.XPendingExtArgs{
		Stream: n.keys.outbox(), Group: n.keys.group(), Consumer: n.cfg.Consumer,
		Start: "-", End: "+", Count: 1,
	}).Result()
	if err != nil || len(pending) > 0 {
		return err
	}
	return n.cfg.Redis.XGroupDelConsumer(ctx, n.keys.outbox(), n.keys.group(), n.cfg.Consumer).Err()
}

// takeBatchScript takes a campaign's batch of failures if it opened at or
// before a time. KEYS: the index of batches, the batch. ARGV: the
// campaign, the time (ms). It returns the batch's fields, or nil when
// there is no such batch (another worker took it).
var takeBatchScript = redis.NewScript(`
local since = redis.call("ZSCORE", KEYS[1], ARGV[1])
if not since or tonumber(since) > tonumber(ARGV[2]) then
	return false
end
local batch = redis.call("HGETALL", KEYS[2])
redis.call("DEL", KEYS[2])
redis.call("ZREM", KEYS[1], ARGV[1])
return batch`)

// batch is a campaign's failures, taken out of Redis.
type batch struct {
	since    time.Time
	count    int
	failures []Failure
}

// dueBatches returns the campaigns whose batch opened at or before due.
func (n *Notifier) dueBatches(ctx context.Context, due time.Time) ([]string, error) {
	return n.cfg.Redis.ZRangeArgs(ctx, redis.ZRangeArgs{
		Key: n.keys.batches(), ByScore: true, Start: "-inf", Stop: strconv.FormatInt(due.UnixMilli(), 10),
	}).Result()
}

// takeBatch takes campaign's batch if it opened at or before due; nil when
// another worker took it.
func (n *Notifier) takeBatch(ctx context.Context, campaign string, due time.Time) (*batch, error) {
	fields, err := takeBatchScript.Run(ctx, n.cfg.Redis, []string{n.keys.batches(), n.keys.batch(campaign)},
		campaign, due.UnixMilli()).StringSlice()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("notify: take the failures of %q: %w", campaign, err)
	}
	return readBatch(fields), nil
}

// readBatch reads a batch's fields (name, value, ...), its codes in the
// order they failed.
func readBatch(fields []string) *batch {
	b := &batch{}
	codes := map[int]Failure{}
	for i := 0; i+1 < len(fields); i += 2 {
		name, value := fields[i], fields[i+1]
		switch {
		case name == "since":
			ms, _ := strconv.ParseInt(value, 10, 64)
			b.since = time.UnixMilli(ms)
		case name == "count":
			b.count, _ = strconv.Atoi(value)
		case strings.HasPrefix(name, "code:"):
			var f Failure
			nth, err := strconv.Atoi(strings.TrimPrefix(name, "code:"))
			if err == nil && json.Unmarshal([]byte(value), &f) == nil {
				codes[nth] = f
			}
		}
	}
	for nth := 1; nth <= maxFailures; nth++ {
		if f, ok := codes[nth]; ok {
			b.failures = append(b.failures, f)
		}
	}
	return b
}
