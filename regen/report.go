package regen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Report says what a scan did, or for a dry run would do, per app.
type Report struct {
	// Slot is the slot of the schedule the scan ran for; zero for a scan
	// started by hand.
	Slot time.Time `json:"slot,omitzero"`
	// At is when the scan planned.
	At time.Time `json:"at"`
	// Before is the end of its horizon: codes expiring before it were due.
	Before   time.Time `json:"before"`
	Campaign string    `json:"campaign,omitempty"`
	DryRun   bool      `json:"dry_run,omitempty"`
	// BudgetsSpent: the budget of every app that may have temporary codes
	// was spent before the scan read all
	// the due codes; those it did not read are deferred but not counted
	// (see Plan.BudgetsSpent).
	BudgetsSpent bool `json:"budgets_spent,omitempty"`
	// Apps are the apps with due codes, by app id.
	Apps []AppReport `json:"apps"`
}

// AppReport is what a scan did with the due codes of one app.
type AppReport struct {
	AppID string `json:"app_id"`
	// Due counts every due code: the sum of the counts below.
	Due           int `json:"due"`
	ToQueue       int `json:"to_queue,omitempty"` // dry run: would be queued
	Queued        int `json:"queued"`
	AlreadyQueued int `json:"already_queued"`
	Deferred      int `json:"deferred"`
	// BudgetLeft is how many calls the app's daily budget allowed when the
	// scan planned; nil when the app has no budget.
	BudgetLeft *int64 `json:"budget_left,omitempty"`
	// SoonestDeferred is when the first deferred code expires; zero when
	// nothing was deferred.
	SoonestDeferred time.Time `json:"soonest_deferred,omitzero"`
}

// Total sums the apps' counts. Its AppID is empty, its BudgetLeft nil, and
// its SoonestDeferred the soonest of all.
func (r *Report) Total() AppReport {
	var t AppReport
	for _, a := range r.Apps {
		t.Due += a.Due
		t.ToQueue += a.ToQueue
		t.Queued += a.Queued
		t.AlreadyQueued += a.AlreadyQueued
		t.Deferred += a.Deferred
		if !a.SoonestDeferred.IsZero() && (t.SoonestDeferred.IsZero() || a.SoonestDeferred.Before(t.SoonestDeferred)) {
			t.SoonestDeferred = a.SoonestDeferred
		}
	}
	return t
}

// ReportKey is the Redis key of the last scan's report.
const ReportKey = "wxqr:regen:report"

// ErrNoReport is returned (wrapped) by LastReport when no scan has reported
// yet.
var ErrNoReport = errors.New("regen: no scan has reported yet")

// SaveReport keeps r as the last scan's report, for operators.
func SaveReport(ctx context.Context, rdb redis.Cmdable, r *Report) error {
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("regen: save report: %w", err)
	}
	if err := rdb.Set(ctx, ReportKey, data, 0).Err(); err != nil {
		return fmt.Errorf("regen: save report: %w", err)
	}
	return nil
}

// LastReport returns the last report SaveReport kept, or an error wrapping
// ErrNoReport.
func LastReport(ctx context.Context, rdb redis.Cmdable) (*Report, error) {
	data, err := rdb.Get(ctx, ReportKey).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("regen: last report: %w", ErrNoReport)
	}
	if err != nil {
		return nil, fmt.Errorf("regen: last report: %w", err)
	}
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("regen: last report: %w", err)
	}
	return &r, nil
}
