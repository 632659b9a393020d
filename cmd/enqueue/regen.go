package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/internal/config"
	"github.com/wxqr/wxqr/internal/fleetclock"
	"github.com/wxqr/wxqr/jobfile"
	"github.com/wxqr/wxqr/ratelimit"
	"github.com/wxqr/wxqr/regen"
)

const regenUsage = `Usage: enqueue regen [--within D] [--campaign NAME] [--dry-run]
       enqueue regen --last

Regenerates now the temporary codes (oa_temp) that expire within D, or have
expired, soonest first: for each it queues the task of its next
generation, which makes the code again with the same scene and validity and
stores it at the same key, so pages that embed the image keep working. The
workers do the same every night (WXQR_REGEN_SCHEDULE). Retired codes are
never regenerated.

Each app regenerates at most what is left today of its daily budget of
qrcode/create (WXQR_DAILY_BUDGETS, read as the workers read it); the other
codes are deferred, listed, and found again by the next scan. A code already
queued for its next generation is not queued twice: running this again is
safe.

Lists every due code (soonest first) with what was done with it, then a
line per app and the totals.

  --within D       codes that expire within D: 72h, 3d, 1d12h (default 48h)
  --campaign NAME  only this campaign (default: every code)
  --dry-run        list what would be queued, within the budget; queue nothing
                   (a code queued by an earlier scan is listed as to queue)
  --last           show the report of the last scan (nightly or by hand)

Examples:
  enqueue regen --within 72h --dry-run
  enqueue regen --within 3d --campaign spring
  enqueue regen --last
`

func runRegen(ctx context.Context, c *cli, args []string) error {
	f, err := parseRegenFlags(c, args)
	if err != nil {
		return err
	}
	budgets, err := config.LoadDailyBudgets(c.getenv)
	if err != nil {
		return &inputError{err}
	}
	rdb, err := c.redis(ctx)
	if err != nil {
		return err
	}
	if f.last {
		return showLastRegen(ctx, c.stdout, rdb)
	}
	return regenerate(ctx, c, rdb, budgets, f)
}

// regenFlags are regen's flags, checked.
type regenFlags struct {
	horizon      time.Duration
	campaign     string
	dryRun, last bool
}

func parseRegenFlags(c *cli, args []string) (regenFlags, error) {
	var f regenFlags
	var within string
	fs := flag.NewFlagSet("regen", flag.ContinueOnError)
	fs.StringVar(&within, "within", "", "")
	fs.StringVar(&f.campaign, "campaign", "", "")
	fs.BoolVar(&f.dryRun, "dry-run", false, "")
	fs.BoolVar(&f.last, "last", false, "")
	if err := c.parse(fs, regenUsage, args); err != nil {
		return f, err
	}
	switch {
	case fs.NArg() > 0:
		return f, inputErrorf("regen takes no arguments (run with -h for usage)")
	case f.last && (within != "" || f.campaign != "" || f.dryRun):
		return f, inputErrorf("--last takes no other flag")
	}
	f.horizon = regen.DefaultHorizon
	if within != "" {
		var err error
		if f.horizon, err = config.ParseDuration(within); err != nil {
			return f, inputErrorf("--within: %v", err)
		}
	}
	return f, nil
}

// showLastRegen prints the report of the last scan, nightly or by hand.
func showLastRegen(ctx context.Context, w io.Writer, rdb redis.UniversalClient) error {
	r, err := regen.LastReport(ctx, rdb)
	if errors.Is(err, regen.ErrNoReport) {
		fmt.Fprintln(w, "no scan has run yet")
		return nil
	}
	if err != nil {
		return err
	}
	return printRegenReport(w, r)
}

