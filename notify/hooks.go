package notify

import (
	"context"
	"encoding/json"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr/tasks"
)

// This file is what a worker hears of (tasks.Notices): each hook writes to
// Redis and returns; Run sends.

// hookTimeout bounds a hook's writes. A hook may run as its task's time
// runs out (the error handler of a timed-out task): its writes must land
// all the same.
const hookTimeout = 5 * time.Second

func hookContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), hookTimeout)
}

// Paused adds the event of the pause s to the outbox, unless it is the
// circuit breaker's (see the package doc).
func (n *Notifier) Paused(ctx context.Context, s tasks.PauseState, campaign string, waiting int) {
	if s.Cause() == tasks.ReasonWeChatUnavailable {
		return
	}
	ctx, cancel := hookContext(ctx)
	defer cancel()
	ev := pausedEvent(s, campaign, waiting)
	if _, err := n.emit(ctx, ev, n.cfg.ClaimTTL); err != nil {
		n.log.Warn().Err(err).Str("event", string(ev.Kind)).Str("queue", s.Queue).Msg("the notice of a pause is lost")
	}
}

// Made checks whether p's campaign is finished.
func (n *Notifier) Made(ctx context.Context, p tasks.GeneratePayload) {
	ctx, cancel := hookContext(ctx)
	defer cancel()
	n.settled(ctx, p.Campaign)
}

// Failed adds p's code to its campaign's batch of failures, and checks
// whether the campaign is finished. The error handler has recorded the
// failure in the catalog already.
func (n *Notifier) Failed(ctx context.Context, p tasks.GeneratePayload, reason string) {
	ctx, cancel := hookContext(ctx)
	defer cancel()
	if err := n.addFailure(ctx, p, reason); err != nil {
		n.log.Warn().Err(err).Str("campaign", p.Campaign).Msg("a failed code is missing from the notices")
	}
	n.settled(ctx, p.Campaign)
}

// settled marks campaign as finishing when nothing of its plan is left:
// Run tells of it once it stays so for FinishGrace.
func (n *Notifier) settled(ctx context.Context, campaign string) {
	if campaign == "" {
		return
	}
	s, err := n.cfg.Campaigns.Progress(ctx, campaign)
	if err == nil && (s.Planned == 0 || s.Queued() > 0) {
		return
	}
	if err == nil {
		// The latest settle counts: the grace runs from the last code.
		err = n.cfg.Redis.ZAdd(ctx, n.keys.finishing(), redis.Z{
			Score: float64(n.cfg.Now().UnixMilli()), Member: campaign,
		}).Err()
	}
	if err != nil {
		n.log.Warn().Err(err).Str("campaign", campaign).Msg("could not check whether the campaign is finished")
	}
}

// addFailureScript adds a code to its campaign's batch, opening the batch
// if none is open. KEYS: the index of batches, the batch. ARGV: the
// campaign, now (ms), the code as JSON, how many codes a batch lists. The
// batch holds since (when it opened), count, and code:1.. code:n.
var addFailureScript = redis.NewScript(`
redis.call("ZADD", KEYS[1], "NX", ARGV[2], ARGV[1])
redis.call("HSETNX", KEYS[2], "since", ARGV[2])
local n = redis.call("HINCRBY", KEYS[2], "count", 1)
if n <= tonumber(ARGV[4]) then
	redis.call("HSET", KEYS[2], "code:" .. n, ARGV[3])
end
return n`)

func (n *Notifier) addFailure(ctx context.Context, p tasks.GeneratePayload, reason string) error {
	code, err := json.Marshal(Failure{ID: p.ID, AppID: p.Spec.AppID, Reason: clip(reason, maxReason)})
	if err != nil {
		return err
	}
	return addFailureScript.Run(ctx, n.cfg.Redis, []string{n.keys.batches(), n.keys.batch(p.Campaign)},
		p.Campaign, n.cfg.Now().UnixMilli(), code, maxFailures).Err()
}
