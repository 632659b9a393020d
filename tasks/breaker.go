package tasks

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
)

// BreakerConfig configures a Breaker. Its zero value is the defaults.
type BreakerConfig struct {
	// Failures is how many calls of one app × API must fail within Window
	// for the breaker to open. Default 20.
	Failures int
	// Ratio is the share of the calls within Window that must have failed
	// too, so that a busy app does not stop for its everyday failures.
	// Default 0.5.
	Ratio float64
	// Window is the sliding window of calls counted. Default 30 s.
	Window time.Duration
	// Pause is how long the breaker stays open the first time. Each time it
	// opens again before ProbationFor has passed since its last pause ended,
	// the pause doubles, up to MaxPause. Default 30 s.
	Pause time.Duration
	// MaxPause caps the pause. Default 10 min.
	MaxPause time.Duration
	// ProbeFailures is Failures after a pause (half-open): fewer failures
	// open the breaker again, at Ratio. Default 5.
	ProbeFailures int
	// ProbationFor is how long after a pause the breaker stays half-open.
	// Default MaxPause.
	ProbationFor time.Duration
	// SyncEvery bounds how far a worker's view of the breaker may lag the
	// fleet's, so that a healthy fleet does not pay round trips to Redis
	// per call: a worker counts the successes of each app × API together,
	// once per SyncEvery or with its next failure of that app × API, and
	// asks whether the breaker is open at most once per SyncEvery (see
	// Open). Failures are counted at once, and the breaker's answer to them
	// is heard at once. Default 100 ms.
	SyncEvery time.Duration
}

// WithDefaults returns c with every unset field at its default.
func (c BreakerConfig) WithDefaults() BreakerConfig {
	if c.Failures == 0 {
		c.Failures = 20
	}
	if c.Ratio == 0 {
		c.Ratio = 0.5
	}
	if c.Window == 0 {
		c.Window = 30 * time.Second
	}
	if c.Pause == 0 {
		c.Pause = 30 * time.Second
	}
	if c.MaxPause == 0 {
		c.MaxPause = 10 * time.Minute
	}
	if c.ProbeFailures == 0 {
		c.ProbeFailures = 5
	}
	if c.ProbationFor == 0 {
		c.ProbationFor = c.MaxPause
	}
	if c.SyncEvery == 0 {
		c.SyncEvery = 100 * time.Millisecond
	}
	return c
}

// Validate reports whether c, defaults applied, is a usable configuration.
// NewBreaker runs it; a command runs it too, to refuse a bad value before
// it connects to anything.
func (c BreakerConfig) Validate() error {
	switch {
	case c.Failures < 1 || c.ProbeFailures < 1:
		return errors.New("breaker: failures must be at least 1")
	case c.Ratio <= 0 || c.Ratio > 1:
		return fmt.Errorf("breaker: ratio must be in (0, 1], got %g", c.Ratio)
	case c.Window < time.Millisecond || c.Pause < time.Millisecond || c.ProbationFor < time.Millisecond ||
		c.SyncEvery < time.Millisecond:
		return errors.New("breaker: window, pause, probation and sync interval must be at least 1 ms")
	case c.MaxPause < c.Pause:
		return fmt.Errorf("breaker: max pause %s is shorter than the pause %s", c.MaxPause, c.Pause)
	}
	return nil
}

// Breaker is the fleet's circuit breaker per app × API (a LimitKey): when
// WeChat fails for many calls at once, it opens, the generator pauses the
// queues that call that API for that app (reason ReasonWeChatUnavailable)
// until the breaker lets calls through again, and the failures that come
// with the outage never use up a task's retries. Calls are counted in Redis,
// on Redis's clock, so the whole fleet shares one breaker.
//
// A failure is counted at once, so that an outage opens the breaker
// without delay. A success waits in the worker up to SyncEvery and is
// counted with the others of its app × API (see Record): the fleet's ratio
// of failures may lack the last SyncEvery of each worker's successes,
// never its failures, and a worker's own successes are always counted
// before its next failure. Close counts the successes still waiting. A
// worker hears that the breaker opened at once when its own failure
// opened it or met it open, else within SyncEvery (see Open).
type Breaker struct {
	rdb    redis.UniversalClient
	cfg    BreakerConfig
	log    zerolog.Logger
	prefix string
	tagged bool // on a Redis Cluster: see keys

	mu sync.Mutex
	// held are the successes per key not counted yet.
	held map[string]int64
	// flushing is set while a count of the held successes is scheduled
	// (flushes counts the scheduled and running ones, for Close).
	flushing bool
	timer    *time.Timer
	flushes  sync.WaitGroup
	closed   bool // after Close, successes are counted at once
	// seen is what the breaker of each key last said of itself.
	seen map[string]seenOpen
}

// seenOpen is what a breaker said at a time: it is open until then (until
// is at or before at when it was closed).
type seenOpen struct{ at, until time.Time }

