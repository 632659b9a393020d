package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultBudgetKeyPrefix is the default of BudgetConfig.KeyPrefix.
const DefaultBudgetKeyPrefix = "wxqr:budget:"

// budgetGrace keeps a day's counter a while past its midnight, so a process
// whose clock runs a little behind still finds it.
const budgetGrace = time.Hour

// DefaultLocation returns Asia/Shanghai (China Standard Time), the default
// zone in which budgets reset. It is loaded on the first call, after every
// package's init, so that a main package importing time/tzdata (as wxqr's
// commands do) provides it on machines without a zone database. Where the
// zone cannot be loaded at all, DefaultLocation returns a fixed UTC+8 zone
// named "CST": China has kept UTC+8 without daylight saving since 1991, so
// its days start at the same instants.
func DefaultLocation() *time.Location { return defaultLocation() }

var defaultLocation = sync.OnceValue(func() *time.Location {
	return loadShanghai(time.LoadLocation)
})

// chinaStandardTime is Asia/Shanghai as a fixed zone.
var chinaStandardTime = time.FixedZone("CST", 8*60*60)

// loadShanghai loads Asia/Shanghai with load, or falls back to
// chinaStandardTime.
func loadShanghai(load func(name string) (*time.Location, error)) *time.Location {
	loc, err := load("Asia/Shanghai")
	if err != nil {
		return chinaStandardTime
	}
	return loc
}

// ErrNoBudget is returned by Used and Remaining for a key without a budget.
var ErrNoBudget = errors.New("ratelimit: no budget for key")

// BudgetConfig configures a [Budget]. The zero value budgets nothing.
type BudgetConfig struct {
	// KeyPrefix starts the Redis key of every day's counter. Default
	// "wxqr:budget:". The counter of key k on a day lives at
	// KeyPrefix + k + ":" + the date in Location (YYYY-MM-DD) and expires
	// an hour after that day ends.
	KeyPrefix string

	// Location is the zone whose midnight starts a new day. Default:
	// Asia/Shanghai (see DefaultLocation).
	Location *time.Location

	// Limits returns the number of units key may spend per day, and false
	// when key has no budget (then Spend always succeeds and counts
	// nothing). A limit of 0 refuses everything; a negative one makes Spend
	// fail. Default: nil, no key has a budget.
	Limits func(key string) (limit int64, ok bool)

	// Now returns the current time; the day is taken from it. Give every
	// process sharing the budget the same clock (the worker gives Redis's,
	// see internal/fleetclock), or one whose clock runs ahead starts the
	// next day's counter early. Default: time.Now.
	Now func() time.Time
}

