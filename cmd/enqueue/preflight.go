package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/internal/appclients"
	"github.com/wxqr/wxqr/internal/config"
	"github.com/wxqr/wxqr/internal/fleetclock"
	"github.com/wxqr/wxqr/jobfile"
	"github.com/wxqr/wxqr/preflight"
	"github.com/wxqr/wxqr/ratelimit"
)

// weighQuotas is the pre-flight of p's codes: it prints what they would
// spend of each quota, then refuses a campaign that does not fit in a
// lifetime quota (an inputError: nothing is queued) unless allowPartial,
// which queues it anyway and says so. It must run before the second pass,
// which empties p.
func (c *cli) weighQuotas(ctx context.Context, p *jobfile.Plan, allowPartial bool) error {
	checker, err := c.quotaChecker(ctx)
	if err != nil {
		return err
	}
	report, err := checker.Check(ctx, p.Distinct())
	if err != nil {
		return fmt.Errorf("pre-flight: %w", err)
	}
	if err := printPreflight(c.stdout, report); err != nil {
		return err
	}
	over := report.Over()
	switch {
	case len(over) == 0:
		return nil
	case !allowPartial:
		return inputErrorf("the campaign does not fit in the lifetime quota: %s; nothing queued "+
			"(--allow-partial queues it anyway: what fits is made, the rest waits in its paused queue)", overText(over))
	}
	fmt.Fprintf(c.stderr, "--allow-partial: queueing a campaign that does not fit in the lifetime quota: %s; "+
		"what fits is made, the rest waits in its queue, paused by 45029, until the quota allows (enqueue resume)\n", overText(over))
	return nil
}

// overText names each class that does not fit, with its numbers.
func overText(over []preflight.Class) string {
	parts := make([]string, len(over))
	for i, o := range over {
		parts[i] = fmt.Sprintf("%s %s needs %d new codes, %d remain (cap %d, %d made)",
			o.AppID, o.Class, o.Needed, o.Lifetime.Remaining(), o.Lifetime.Cap, o.Lifetime.Used)
	}
	return strings.Join(parts, "; ")
}

// quotaChecker returns the pre-flight over the catalog, the lifetime caps,
// the daily budgets (counted on Redis's clock, as the workers count them)
// and a WeChat client per app to ask for its daily quotas.
func (c *cli) quotaChecker(ctx context.Context) (*preflight.Checker, error) {
	cfg, err := c.config()
	if err != nil {
		return nil, err
	}
	caps, err := c.lifetimeQuotas()
	if err != nil {
		return nil, err
	}
	budgets, err := config.LoadDailyBudgets(c.getenv)
	if err != nil {
		return nil, &inputError{err}
	}
	rdb, err := c.redis(ctx)
	if err != nil {
		return nil, err
	}
	clock, err := fleetclock.New(ctx, rdb, fleetclock.Config{Local: c.now, Logger: c.log})
	if err != nil {
		return nil, err
	}
	clients, err := appclients.New(cfg, rdb, appclients.Options{Logger: c.log})
	if err != nil {
		return nil, &inputError{err}
	}
	quotas := make(map[string]preflight.QuotaAsker, len(clients))
	for id, client := range clients {
		quotas[id] = client
	}
	return preflight.New(preflight.Config{
		Catalog:      catalog.New(rdb, c.cfg.Redis.KeyPrefix()),
		LifetimeCaps: caps.Cap,
		Budgets:      ratelimit.NewBudget(rdb, ratelimit.BudgetConfig{Limits: budgets.Lookup, Now: clock.Now}),
		Quotas:       quotas,
		Now:          c.now,
	})
}

// lifetimeQuotas reads WXQR_LIFETIME_QUOTAS.
func (c *cli) lifetimeQuotas() (config.LifetimeQuotas, error) {
	caps, err := config.LoadLifetimeQuotas(c.getenv)
	if err != nil {
		return caps, &inputError{err}
	}
	return caps, nil
}

// printPreflight writes the pre-flight's table: per app × class, the codes,
// what they need (new lifetime slots for a class with a lifetime quota,
// calls for the others), what remains of the lifetime quota and of today's
// quotas, and the days the calls take; then why a daily quota is unknown.
func printPreflight(w io.Writer, r *preflight.Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "APP\tCLASS\tCODES\tNEEDED\tLIFETIME LEFT\tTODAY LEFT\tDAYS")
	for _, c := range r.Classes {
		needed, lifetime := c.Calls, "-"
		if c.Lifetime != nil {
			needed, lifetime = c.Needed, fmt.Sprintf("%d of %d", c.Lifetime.Remaining(), c.Lifetime.Cap)
			if !c.Fits() {
				lifetime += " (too few)"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\n", c.AppID, c.Class, c.Codes, needed, lifetime,
			r.TodayLeft(c), preflight.DaysText(r.Days(c.AppID, c.Class)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, d := range r.Daily {
		if d.Unknown != nil && !errors.Is(d.Unknown, preflight.ErrNotAsked) {
			fmt.Fprintf(w, "%s %s: WeChat's daily quota is unknown (%v); using wxqr's own count\n", d.AppID, d.API, d.Unknown)
		}
	}
	return nil
}
