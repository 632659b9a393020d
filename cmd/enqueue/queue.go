package main

import (
	"context"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/jobfile"
)

// logEvery is how often progress is logged when stderr is not a terminal.
const logEvery = 10 * time.Second

// runQueue checks the whole input, weighs it against the quotas, then
// queues its codes: nothing is queued unless every row is valid (or
// --skip-invalid says to queue the valid ones) and the campaign fits in the
// lifetime quotas (or --allow-partial says to queue it anyway).
func runQueue(ctx context.Context, c *cli, args []string) error {
	f, args, err := c.parseQueueFlags(args)
	if err != nil {
		return err
	}
	src, cleanup, err := c.source(f, args)
	if err != nil {
		return err
	}
	defer cleanup()
	chk, err := c.checker(f.def)
	if err != nil {
		return err
	}
	plan, err := validate(ctx, src, chk, c.stderr)
	if err != nil {
		return err
	}
	if plan.Invalid > 0 && !f.skipInvalid {
		return inputErrorf("%d of %d rows of %s are invalid; nothing queued (--skip-invalid queues the valid rows)",
			plan.Invalid, plan.Rows, src.Name())
	}
	if f.dryRun {
		if err := printPlan(c.stdout, plan); err != nil {
			return err
		}
		fmt.Fprintln(c.stdout)
		return c.weighQuotas(ctx, plan, f.partialOK)
	}

	if err := c.weighQuotas(ctx, plan, f.partialOK); err != nil {
		return err
	}
	fmt.Fprintln(c.stdout)
	rdb, err := c.redis(ctx)
	if err != nil {
		return err
	}
	q := &jobfile.Queuer{
		Client:    asynq.NewClientFromRedisClient(rdb),
		Inspector: asynq.NewInspectorFromRedisClient(rdb),
		Catalog:   catalog.New(rdb, c.cfg.Redis.KeyPrefix()),
		OpenStore: c.cfg.Storage.Open,
		Now:       c.now,
	}
	stopProgress := c.showProgress("queueing", q.Done, int64(plan.Unique()))
	err = q.Queue(ctx, src, chk, plan, f.concurrency)
	stopProgress()
	// The summary also shows what an interrupted run did; running it again
	// queues the rest.
	n := q.Counts()
	if n.RenameBusy > 0 {
		fmt.Fprintf(c.stderr, "%d codes were being made and kept their old names; run again to rename them\n", n.RenameBusy)
	}
	if serr := printSummary(c.stdout, []summaryLine{
		{"queued", n.Queued},
		{"already queued", n.AlreadyQueued},
		{"failed before, queued again", n.Requeued},
		{"already generated", n.AlreadyGenerated},
		{"of which renamed", n.Renamed},
		{"duplicate in file", int64(plan.Duplicates)},
		{"invalid", int64(plan.Invalid)},
	}); err == nil {
		err = serr
	}
	return err
}

// checker returns the checker of the rows, with the configured apps and the
// flags' defaults.
func (c *cli) checker(def jobfile.Defaults) (*jobfile.Checker, error) {
	cfg, err := c.config()
	if err != nil {
		return nil, err
	}
	if len(cfg.Apps) == 0 {
		return nil, inputErrorf("no apps configured: set WXQR_APPS to appid:secret:kind,... or @apps.json")
	}
	chk := jobfile.NewChecker(cfg.Apps, def)
	if _, ok := chk.Apps[def.AppID]; def.AppID != "" && !ok {
		return nil, inputErrorf("--app %s is not configured in WXQR_APPS", def.AppID)
	}
	return chk, nil
}
