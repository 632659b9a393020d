// Package regen regenerates temporary codes before they expire.
//
// A scan lists the codes that expire within a horizon, soonest first, and
// queues one generate task per code for its next generation, as far as each
// app's daily budget allows ([Planner]). The generate task of generation n
// has the id "{code id}:g{n}", so a code is queued at most once per
// generation however many scans find it, and the generator makes each
// generation once (it skips a code whose catalog record has reached that
// generation or was retired).
//
// # Once per slot, for the whole fleet
//
// Every worker runs a [Trigger]. At each slot of the schedule (by default
// 03:00 Asia/Shanghai) each of them queues the scan task of that slot, whose
// id derives from the slot, so asynq keeps one of them and exactly one worker
// runs the scan ([ScanHandler]). The finished task is retained, which keeps
// its id taken: a worker that reaches the slot late finds the scan done.
//
// # What does not fit
//
// Codes beyond an app's remaining daily budget are deferred: the report
// counts them and names the soonest deferred expiry, and the next scan finds
// them again (they are still due). Retired codes are never planned: the
// catalog keeps them out of its expiry index. Nor are the codes of a retired
// campaign, even one whose retirement was cut short before it reached every
// record.
package regen

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/ratelimit"
	"github.com/wxqr/wxqr/tasks"
)

// Catalog is the part of the code catalog the planner reads.
type Catalog interface {
	// ExpiringPage returns a page of up to limit temporary codes that are
	// not retired and expire before before, soonest first, from cursor on,
	// with the next page's cursor and whether there may be more.
	ExpiringPage(ctx context.Context, before time.Time, cursor catalog.ExpiryCursor, limit int) ([]*wxqr.Record, catalog.ExpiryCursor, bool, error)
	// Apps returns the ids of the apps that have codes.
	Apps(ctx context.Context) ([]string, error)
	// CampaignRetired reports whether a campaign was retired as a whole.
	CampaignRetired(ctx context.Context, campaign string) (bool, error)
}

// Budget tells how much of a daily budget is left today. *ratelimit.Budget
// implements it; a key without a budget returns an error wrapping
// ratelimit.ErrNoBudget.
type Budget interface {
	Remaining(ctx context.Context, key string) (int64, error)
}

// Enqueuer queues tasks; *asynq.Client implements it.
type Enqueuer = tasks.Enqueuer

