package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/storage"
	"github.com/wxqr/wxqr/tasks"
)

// Queueing defaults.
const (
	// batchSize is how many codes one catalog lookup covers.
	batchSize = 200
	// logEvery is how often progress is logged when stderr is not a terminal.
	logEvery = 10 * time.Second
)

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
	if plan.invalid > 0 && !f.skipInvalid {
		return inputErrorf("%d of %d rows of %s are invalid; nothing queued (--skip-invalid queues the valid rows)",
			plan.invalid, plan.rows, src.name())
	}
	if f.dryRun {
		if err := plan.print(c.stdout); err != nil {
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
	q := &queuer{
		client:    asynq.NewClientFromRedisClient(rdb),
		inspector: asynq.NewInspectorFromRedisClient(rdb),
		catalog:   catalog.New(rdb, ""),
		openStore: c.cfg.Storage.Open,
		now:       c.now,
	}
	stopProgress := c.showProgress("queueing", q.done, int64(plan.unique()))
	err = q.queue(ctx, src, chk, plan.seen, f.concurrency)
	stopProgress()
	// The summary also shows what an interrupted run did; running it again
	// queues the rest.
	if n := q.renameBusy.Load(); n > 0 {
		fmt.Fprintf(c.stderr, "%d codes were being made and kept their old names; run again to rename them\n", n)
	}
	if serr := printSummary(c.stdout, []summaryLine{
		{"queued", q.queued.Load()},
		{"already queued", q.alreadyQueued.Load()},
		{"failed before, queued again", q.requeued.Load()},
		{"already generated", q.alreadyGenerated.Load()},
		{"of which renamed", q.renamed.Load()},
		{"duplicate in file", int64(plan.duplicates)},
		{"invalid", int64(plan.invalid)},
	}); err == nil {
		err = serr
	}
	return err
}

// checker returns the checker of the rows, with the configured apps and the
// flags' defaults.
func (c *cli) checker(def defaults) (*checker, error) {
	cfg, err := c.config()
	if err != nil {
		return nil, err
	}
	if len(cfg.Apps) == 0 {
		return nil, inputErrorf("no apps configured: set WXQR_APPS to appid:secret:kind,... or @apps.json")
	}
	chk := &checker{apps: make(map[string]wxqr.AppType, len(cfg.Apps)), def: def}
	for _, app := range cfg.Apps {
		chk.apps[app.AppID] = app.Type
	}
	if _, ok := chk.apps[def.AppID]; def.AppID != "" && !ok {
		return nil, inputErrorf("--app %s is not configured in WXQR_APPS", def.AppID)
	}
	return chk, nil
}

// queuer queues codes from many goroutines and counts the outcomes.
type queuer struct {
	client    *asynq.Client
	inspector *asynq.Inspector
	catalog   *catalog.Catalog
	// openStore opens the image store, where a renamed code's sidecar is
	// written: at the first rename, so that a run that renames nothing
	// never needs it.
	openStore func(context.Context) (storage.Store, error)
	now       func() time.Time

	storeOnce sync.Once
	store     storage.Store
	storeErr  error

	queued, alreadyQueued, requeued, alreadyGenerated atomic.Int64
	// renamed counts the codes made already whose name the input changed;
	// renameBusy those left with their old name as a worker held them.
	renamed, renameBusy atomic.Int64
}

// done is how many codes have been dealt with so far.
func (q *queuer) done() int64 {
	return q.queued.Load() + q.alreadyQueued.Load() + q.requeued.Load() + q.alreadyGenerated.Load()
}

// queue reads src a second time and queues every valid code in seen (which
// it empties), batchSize codes per catalog lookup, from concurrency
// goroutines. It stops at the first error.
func (q *queuer) queue(ctx context.Context, src source, chk *checker, seen map[codeID]uint32, concurrency int) error {
	return fanOut(ctx, concurrency, func(ctx context.Context, send func([]tasks.GeneratePayload) error) error {
		batch := make([]tasks.GeneratePayload, 0, batchSize)
		err := src.each(ctx, func(_ int, r *rawRow) error {
			payload, errs := chk.check(r)
			if len(errs) > 0 {
				return nil // listed by validate
			}
			id := idOf(payload)
			if _, ok := seen[id]; !ok {
				return nil // a duplicate of a code already sent
			}
			delete(seen, id)
			batch = append(batch, payload)
			if len(batch) < batchSize {
				return nil
			}
			full := batch
			batch = make([]tasks.GeneratePayload, 0, batchSize)
			return send(full)
		})
		if err == nil && len(batch) > 0 {
			err = send(batch)
		}
		return err
	}, q.queueBatch)
}

// queueBatch skips the codes the catalog already holds (still valid, or
// retired: the workers would not make those again) and queues the rest.
func (q *queuer) queueBatch(ctx context.Context, batch []tasks.GeneratePayload) error {
	ids := make([]string, len(batch))
	for i, p := range batch {
		ids[i] = p.ID
	}
	recs, err := q.catalog.GetMany(ctx, ids)
	if err != nil {
		return fmt.Errorf("look up codes in the catalog: %w", err)
	}
	// The campaign's plan lists the codes it waits for: what is queued here,
	// and what it made already. A code another campaign made is not this
	// campaign's to count.
	planned := map[string][]string{}
	for i, p := range batch {
		if rec := recs[i]; rec == nil || rec.Campaign == p.Campaign {
			planned[p.Campaign] = append(planned[p.Campaign], ids[i])
		}
	}
	for campaign, ids := range planned {
		if err := q.catalog.Plan(ctx, campaign, ids...); err != nil {
			return err
		}
	}
	now := q.now()
	for i, p := range batch {
		if rec := recs[i]; rec != nil && rec.Done(now) {
			q.alreadyGenerated.Add(1)
			if p.Name != "" && p.Name != rec.Name {
				if err := q.rename(ctx, p.ID, p.Name); err != nil {
					return err
				}
			}
			continue
		}
		enqueued, err := tasks.Enqueue(ctx, q.client, q.inspector, p)
		if err != nil {
			return fmt.Errorf("queue code %s: %w", ids[i], err)
		}
		switch enqueued {
		case tasks.Queued:
			q.queued.Add(1)
		case tasks.AlreadyQueued:
			q.alreadyQueued.Add(1)
		case tasks.Requeued:
			q.requeued.Add(1)
		}
	}
	return nil
}

// rename gives the code id, made already, the name the input gives it: the
// record takes the latest name (see wxqr.Request.Name). A code a worker
// holds right now keeps its old name, counted in renameBusy.
func (q *queuer) rename(ctx context.Context, id, name string) error {
	q.storeOnce.Do(func() { q.store, q.storeErr = q.openStore(ctx) })
	if q.storeErr != nil {
		return fmt.Errorf("open the image store to rename codes: %w", q.storeErr)
	}
	err := q.catalog.Rename(ctx, q.store, id, name)
	switch {
	case errors.Is(err, catalog.ErrLocked):
		q.renameBusy.Add(1)
		return nil
	case err != nil:
		return fmt.Errorf("rename code %s: %w", id, err)
	}
	q.renamed.Add(1)
	return nil
}
