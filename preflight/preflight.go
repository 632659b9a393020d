// Package preflight weighs a campaign against the quotas it would spend,
// before anything is queued: per app and quota class, the codes that would
// spend a slot of a lifetime quota against what wxqr's ledger says remains
// of it, and per app and API, the calls that would spend a daily quota
// against what WeChat (openapi/quota/get) or wxqr's daily budget says
// remains today, and how many days they take.
//
// A code spends nothing when the catalog holds a valid (or retired) record
// of it, as enqueue would not queue it; a code of a lifetime class already
// in the class's ledger spends no second slot. Codes already queued by
// earlier runs (of this campaign or another) are not counted against what
// remains: the ledger counts codes made.
package preflight

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/wechat"
)

// Defaults of Config.
const (
	DefaultBatchSize    = 500
	DefaultQuotaTimeout = 10 * time.Second
)

// Catalog is the part of the catalog (a *catalog.Catalog) the pre-flight
// reads.
type Catalog interface {
	GetMany(ctx context.Context, ids []string) ([]*wxqr.Record, error)
	QuotaUsed(ctx context.Context, appID string, class wxqr.QuotaClass) (int64, error)
	QuotaSpent(ctx context.Context, appID string, class wxqr.QuotaClass, ids []string) ([]bool, error)
}

// Budgets are wxqr's daily budgets (a *ratelimit.Budget): today's spend and
// limit of a key, "{app_id}:{api}" (tasks.LimitKey), or an error wrapping
// ratelimit.ErrNoBudget for a key without a budget.
type Budgets interface {
	Used(ctx context.Context, key string) (used, limit int64, err error)
}

// QuotaAsker asks WeChat for an app's daily quota of an API (a
// *wechat.Client).
type QuotaAsker interface {
	QuotaGet(ctx context.Context, req *wechat.QuotaGetRequest) (*wechat.Quota, error)
}

// Config configures a Checker.
type Config struct {
	// Catalog tells which codes are made and which spent a lifetime slot.
	// Required.
	Catalog Catalog
	// LifetimeCaps returns the lifetime cap of a class for an app, false for
	// a class without one (config.LifetimeQuotas.Cap). Required.
	LifetimeCaps func(appID string, class wxqr.QuotaClass) (int64, bool)
	// Budgets are wxqr's daily budgets. Default: nil, no budget is known.
	Budgets Budgets
	// Quotas ask WeChat, per app id, for the app's daily quotas. An app
	// missing here is not asked (ErrNotAsked). Default: none.
	Quotas map[string]QuotaAsker
	// QuotaTimeout bounds each question to WeChat; an answer that does not
	// come in time is unknown. Default: DefaultQuotaTimeout (10 s).
	QuotaTimeout time.Duration
	// BatchSize is how many codes one catalog lookup covers. Default:
	// DefaultBatchSize (500).
	BatchSize int
	// Now is the time records are judged valid at. Default: time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.QuotaTimeout == 0 {
		c.QuotaTimeout = DefaultQuotaTimeout
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.Catalog == nil:
		return errors.New("Catalog is required")
	case c.LifetimeCaps == nil:
		return errors.New("LifetimeCaps is required")
	case c.QuotaTimeout < 0:
		return fmt.Errorf("QuotaTimeout must be positive, got %v", c.QuotaTimeout)
	case c.BatchSize < 0:
		return fmt.Errorf("BatchSize must be positive, got %d", c.BatchSize)
	}
	return nil
}

// Checker weighs campaigns against the quotas. It is safe for concurrent
// use.
type Checker struct {
	cfg Config
}

// New returns a Checker configured by cfg, with defaults applied. It fails
// if a required field is missing.
func New(cfg Config) (*Checker, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("preflight: %w", err)
	}
	return &Checker{cfg: cfg}, nil
}

// Code is one distinct code of a campaign.
type Code struct {
	AppID string
	Kind  wxqr.Kind
	// ID is the code's id (wxqr.Spec.ID).
	ID string
}

// Check returns what the distinct codes would spend of each quota. It reads
// the catalog BatchSize codes at a time, so memory holds a batch per app ×
// kind, not the codes. It fails only when the catalog, the ledger or the
// budgets cannot be read, or ctx ends; WeChat's answers are optional (see
// Daily.Unknown).
func (c *Checker) Check(ctx context.Context, codes iter.Seq[Code]) (*Report, error) {
	t, err := c.tally(ctx, codes)
	if err != nil {
		return nil, err
	}
	r := &Report{}
	if r.Classes, err = c.classes(ctx, t); err != nil {
		return nil, err
	}
	if r.Daily, err = c.daily(ctx, t); err != nil {
		return nil, err
	}
	return r, nil
}
