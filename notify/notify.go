// Package notify tells people, through a webhook, what becomes of their
// campaigns: when a campaign finishes, when its work is paused (a quota,
// storage, WeChat refusing the account) and when codes fail for good. The
// webhook takes signed JSON or a WeCom group robot's markdown (Webhook).
//
// # Once per event, for the whole fleet
//
// Every worker hears of what it does itself: *Notifier is the tasks.Notices
// the worker wires into its generator, storage probe and error handler.
// Each event gets an id derived from what happened (the queue and the time
// of a pause; the campaign and its plan size for a finish; the campaign and
// the first failure of a batch), and is claimed in Redis with SET NX before
// it goes into the outbox, a Redis stream: workers that see the same event
// add it once. Every worker's Run delivers the outbox through one consumer
// group, so one worker posts each event.
//
// Delivery is at most once per claim, with one exception. A send that still
// fails after its attempts is logged (an error naming the event) and
// dropped, its claim kept: a receiver that is down for an hour misses that
// hour's notices rather than getting a storm when it comes back. An event
// whose worker dies or shuts down while sending it stays in the outbox and
// another worker sends it after Config.ReclaimAfter: if the first send had
// reached the receiver, that event arrives twice, with the same id.
//
// # When
//
// A pause is told of at once, by the worker that recorded it (the circuit
// breaker's short pauses for a WeChat outage are not: they end by
// themselves within minutes and would come in storms). A campaign is
// finished once nothing of its plan is queued (catalog.Stats.Queued),
// checked in one round trip each time one of its codes is made or fails,
// and told of once it has stayed so for Config.FinishGrace. Failures are
// batched per campaign: one event for the codes that fail within
// Config.FailureWindow (a minute) of the first.
package notify

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/tasks"
)

// Campaigns reads a campaign's counts; *catalog.Catalog implements it.
type Campaigns interface {
	Progress(ctx context.Context, campaign string) (catalog.Stats, error)
}

// Config configures a Notifier. Redis, Campaigns and Webhook.URL are
// required; every other field says its default.
type Config struct {
	// Redis holds the claims, the outbox and the pending batches, for the
	// whole fleet, under Prefix + "notify:".
	Redis redis.UniversalClient
	// Prefix starts every key of the notifier. Default "wxqr:". On a Redis
	// Cluster give it a hash tag ("{wxqr}:"): the notifier's scripts and
	// transactions touch several of its keys at once.
	Prefix string
	// Campaigns reads the counts of a campaign.
	Campaigns Campaigns
	// Webhook is where the events go.
	Webhook WebhookConfig
	// Interval is how often Run looks for events to send. Default 1 s.
	Interval time.Duration
	// FailureWindow: the codes of a campaign that fail within it of the
	// first are told of in one event. Default 1 min.
	FailureWindow time.Duration
	// FinishGrace is how long a campaign must stay finished before it is
	// told of, so that an enqueue still planning its codes is not taken for
	// the end. Default 10 s.
	FinishGrace time.Duration
	// ReclaimAfter is how long an event may stay unsent with a worker
	// before another sends it (its worker died). It must exceed the longest
	// delivery (WebhookConfig.MaxDelivery). Default 5 min.
	ReclaimAfter time.Duration
	// ClaimTTL is how long the claim of a pause or a batch of failures is
	// kept; their ids hold a time, and never come back. The claim of a
	// finish is kept for ever: one small key per campaign and plan size.
	// Default 7 days.
	ClaimTTL time.Duration
	// DrainTimeout is how long Run, once its context ends, goes on sending
	// what is pending (batches and finishes that are not due yet included),
	// so that a worker run with --until-idle tells of the campaign it
	// finished. Default 30 s.
	DrainTimeout time.Duration
	// MaxOutbox caps the outbox, roughly: past it the oldest events go.
	// Default 10000.
	MaxOutbox int64
	// Consumer names this worker in the outbox's consumer group. Default:
	// host name, process id and a random suffix.
	Consumer string
	// Now is the clock: the fleet's, so that windows and graces agree.
	// Default time.Now.
	Now func() time.Time
	// Logger is where the notifier logs. Default: zerolog's zero Logger,
	// which logs nothing.
	Logger zerolog.Logger
}