// NewBreaker returns a breaker keeping its counts in rdb under
// "wxqr:breaker:<key>:" ("wxqr:breaker:{<key>}:" on a Redis Cluster),
// configured by cfg after its defaults, telling log of the successes it
// could not count. It fails on an invalid configuration. Close it, so that
// it counts the successes it holds.
func NewBreaker(rdb redis.UniversalClient, cfg BreakerConfig, log zerolog.Logger) (*Breaker, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	_, cluster := rdb.(*redis.ClusterClient)
	return &Breaker{rdb: rdb, cfg: cfg, log: log, prefix: "wxqr:breaker:", tagged: cluster,
		held: map[string]int64{}, seen: map[string]seenOpen{}}, nil
}

// Verdict is what the breaker says after a call.
type Verdict struct {
	// Opened: this call's failure opened the breaker; pause the queues.
	Opened bool
	// Outage: the breaker is open, or half-open after a pause: a failure
	// now belongs to the outage, not to the task.
	Outage bool
	// Wait is how long the breaker stays open; 0 when it is closed.
	Wait time.Duration
}

// keys returns the state, calls and fails keys of the breaker key. On a
// Redis Cluster the key in braces is their hash tag, so that the scripts
// find the three in one slot and the breakers of many apps spread over the
// masters; elsewhere the keys keep the names a running fleet already uses,
// so that an upgrade finds an open breaker open.
func (b *Breaker) keys(key string) []string {
	base := b.prefix + key + ":"
	if b.tagged {
		base = b.prefix + "{" + key + "}:"
	}
	return []string{base + "state", base + "calls", base + "fails"}
}

// breakerNow is the fleet's clock in milliseconds, at the start of each
// script.
const breakerNow = `
local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local open_until = tonumber(redis.call("HGET", KEYS[1], "open_until") or "0")
local probation_until = tonumber(redis.call("HGET", KEYS[1], "probation_until") or "0")
`

// recordScript counts calls: some successes, then maybe a failure. KEYS:
// the state (level, open_until, probation_until, seq), the calls and the
// failures in the window (sorted sets scored by time). ARGV: 1 when the
// last call failed, the window, the failures to open, the ratio, the
// failures to open when half-open, the first pause, the longest pause, the
// probation (durations in ms), the successes. It returns {opened, outage,
// wait in ms}.
var recordScript = redis.NewScript(breakerNow + `
if now < open_until then
	-- Calls that were under way when the breaker opened: not counted.
	return {0, 1, open_until - now}
end
local failed = ARGV[1] == "1"
local window = tonumber(ARGV[2])
local on_probation = now < probation_until
local counted = tonumber(ARGV[9])
if failed then counted = counted + 1 end
local seq = redis.call("HINCRBY", KEYS[1], "seq", counted)
-- Each call is a member "<ms>:<seq>", the failure last; ZADD takes them in
-- chunks, within Lua's limit on unpack.
local args = {}
for i = 1, counted do
	args[#args + 1] = now
	args[#args + 1] = now .. ":" .. (seq - counted + i)
	if #args == 2000 or i == counted then
		redis.call("ZADD", KEYS[2], unpack(args))
		args = {}
	end
end
local member = now .. ":" .. seq
redis.call("ZREMRANGEBYSCORE", KEYS[2], "-inf", now - window)
redis.call("PEXPIRE", KEYS[2], window)
if not failed then
	if not on_probation then
		redis.call("PEXPIRE", KEYS[1], window)
	end
	return {0, 0, 0}
end
redis.call("ZADD", KEYS[3], now, member)
redis.call("ZREMRANGEBYSCORE", KEYS[3], "-inf", now - window)
redis.call("PEXPIRE", KEYS[3], window)
local fails = redis.call("ZCARD", KEYS[3])
local calls = redis.call("ZCARD", KEYS[2])
local needed = tonumber(ARGV[3])
if on_probation then needed = tonumber(ARGV[5]) end
if fails < needed or fails < tonumber(ARGV[4]) * calls then
	if on_probation then return {0, 1, 0} end
	redis.call("PEXPIRE", KEYS[1], window)
	return {0, 0, 0}
end
local level = 1
if on_probation then level = tonumber(redis.call("HGET", KEYS[1], "level") or "0") + 1 end
local pause = math.min(tonumber(ARGV[6]) * 2 ^ (level - 1), tonumber(ARGV[7]))
open_until = now + pause
probation_until = open_until + tonumber(ARGV[8])
redis.call("HSET", KEYS[1], "level", level, "open_until", open_until, "probation_until", probation_until)
redis.call("PEXPIRE", KEYS[1], probation_until - now)
-- Half-open after the pause: the count starts again.
redis.call("DEL", KEYS[2], KEYS[3])
return {1, 1, pause}`)