// PlannerConfig configures a [Planner].
type PlannerConfig struct {
	// Catalog lists the codes about to expire. Required.
	Catalog Catalog
	// Client queues the generate tasks. Required.
	Client Enqueuer
	// Inspector, when set, lets a regeneration whose task failed for good
	// (archived under the same id) run again instead of counting as already
	// queued night after night while the code expires. Default nil.
	Inspector *asynq.Inspector
	// Budget says how many calls each app may still make today, under the
	// key the generator spends: "{app_id}:{api}" (qrcode/create for
	// temporary codes). Default nil: no app has a budget, every due code
	// fits.
	Budget Budget
	// AppTypes are the types of the configured apps, by app id. An app it
	// names a Mini Program makes no temporary code: its qrcode/create
	// budget, or its lack of one, does not keep a plan reading due codes
	// (see Plan.BudgetsSpent). Default nil: any app of the catalog may have
	// temporary codes.
	AppTypes map[string]wxqr.AppType
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Planner plans and queues regenerations. It is safe for concurrent use.
type Planner struct {
	catalog   Catalog
	client    Enqueuer
	inspector *asynq.Inspector
	budget    Budget
	appTypes  map[string]wxqr.AppType
	now       func() time.Time
}

// NewPlanner returns a planner configured by cfg, with defaults applied. It
// fails if Catalog or Client is missing.
func NewPlanner(cfg PlannerConfig) (*Planner, error) {
	switch {
	case cfg.Catalog == nil:
		return nil, errors.New("regen: new planner: Catalog is required")
	case cfg.Client == nil:
		return nil, errors.New("regen: new planner: Client is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Planner{catalog: cfg.Catalog, client: cfg.Client, inspector: cfg.Inspector, budget: cfg.Budget, appTypes: cfg.AppTypes, now: cfg.Now}, nil
}

// Options select the codes a plan covers.
type Options struct {
	// Within: codes that expire within this long from now are due, and so are
	// codes already expired. Required, positive.
	Within time.Duration
	// Campaign limits the plan to the codes of one campaign. Default "":
	// every code.
	Campaign string
}

// Outcome is what a plan does with a due code.
type Outcome string

// The outcomes of a due code.
const (
	// ToQueue: the code fits in its app's budget and is not queued yet (a
	// dry run leaves it so).
	ToQueue Outcome = "to queue"
	// Queued: its generate task was queued.
	Queued Outcome = "queued"
	// AlreadyQueued: the generate task of that generation existed already
	// (an earlier scan queued it); nothing was queued twice.
	AlreadyQueued Outcome = "already queued"
	// Deferred: the app's daily budget is spent before this code; the next
	// scan finds it again.
	Deferred Outcome = "deferred"
)

// Item is one due code.
type Item struct {
	ID        string
	Spec      wxqr.Spec
	Campaign  string
	ExpiresAt time.Time
	// ExpireSeconds is the code's validity, which its next generation gets
	// too.
	ExpireSeconds int
	// Generation is the generation a regeneration makes: the current one + 1.
	Generation int
	Outcome    Outcome
}

// payload returns the request for the item's next generation.
func (it *Item) payload() tasks.GeneratePayload {
	return tasks.GeneratePayload{
		ID:            it.ID,
		Spec:          it.Spec,
		Campaign:      it.Campaign,
		ExpireSeconds: it.ExpireSeconds,
		Generation:    it.Generation,
	}
}

// Plan is the codes due at one moment, soonest expiry first, each with its
// outcome.
type Plan struct {
	// At is when the plan was made.
	At time.Time
	// Before is the end of the horizon: codes expiring before it are due.
	Before time.Time
	// Campaign is the campaign planned; "" for every code.
	Campaign string
	// Items are the due codes, soonest expiry first.
	Items []Item
	// BudgetLeft is, for the apps with due codes and a daily budget, how
	// many calls they could still make when the plan was made. Apps without
	// one are absent.
	BudgetLeft map[string]int64
	// BudgetsSpent says the plan stopped reading due codes once every app
	// that may have temporary codes (every app of the catalog but the Mini
	// Programs of PlannerConfig.AppTypes) had spent its budget: the codes
	// after are deferred too, but neither read nor in Items, so that a scan
	// never reads more than the budgets allow (plus a page). Never set while
	// such an app has no budget.
	BudgetsSpent bool

	queued bool // Queue ran over the plan
}

// Plan lists the codes that expire within opts.Within, soonest first, and
// decides which fit in their app's remaining daily budget. It queues
// nothing (see Queue). It fails if opts.Within is not positive, or the
// catalog or the budget cannot be read.
//
// The budget left is read as it stands: tasks already waiting in the
// queues will spend from it too, so with a large campaign queued a plan may
// queue more than the day still allows. Nothing is lost: the generator never
// spends beyond the budget, and what it cannot make waits in its paused
// queue for the daily reset.
func (p *Planner) Plan(ctx context.Context, opts Options) (*Plan, error) {
	if opts.Within <= 0 {
		return nil, fmt.Errorf("regen: plan: the horizon must be positive, got %s", opts.Within)
	}
	now := p.now()
	plan := &Plan{At: now, Before: now.Add(opts.Within), Campaign: opts.Campaign, BudgetLeft: map[string]int64{}}
	// What each app's budget has left after the codes planned so far; apps
	// without a budget are absent.
	left, unlimited, err := p.budgetsLeft(ctx)
	if err != nil {
		return nil, err
	}
	retired := map[string]bool{} // by campaign, looked up once each
	for cursor, more := (catalog.ExpiryCursor{}), true; more; {
		var recs []*wxqr.Record
		recs, cursor, more, err = p.catalog.ExpiringPage(ctx, plan.Before, cursor, scanPage)
		if err != nil {
			return nil, fmt.Errorf("regen: plan: %w", err)
		}
		for _, rec := range recs {
			// The catalog leaves retired codes out of its expiry index,
			// but a code retired between its index read and its record
			// read comes back retired.
			if rec.Retired || opts.Campaign != "" && rec.Campaign != opts.Campaign {
				continue
			}
			gone, ok := retired[rec.Campaign]
			if !ok {
				if gone, err = p.catalog.CampaignRetired(ctx, rec.Campaign); err != nil {
					return nil, fmt.Errorf("regen: plan: %w", err)
				}
				retired[rec.Campaign] = gone
			}
			if gone {
				continue
			}
			outcome := ToQueue
			if n, ok := left[rec.AppID]; ok {
				if _, reported := plan.BudgetLeft[rec.AppID]; !reported {
					plan.BudgetLeft[rec.AppID] = n
				}
				if n > 0 {
					left[rec.AppID] = n - 1
				} else {
					outcome = Deferred
				}
			}
			plan.Items = append(plan.Items, Item{
				ID:            rec.ID,
				Spec:          rec.Spec,
				Campaign:      rec.Campaign,
				ExpiresAt:     rec.ExpiresAt,
				ExpireSeconds: validity(rec),
				Generation:    rec.Generation + 1,
				Outcome:       outcome,
			})
		}
		// Once every app has spent its budget, the codes still unread can
		// only be deferred: they are not read at all.
		if more && !unlimited && spent(left) {
			plan.BudgetsSpent = true
			break
		}
	}
	return plan, nil
}

// scanPage is how many due codes a plan reads at a time.
const scanPage = 500

// spent reports whether every budget in left is spent.
func spent(left map[string]int64) bool {
	for _, n := range left {
		if n > 0 {
			return false
		}
	}
	return true
}

// budgetsLeft returns what is left today of each app's budget for
// regenerating temporary codes (qrcode/create), for the apps of the
// catalog that have one, and whether some app has none (and so no limit).
// A Mini Program app (AppTypes) has no temporary code to regenerate: it
// counts neither way, or its budget, never spent on temporary codes, would
// keep every plan reading to the end of the due codes.
func (p *Planner) budgetsLeft(ctx context.Context) (map[string]int64, bool, error) {
	left := map[string]int64{}
	if p.budget == nil {
		return left, true, nil
	}
	apps, err := p.catalog.Apps(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("regen: plan: %w", err)
	}
	unlimited := false
	for _, app := range apps {
		if p.appTypes[app] == wxqr.AppMP {
			continue
		}
		key := tasks.LimitKey(app, wxqr.KindOATemp.API())
		n, err := p.budget.Remaining(ctx, key)
		switch {
		case errors.Is(err, ratelimit.ErrNoBudget):
			unlimited = true
		case err != nil:
			return nil, false, fmt.Errorf("regen: plan: budget of %s: %w", key, err)
		default:
			left[app] = n
		}
	}
	return left, unlimited, nil
}

// validity returns the validity in seconds to make rec's next generation
// with: the one it was made with. A record that does not say is given the
// lifetime it had, never 0, which WeChat takes for 60 seconds.
func validity(rec *wxqr.Record) int {
	if rec.ExpireSeconds > 0 {
		return rec.ExpireSeconds
	}
	if life := int(rec.ExpiresAt.Sub(rec.CreatedAt) / time.Second); life > 0 {
		return min(life, int(wxqr.MaxTempExpire/time.Second))
	}
	return int(wxqr.DefaultTempExpire / time.Second)
}

// Queue queues the generate task of every item that is to be queued, in
// order (tasks.Enqueue), and records each outcome in the plan: Queued, or
// AlreadyQueued when that generation's task exists already (one that failed
// for good is replaced, and Queued, when the planner has an Inspector). It
// stops at the first other error
// and returns it with the report so far; the items not reached stay
// ToQueue, and queueing the plan again (or scanning again) is safe.
func (p *Planner) Queue(ctx context.Context, plan *Plan) (*Report, error) {
	plan.queued = true
	for i := range plan.Items {
		it := &plan.Items[i]
		if it.Outcome != ToQueue {
			continue
		}
		enqueued, err := tasks.Enqueue(ctx, p.client, p.inspector, it.payload())
		if err != nil {
			return plan.Report(), fmt.Errorf("regen: queue %s generation %d: %w", it.ID, it.Generation, err)
		}
		it.Outcome = Queued
		if enqueued == tasks.AlreadyQueued {
			it.Outcome = AlreadyQueued
		}
	}
	return plan.Report(), nil
}

// Report summarises the plan per app: what a dry run would do, or, after
// Queue, what was done.
func (plan *Plan) Report() *Report {
	r := &Report{At: plan.At, Before: plan.Before, Campaign: plan.Campaign, DryRun: !plan.queued, BudgetsSpent: plan.BudgetsSpent}
	byApp := map[string]*AppReport{}
	for _, it := range plan.Items {
		a := byApp[it.Spec.AppID]
		if a == nil {
			a = &AppReport{AppID: it.Spec.AppID}
			if left, ok := plan.BudgetLeft[it.Spec.AppID]; ok {
				a.BudgetLeft = &left
			}
			byApp[it.Spec.AppID] = a
		}
		a.Due++
		switch it.Outcome {
		case ToQueue:
			a.ToQueue++
		case Queued:
			a.Queued++
		case AlreadyQueued:
			a.AlreadyQueued++
		case Deferred:
			if a.Deferred == 0 {
				a.SoonestDeferred = it.ExpiresAt // items are soonest first
			}
			a.Deferred++
		}
	}
	for _, a := range byApp {
		r.Apps = append(r.Apps, *a)
	}
	slices.SortFunc(r.Apps, func(a, b AppReport) int { return strings.Compare(a.AppID, b.AppID) })
	return r
}