// WithDefaults returns c with every unset optional field at its default.
func (c Config) WithDefaults() Config {
	c.Webhook = c.Webhook.WithDefaults()
	defaults := []struct {
		field *time.Duration
		value time.Duration
	}{
		{&c.Interval, time.Second}, {&c.FailureWindow, time.Minute}, {&c.FinishGrace, 10 * time.Second},
		{&c.ReclaimAfter, 5 * time.Minute}, {&c.ClaimTTL, 7 * 24 * time.Hour}, {&c.DrainTimeout, 30 * time.Second},
	}
	for _, d := range defaults {
		if *d.field == 0 {
			*d.field = d.value
		}
	}
	if c.MaxOutbox == 0 {
		c.MaxOutbox = 10000
	}
	if c.Prefix == "" {
		c.Prefix = "wxqr:"
	}
	if c.Consumer == "" {
		host, _ := os.Hostname()
		c.Consumer = host + ":" + strconv.Itoa(os.Getpid()) + ":" + rand.Text()[:8]
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate reports whether c, defaults applied, is usable. Its errors never
// quote the webhook's URL or secret.
func (c Config) Validate() error {
	var errs []error
	if c.Redis == nil {
		errs = append(errs, errors.New("notify: no Redis"))
	}
	if c.Campaigns == nil {
		errs = append(errs, errors.New("notify: no Campaigns"))
	}
	if err := c.Webhook.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Interval <= 0 || c.FailureWindow <= 0 || c.FinishGrace <= 0 || c.ClaimTTL <= 0 || c.DrainTimeout <= 0 || c.MaxOutbox < 1 {
		errs = append(errs, errors.New("notify: interval, failure window, finish grace, claim TTL, drain timeout and max outbox must be positive"))
	}
	if c.ReclaimAfter <= c.Webhook.MaxDelivery() {
		errs = append(errs, fmt.Errorf("notify: reclaim after %s must exceed the longest delivery, %s", c.ReclaimAfter, c.Webhook.MaxDelivery()))
	}
	return errors.Join(errs...)
}

// Notifier hears of the worker's events (tasks.Notices) and sends the
// fleet's (Run).
type Notifier struct {
	cfg     Config
	webhook *Webhook
	keys    keys
	log     zerolog.Logger
}

var _ tasks.Notices = (*Notifier)(nil)

// New returns the notifier of cfg, its defaults filled in, or why cfg is
// not usable.
func New(cfg Config) (*Notifier, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	webhook, err := NewWebhook(cfg.Webhook)
	if err != nil {
		return nil, err
	}
	return &Notifier{cfg: cfg, webhook: webhook, keys: keys{prefix: cfg.Prefix + "notify:"}, log: cfg.Logger}, nil
}

// Webhook returns the webhook events go to.
func (n *Notifier) Webhook() *Webhook { return n.webhook }

// keys names the notifier's Redis keys.
type keys struct{ prefix string }

// claim is the claim of the event id.
func (k keys) claim(id string) string { return k.prefix + "claim:" + id }

// outbox is the stream of events to send; group is its consumer group.
func (k keys) outbox() string { return k.prefix + "outbox" }
func (k keys) group() string  { return "senders" }

// finishing holds the campaigns found finished, scored by when (ms).
func (k keys) finishing() string { return k.prefix + "finishing" }

// batches holds the campaigns with a batch of failures open, scored by
// when the batch opened (ms); batch is one campaign's batch.
func (k keys) batches() string              { return k.prefix + "failures" }
func (k keys) batch(campaign string) string { return k.prefix + "failures:" + campaign }