func (c BudgetConfig) withDefaults() BudgetConfig {
	if c.KeyPrefix == "" {
		c.KeyPrefix = DefaultBudgetKeyPrefix
	}
	if c.Location == nil {
		c.Location = DefaultLocation()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Budget caps how many units each key may spend per calendar day, for every
// process sharing its Redis. Each day has its own counter, so a new day
// starts at zero without anyone resetting anything. A Budget is safe for
// concurrent use.
type Budget struct {
	rdb redis.UniversalClient
	cfg BudgetConfig
}

// NewBudget returns a Budget keeping its counters in rdb, with cfg's
// defaults applied.
func NewBudget(rdb redis.UniversalClient, cfg BudgetConfig) *Budget {
	return &Budget{rdb: rdb, cfg: cfg.withDefaults()}
}

// spendScript adds ARGV[1] to the counter KEYS[1] if the sum stays within
// ARGV[2], and (re)sets its time to live to ARGV[3] ms. It returns
// {1 if spent else 0, the counter after}.
var spendScript = redis.NewScript(`
local used = tonumber(redis.call("GET", KEYS[1]) or "0")
local n = tonumber(ARGV[1])
if used + n > tonumber(ARGV[2]) then
  return {0, used}
end
used = redis.call("INCRBY", KEYS[1], n)
redis.call("PEXPIRE", KEYS[1], ARGV[3])
return {1, used}
`)

// refundScript takes ARGV[1] off the counter KEYS[1], never below zero, and
// returns the counter after. A missing counter stays missing.
var refundScript = redis.NewScript(`
local used = tonumber(redis.call("GET", KEYS[1]) or "0")
local n = math.min(tonumber(ARGV[1]), used)
if n > 0 then
  used = redis.call("DECRBY", KEYS[1], n)
end
return used
`)

// Spend spends n units of key's budget for today if they all fit, and
// reports whether it did; a refusal spends nothing. The check and the
// spend are one atomic step across the fleet. A key without a budget always
// succeeds. It fails when n < 1, the limit is negative, or Redis fails.
func (b *Budget) Spend(ctx context.Context, key string, n int64) (ok bool, err error) {
	if n < 1 {
		return false, fmt.Errorf("ratelimit: spend %d of %q: n must be at least 1", n, key)
	}
	limit, has, err := b.limit(key)
	if err != nil {
		return false, err
	}
	if !has {
		return true, nil
	}
	now := b.cfg.Now()
	ttl := NextReset(now, b.cfg.Location).Sub(now) + budgetGrace
	res, err := spendScript.Run(ctx, b.rdb, []string{b.redisKey(key, now)}, n, limit, ttl.Milliseconds()).Int64Slice()
	if err != nil {
		return false, fmt.Errorf("ratelimit: spend %d of %q: %w", n, key, err)
	}
	return res[0] == 1, nil
}

// Refund gives n units back to key's budget for today, for a spend that
// turned out not to count (a call that failed before reaching the
// provider). The counter never drops below zero. A refund made after
// midnight for a spend made before it credits the new day. A key without a
// budget is a no-op. It fails when n < 1 or Redis fails.
func (b *Budget) Refund(ctx context.Context, key string, n int64) error {
	if n < 1 {
		return fmt.Errorf("ratelimit: refund %d of %q: n must be at least 1", n, key)
	}
	_, has, err := b.limit(key)
	if err != nil || !has {
		return err
	}
	if err := refundScript.Run(ctx, b.rdb, []string{b.redisKey(key, b.cfg.Now())}, n).Err(); err != nil {
		return fmt.Errorf("ratelimit: refund %d of %q: %w", n, key, err)
	}
	return nil
}

// Used returns how many units key has spent today and its daily limit. It
// returns ErrNoBudget for a key without a budget.
func (b *Budget) Used(ctx context.Context, key string) (used, limit int64, err error) {
	limit, has, err := b.limit(key)
	if err != nil {
		return 0, 0, err
	}
	if !has {
		return 0, 0, fmt.Errorf("ratelimit: used of %q: %w", key, ErrNoBudget)
	}
	used, err = b.rdb.Get(ctx, b.redisKey(key, b.cfg.Now())).Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, 0, fmt.Errorf("ratelimit: used of %q: %w", key, err)
	}
	return used, limit, nil
}

// Remaining returns how many units key may still spend today (never
// negative, even if the limit was lowered below what is spent). It returns
// ErrNoBudget for a key without a budget.
func (b *Budget) Remaining(ctx context.Context, key string) (int64, error) {
	used, limit, err := b.Used(ctx, key)
	if err != nil {
		return 0, err
	}
	return max(limit-used, 0), nil
}

func (b *Budget) limit(key string) (limit int64, ok bool, err error) {
	if b.cfg.Limits == nil {
		return 0, false, nil
	}
	limit, ok = b.cfg.Limits(key)
	if ok && limit < 0 {
		return 0, false, fmt.Errorf("ratelimit: budget of %q: negative limit %d", key, limit)
	}
	return limit, ok, nil
}

func (b *Budget) redisKey(key string, now time.Time) string {
	return b.cfg.KeyPrefix + key + ":" + now.In(b.cfg.Location).Format(time.DateOnly)
}

// NextReset returns the first midnight in loc strictly after t: when a
// daily budget kept in loc starts afresh. At exactly midnight it returns the
// next one. loc must not be nil.
func NextReset(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, loc)
}
