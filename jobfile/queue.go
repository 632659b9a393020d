package jobfile

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/internal/fanout"
	"github.com/wxqr/wxqr/storage"
	"github.com/wxqr/wxqr/tasks"
)

// batchSize is how many codes one catalog lookup covers.
const batchSize = 200

// Queuer queues the codes of a checked jobs file from many goroutines and
// counts the outcomes. One Queuer queues one file.
type Queuer struct {
	// Client and Inspector are asynq's, on the queues' Redis. Required.
	Client    *asynq.Client
	Inspector *asynq.Inspector
	// Catalog tells which codes are made, and records the campaign's plan.
	// Required.
	Catalog *catalog.Catalog
	// OpenStore opens the image store, where a renamed code's sidecar is
	// written: at the first rename, so that a run that renames nothing
	// never needs it. Required.
	OpenStore func(context.Context) (storage.Store, error)
	// Now is the time records are judged valid at. Required.
	Now func() time.Time

	storeOnce sync.Once
	store     storage.Store
	storeErr  error

	queued, alreadyQueued, requeued, alreadyGenerated atomic.Int64
	renamed, renameBusy                               atomic.Int64
}

// Counts are what a Queuer did with the codes.
type Counts struct {
	// Queued, AlreadyQueued and Requeued are the codes given to asynq
	// (tasks.Enqueued's outcomes); AlreadyGenerated those the catalog holds
	// made already, which are not queued.
	Queued, AlreadyQueued, Requeued, AlreadyGenerated int64
	// Renamed counts the codes made already whose name the input changed;
	// RenameBusy those left with their old name as a worker held them.
	Renamed, RenameBusy int64
}

// Counts returns the counts so far; safe while Queue runs.
func (q *Queuer) Counts() Counts {
	return Counts{
		Queued: q.queued.Load(), AlreadyQueued: q.alreadyQueued.Load(), Requeued: q.requeued.Load(),
		AlreadyGenerated: q.alreadyGenerated.Load(), Renamed: q.renamed.Load(), RenameBusy: q.renameBusy.Load(),
	}
}

// Done is how many codes have been dealt with so far; safe while Queue
// runs.
func (q *Queuer) Done() int64 {
	return q.queued.Load() + q.alreadyQueued.Load() + q.requeued.Load() + q.alreadyGenerated.Load()
}

// Queue reads src a second time and queues every distinct valid code of
// plan, which Validate made of src with chk, batchSize codes per catalog
// lookup, from concurrency goroutines. It empties plan. It stops at the
// first error; what it queued by then stays queued, and queueing the file
// again queues the rest.
func (q *Queuer) Queue(ctx context.Context, src Source, chk *Checker, plan *Plan, concurrency int) error {
	seen := plan.seen
	return fanout.Run(ctx, concurrency, func(ctx context.Context, send func([]tasks.GeneratePayload) error) error {
		batch := make([]tasks.GeneratePayload, 0, batchSize)
		err := src.Each(ctx, func(_ int, r *Row) error {
			payload, errs := chk.Check(r)
			if len(errs) > 0 {
				return nil // listed by Validate
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
func (q *Queuer) queueBatch(ctx context.Context, batch []tasks.GeneratePayload) error {
	ids := make([]string, len(batch))
	for i, p := range batch {
		ids[i] = p.ID
	}
	recs, err := q.Catalog.GetMany(ctx, ids)
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
		if err := q.Catalog.Plan(ctx, campaign, ids...); err != nil {
			return err
		}
	}
	now := q.Now()
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
		enqueued, err := tasks.Enqueue(ctx, q.Client, q.Inspector, p)
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
func (q *Queuer) rename(ctx context.Context, id, name string) error {
	q.storeOnce.Do(func() { q.store, q.storeErr = q.OpenStore(ctx) })
	if q.storeErr != nil {
		return fmt.Errorf("open the image store to rename codes: %w", q.storeErr)
	}
	err := q.Catalog.Rename(ctx, q.store, id, name)
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