// regenerate plans the scan f asks for, queues it unless it is a dry run,
// saves its report and prints the plan and the report.
func regenerate(ctx context.Context, c *cli, rdb redis.UniversalClient, budgets config.PerAppAPI[int64], f regenFlags) error {
	// Days and expiries follow Redis's clock, as in the workers: the budget
	// left today is the one they spend.
	clock, err := fleetclock.New(ctx, rdb, fleetclock.Config{Local: c.now, Logger: c.log})
	if err != nil {
		return err
	}
	planner, err := regen.NewPlanner(regen.PlannerConfig{
		Catalog:   catalog.New(rdb, c.cfg.Redis.KeyPrefix()),
		Client:    asynq.NewClientFromRedisClient(rdb),
		Inspector: asynq.NewInspectorFromRedisClient(rdb),
		Budget:    ratelimit.NewBudget(rdb, ratelimit.BudgetConfig{Limits: budgets.Lookup, Now: clock.Now}),
		AppTypes:  jobfile.AppTypes(c.cfg.Apps),
		Now:       clock.Now,
	})
	if err != nil {
		return err
	}
	plan, err := planner.Plan(ctx, regen.Options{Within: f.horizon, Campaign: f.campaign})
	if err != nil {
		return err
	}
	report := plan.Report()
	if !f.dryRun {
		report, err = planner.Queue(ctx, plan)
		if err == nil {
			err = regen.SaveReport(ctx, rdb, report)
		}
	}
	// What an interrupted run did is shown too; running it again queues the
	// rest.
	if perr := printRegenPlan(c.stdout, plan); err == nil {
		err = perr
	}
	if perr := printRegenReport(c.stdout, report); err == nil {
		err = perr
	}
	return err
}

// printRegenPlan lists the due codes, soonest first, with their outcome.
func printRegenPlan(w io.Writer, plan *regen.Plan) error {
	if len(plan.Items) == 0 {
		_, err := fmt.Fprintf(w, "no code expires before %s\n", plan.Before.UTC().Format(time.RFC3339))
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "EXPIRES AT\tAPP\tSCENE\tCAMPAIGN\tGENERATION\tID\tOUTCOME")
	for _, it := range plan.Items {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", it.ExpiresAt.UTC().Format(time.RFC3339),
			it.Spec.AppID, it.Spec.Scene(), orDash(it.Campaign), it.Generation, it.ID, it.Outcome)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w)
	return err
}

// printRegenReport writes a scan's report: a line per app, then the totals.
func printRegenReport(w io.Writer, r *regen.Report) error {
	scan := "by hand"
	if !r.Slot.IsZero() {
		scan = "for the slot of " + r.Slot.UTC().Format(time.RFC3339)
	}
	what := "every campaign"
	if r.Campaign != "" {
		what = "campaign " + r.Campaign
	}
	dry := ""
	if r.DryRun {
		dry = " (dry run: nothing queued)"
	}
	fmt.Fprintf(w, "scan %s at %s, %s, codes expiring before %s%s\n", scan,
		r.At.UTC().Format(time.RFC3339), what, r.Before.UTC().Format(time.RFC3339), dry)
	if len(r.Apps) > 0 {
		queued := "QUEUED"
		if r.DryRun {
			queued = "TO QUEUE"
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "APP\tDUE\t%s\tALREADY QUEUED\tDEFERRED\tBUDGET LEFT\tSOONEST DEFERRED\n", queued)
		for _, a := range r.Apps {
			budget, soonest := "none", "-"
			if a.BudgetLeft != nil {
				budget = strconv.FormatInt(*a.BudgetLeft, 10)
			}
			if !a.SoonestDeferred.IsZero() {
				soonest = a.SoonestDeferred.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%s\n", a.AppID, a.Due, a.Queued+a.ToQueue, a.AlreadyQueued, a.Deferred, budget, soonest)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	t := r.Total()
	lines := []summaryLine{{"due", int64(t.Due)}}
	if r.DryRun {
		lines = append(lines, summaryLine{"to queue (dry run)", int64(t.ToQueue)})
	} else {
		lines = append(lines, summaryLine{"queued", int64(t.Queued)}, summaryLine{"already queued", int64(t.AlreadyQueued)})
	}
	lines = append(lines, summaryLine{"deferred (over budget)", int64(t.Deferred)})
	if err := printSummary(w, lines); err != nil {
		return err
	}
	if t.Deferred > 0 {
		_, err := fmt.Fprintf(w, "the soonest deferred code expires at %s; deferred codes are due again at the next scan (or raise %s)\n",
			t.SoonestDeferred.UTC().Format(time.RFC3339), config.EnvDailyBudgets)
		return err
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