// Record counts one call of key (app × API) and whether it failed as an
// outage does (see FailedAsOutage), and says what the breaker now thinks.
// A failure is counted at once, with the successes of key that the breaker
// holds. A success is held, up to SyncEvery, and its Verdict is the zero
// Verdict: what the breaker thinks of a success changes nothing.
func (b *Breaker) Record(ctx context.Context, key string, failed bool) (Verdict, error) {
	if !failed && b.hold(key) {
		return Verdict{}, nil
	}
	successes := b.take(key)
	if !failed {
		successes++ // after Close: counted at once
	}
	at := time.Now()
	v, err := b.count(ctx, key, successes, failed)
	if err == nil && v.Wait > 0 {
		b.see(key, at, v.Wait)
	}
	return v, err
}

// count counts successes calls of key, then a failed one if failed.
func (b *Breaker) count(ctx context.Context, key string, successes int64, failed bool) (Verdict, error) {
	res, err := recordScript.Run(ctx, b.rdb, b.keys(key),
		flag(failed), b.cfg.Window.Milliseconds(), b.cfg.Failures, b.cfg.Ratio, b.cfg.ProbeFailures,
		b.cfg.Pause.Milliseconds(), b.cfg.MaxPause.Milliseconds(), b.cfg.ProbationFor.Milliseconds(),
		successes).Int64Slice()
	if err != nil {
		return Verdict{}, fmt.Errorf("breaker %s: %w", key, err)
	}
	return Verdict{Opened: res[0] == 1, Outage: res[1] == 1, Wait: time.Duration(res[2]) * time.Millisecond}, nil
}

// hold keeps a success of key to be counted within SyncEvery, and
// schedules that count. It returns false after Close.
func (b *Breaker) hold(key string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	b.held[key]++
	if !b.flushing {
		b.flushing = true
		b.flushes.Add(1)
		b.timer = time.AfterFunc(b.cfg.SyncEvery, func() {
			defer b.flushes.Done()
			b.mu.Lock()
			b.flushing = false
			b.mu.Unlock()
			// A success the fleet cannot count within the window no longer
			// matters.
			ctx, cancel := context.WithTimeout(context.Background(), b.cfg.Window)
			defer cancel()
			b.flush(ctx)
		})
	}
	return true
}

// take returns the successes of key held, and forgets them.
func (b *Breaker) take(key string) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := b.held[key]
	delete(b.held, key)
	return n
}

// flush counts the successes held, one round trip per key.
func (b *Breaker) flush(ctx context.Context) {
	b.mu.Lock()
	held := b.held
	b.held = map[string]int64{}
	b.mu.Unlock()
	for key, n := range held {
		if _, err := b.count(ctx, key, n, false); err != nil {
			b.log.Warn().Err(err).Str("key", key).Int64("successes", n).
				Msg("could not count successful calls in the circuit breaker; it may open a little early")
		}
	}
}

// Close counts the successes the breaker holds, waiting for a count under
// way, and from then on counts each call at once. Call it once no more
// calls are made, before rdb is closed.
func (b *Breaker) Close(ctx context.Context) {
	b.mu.Lock()
	b.closed = true
	if b.flushing && b.timer.Stop() {
		b.flushing = false
		b.flushes.Done()
	}
	b.mu.Unlock()
	b.flush(ctx)
	b.flushes.Wait()
}

// openScript returns how many ms the breaker stays open. KEYS: as
// recordScript's.
var openScript = redis.NewScript(breakerNow + `
if now < open_until then return open_until - now end
return 0`)

// Open returns how long the breaker of key stays open: 0 when calls may go.
// It asks Redis at most once per SyncEvery: in between, and while the
// breaker is open by what it last heard (an answer of Open, or of Record
// to a failure), it answers from that. A worker may then make calls for up
// to SyncEvery after another worker opened the breaker; that one also
// paused the queues that make them, and their failures belong to the
// outage.
func (b *Breaker) Open(ctx context.Context, key string) (time.Duration, error) {
	at := time.Now()
	if wait, ok := b.seenOpen(key, at); ok {
		return wait, nil
	}
	ms, err := openScript.Run(ctx, b.rdb, b.keys(key)[:1]).Int64()
	if err != nil {
		return 0, fmt.Errorf("breaker %s: %w", key, err)
	}
	wait := time.Duration(ms) * time.Millisecond
	b.see(key, at, wait)
	return wait, nil
}

// see notes that the breaker of key said at at that it stays open for
// wait.
func (b *Breaker) see(key string, at time.Time, wait time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seen[key] = seenOpen{at: at, until: at.Add(wait)}
}

// seenOpen returns how long the breaker of key stays open by what it said
// last, and whether that may still be trusted at now: while it is open, or
// within SyncEvery of the answer.
func (b *Breaker) seenOpen(key string, now time.Time) (time.Duration, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ok := b.seen[key]
	switch {
	case !ok:
		return 0, false
	case now.Before(s.until):
		return s.until.Sub(now), true
	case s.until.After(s.at):
		// It was open and its pause is over: the fleet knows whether it is
		// half-open or open again.
		return 0, false
	}
	return 0, now.Sub(s.at) < b.cfg.SyncEvery
}
