package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Run sends the fleet's events until ctx ends. Every Interval it closes
// the batches of failures that are due, tells of the campaigns that stayed
// finished for FinishGrace, and sends what the outbox holds. Every worker
// runs it; each event goes to one of them. Once ctx ends, it goes on for
// up to DrainTimeout, closing every batch and finish, due or not, and
// sending them. It logs its own errors.
func (n *Notifier) Run(ctx context.Context) {
	if err := n.ensureGroup(ctx); err != nil {
		n.log.Warn().Err(err).Msg("notices wait until the outbox can be made")
	}
	ticker := time.NewTicker(n.cfg.Interval)
	defer ticker.Stop()
	for {
		n.pass(ctx, false)
		select {
		case <-ctx.Done():
			n.drain(ctx)
			return
		case <-ticker.C:
		}
	}
}

// drain is the last pass, after ctx ended.
func (n *Notifier) drain(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), n.cfg.DrainTimeout)
	defer cancel()
	n.pass(ctx, true)
	if err := n.leave(ctx); err != nil {
		n.log.Debug().Err(err).Msg("could not leave the outbox's group")
	}
}

// pass does one round of Run; the final one does not wait for windows and
// graces to end.
func (n *Notifier) pass(ctx context.Context, final bool) {
	now := n.cfg.Now()
	batchesDue, finishDue := now.Add(-n.cfg.FailureWindow), now.Add(-n.cfg.FinishGrace)
	if final {
		batchesDue, finishDue = now, now
	}
	for _, step := range []func() error{
		func() error { return n.closeBatches(ctx, now, batchesDue) },
		func() error { return n.closeFinished(ctx, now, finishDue) },
		func() error { return n.deliver(ctx) },
	} {
		if err := step(); err != nil && ctx.Err() == nil {
			n.log.Warn().Err(err).Msg("notices delayed")
		}
	}
}

// closeBatches queues the event of each batch of failures opened at or
// before due.
func (n *Notifier) closeBatches(ctx context.Context, now, due time.Time) error {
	campaigns, err := n.dueBatches(ctx, due)
	if err != nil {
		return fmt.Errorf("notify: list the failures: %w", err)
	}
	for _, campaign := range campaigns {
		if err := n.closeBatch(ctx, campaign, now, due); err != nil {
			return err
		}
	}
	return nil
}

// closeBatch takes one campaign's batch and queues its event. Once taken,
// the batch is only in this process: its event is queued even if ctx ends
// meanwhile (a worker shutting down), within settleTimeout.
func (n *Notifier) closeBatch(ctx context.Context, campaign string, now, due time.Time) error {
	b, err := n.takeBatch(ctx, campaign, due)
	if err != nil || b == nil {
		return err // nil, nil: another worker took it
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	ev := failedEvent(campaign, b.since, b.count, b.failures, now)
	n.addProgress(ctx, &ev)
	if _, err := n.emit(ctx, ev, n.cfg.ClaimTTL); err != nil {
		n.log.Error().Err(err).Str("campaign", campaign).Int("failed", b.count).Msg("the notice of failed codes is lost")
	}
	return nil
}

// settleTimeout bounds the Redis work that finishes what a pass took out of
// Redis, whatever the pass's context.
const settleTimeout = 10 * time.Second

// addProgress adds the campaign's counts to the event of a batch.
func (n *Notifier) addProgress(ctx context.Context, ev *Event) {
	if ev.Campaign == "" {
		return
	}
	s, err := n.cfg.Campaigns.Progress(ctx, ev.Campaign)
	if err != nil {
		n.log.Warn().Err(err).Str("campaign", ev.Campaign).Msg("the notice of failed codes goes without the campaign's counts")
		return
	}
	ev.Counts["failed_total"], ev.Counts["planned"], ev.Counts["generated"] = s.Failed, s.Planned, s.Generated
}

// takeFinishingScript takes a campaign found finished at or before a time.
// KEYS: the finishing campaigns. ARGV: the campaign, the time (ms). It
// returns 1 when it took it.
var takeFinishingScript = redis.NewScript(`
local at = redis.call("ZSCORE", KEYS[1], ARGV[1])
if at and tonumber(at) <= tonumber(ARGV[2]) then
	redis.call("ZREM", KEYS[1], ARGV[1])
	return 1
end
return 0`)

// closeFinished queues the event of each campaign found finished at or
// before due that still is.
func (n *Notifier) closeFinished(ctx context.Context, now, due time.Time) error {
	campaigns, err := n.cfg.Redis.ZRangeArgs(ctx, redis.ZRangeArgs{
		Key: n.keys.finishing(), ByScore: true, Start: "-inf", Stop: strconv.FormatInt(due.UnixMilli(), 10),
	}).Result()
	if err != nil {
		return fmt.Errorf("notify: list the finished campaigns: %w", err)
	}
	for _, campaign := range campaigns {
		took, err := takeFinishingScript.Run(ctx, n.cfg.Redis, []string{n.keys.finishing()}, campaign, due.UnixMilli()).Int()
		if err != nil {
			return fmt.Errorf("notify: take finished campaign %q: %w", campaign, err)
		}
		if took == 0 {
			continue // another worker's, or a code settled since
		}
		if err := n.announceFinished(ctx, campaign, now, due); err != nil {
			return err
		}
	}
	return nil
}

// announceFinished queues the event of a campaign taken out of the
// finishing ones, if it is still finished. Should that fail, the campaign
// is put back, to be tried again by the next pass: nothing else would
// (no code of a finished campaign settles any more). It goes on if ctx
// ends meanwhile (a worker shutting down), within settleTimeout.
func (n *Notifier) announceFinished(ctx context.Context, campaign string, now, due time.Time) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	err := func() error {
		s, err := n.cfg.Campaigns.Progress(ctx, campaign)
		if err != nil {
			return fmt.Errorf("notify: counts of campaign %q: %w", campaign, err)
		}
		if s.Planned == 0 || s.Queued() > 0 {
			return nil // codes were planned since: it finishes later
		}
		// The claim of a finish is kept: a campaign's regenerations settle
		// for months after it finished.
		_, err = n.emit(ctx, finishedEvent(campaign, s.Planned, s.Generated, s.Failed, now), 0)
		return err
	}()
	if err != nil {
		back := redis.Z{Score: float64(due.UnixMilli()), Member: campaign}
		if perr := n.cfg.Redis.ZAddNX(ctx, n.keys.finishing(), back).Err(); perr != nil {
			n.log.Error().Err(perr).Str("campaign", campaign).Msg("the notice of a finished campaign is lost")
		}
	}
	return err
}

// deliver sends what the outbox holds for this worker, until it is empty
// or ctx ends.
func (n *Notifier) deliver(ctx context.Context) error {
	for ctx.Err() == nil {
		msgs, err := n.take(ctx)
		if err != nil || len(msgs) == 0 {
			return err
		}
		for _, m := range msgs {
			if err := n.send(ctx, m); err != nil {
				return err
			}
		}
	}
	return nil
}

// send sends one event of the outbox and takes it out, sent or given up;
// when ctx ends first, the event stays for another worker to send.
func (n *Notifier) send(ctx context.Context, m redis.XMessage) error {
	var ev Event
	raw, _ := m.Values["event"].(string)
	if err := json.Unmarshal([]byte(raw), &ev); err != nil {
		n.log.Error().Str("outbox_id", m.ID).Msg("an event in the outbox cannot be read; dropped")
		return n.done(ctx, m.ID)
	}
	err := n.webhook.Send(ctx, ev)
	if err != nil && ctx.Err() != nil {
		return nil
	}
	log := n.log.With().Str("event", string(ev.Kind)).Str("event_id", ev.ID).Str("campaign", ev.Campaign).Logger()
	if err != nil {
		log.Error().Err(err).Msg("notice not delivered after every attempt: given up, not sent again")
	} else {
		log.Info().Msg("notice sent")
	}
	return n.done(ctx, m.ID)
}
