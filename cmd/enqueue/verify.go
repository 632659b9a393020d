package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"

	"github.com/hibiken/asynq"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/internal/fanout"
	"github.com/wxqr/wxqr/storage"
	"github.com/wxqr/wxqr/tasks"
)

const verifyUsage = `Usage: enqueue verify [--campaign NAME] [--repair]

Checks the stored image of every code in the catalog (WXQR_STORAGE): that
it is there, that its size and sha256 are those the catalog recorded, and
that it is one complete JPEG or PNG of the width the code asked for.

Lists each broken code (its key in the bucket and what is wrong), then, per
campaign, the codes checked, broken, and retired (retired codes are not
checked), and the totals.

With --repair, queues a repair of each broken code. The worker checks the
object again and, if it is still broken, fetches the image again with the
recorded ticket (no quota) for a permanent or unexpired temporary code,
makes an expired temporary code anew, and asks WeChat again for a Mini
Program code only when nothing usable is left. A repair already queued is
not queued twice: running this again is safe.

  --campaign NAME  only this campaign (default: every code)
  --repair         queue a repair of each broken code

A progress bar shows on a terminal; otherwise progress is logged every 10 s.

Examples:
  enqueue verify
  enqueue verify --campaign spring --repair

Exit status: 0 every image is whole; 1 a code is broken (even when its repair
was queued), or the check failed; 2 bad usage or configuration.
`

// verifyConcurrency is how many objects verify reads at once: enough to hide
// the latency of a bucket, few enough to hold a handful of images in memory.
const verifyConcurrency = 8

func runVerify(ctx context.Context, c *cli, args []string) error {
	var campaign string
	var repair bool
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.StringVar(&campaign, "campaign", "", "")
	fs.BoolVar(&repair, "repair", false, "")
	if err := c.parse(fs, verifyUsage, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return inputErrorf("verify takes no arguments (run with -h for usage)")
	}
	cat, inspector, _, err := c.services(ctx)
	if err != nil {
		return err
	}
	if campaign != "" {
		campaigns, err := cat.Campaigns(ctx)
		if err != nil {
			return err
		}
		if !slices.Contains(campaigns, campaign) {
			return inputErrorf("--campaign %s: no code of that campaign in the catalog", campaign)
		}
	}
	store, err := c.cfg.Storage.Open(ctx)
	if err != nil {
		return err
	}
	total, err := cat.Count(ctx, campaign)
	if err != nil {
		return err
	}

	v := &verifier{store: store, tallies: map[string]*verifyTally{}}
	stopProgress := c.showProgress("verifying", v.visited.Load, total)
	err = v.run(ctx, cat, campaign)
	stopProgress()
	if err != nil {
		return err
	}
	if err := v.print(c.stdout); err != nil {
		return err
	}
	sum := v.total()
	if repair && sum.broken > 0 {
		r := &repairer{client: asynq.NewClientFromRedisClient(c.rdb), inspector: inspector, outcomes: map[tasks.Enqueued]int{}}
		err := r.queue(ctx, v.broken)
		// What an interrupted run queued is shown too; running it again
		// queues the rest.
		fmt.Fprintln(c.stdout)
		if perr := printSummary(c.stdout, []summaryLine{
			{"repairs queued", int64(r.outcomes[tasks.Queued])},
			{"repairs already queued", int64(r.outcomes[tasks.AlreadyQueued])},
			{"failed before, queued again", int64(r.outcomes[tasks.Requeued])},
		}); err == nil {
			err = perr
		}
		if err != nil {
			return err
		}
	}
	if sum.broken > 0 {
		return fmt.Errorf("%d of %d codes checked are broken (listed above)", sum.broken, sum.checked)
	}
	return nil
}

// brokenCode is a code whose stored image is not what its record says.
type brokenCode struct {
	rec     *wxqr.Record
	key     string // where the image is, the store's prefix included
	problem string
}

// verifyTally counts the codes of one campaign.
type verifyTally struct{ checked, broken, retired int }

// verifier checks the records of the catalog against their stored images,
// from verifyConcurrency goroutines.
type verifier struct {
	store   storage.Store
	visited atomic.Int64 // records dealt with, retired ones included

	mu      sync.Mutex
	tallies map[string]*verifyTally // by campaign
	broken  []brokenCode
}

// run checks every record of campaign ("" = all). It stops at the first
// error: a store that cannot be read says nothing about the images in it.
func (v *verifier) run(ctx context.Context, cat *catalog.Catalog, campaign string) error {
	return fanout.Run(ctx, verifyConcurrency, func(ctx context.Context, send func(*wxqr.Record) error) error {
		return cat.Each(ctx, campaign, func(rec *wxqr.Record) error {
			if rec.Retired {
				v.count(rec, "", true)
				return nil
			}
			return send(rec)
		})
	}, v.check)
}

// check verifies one record and counts the result.
func (v *verifier) check(ctx context.Context, rec *wxqr.Record) error {
	problem, err := imageProblem(ctx, v.store, rec)
	if err != nil {
		return fmt.Errorf("verify %s: %w", rec.ID, err)
	}
	v.count(rec, problem, false)
	return nil
}

func (v *verifier) count(rec *wxqr.Record, problem string, retired bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	t := v.tallies[rec.Campaign]
	if t == nil {
		t = &verifyTally{}
		v.tallies[rec.Campaign] = t
	}
	switch {
	case retired:
		t.retired++
	case problem != "":
		t.checked++
		t.broken++
		_, key := v.store.Location(rec.Spec.Key())
		v.broken = append(v.broken, brokenCode{rec: rec, key: key, problem: problem})
	default:
		t.checked++
	}
	v.visited.Add(1)
}

// imageProblem says what is wrong with the stored image of rec, or "" when
// nothing is. The error is a failure to read the store, which says nothing
// about the image.
func imageProblem(ctx context.Context, store storage.Store, rec *wxqr.Record) (string, error) {
	var bad *catalog.ObjectError
	err := catalog.CheckObject(ctx, store, rec)
	switch {
	case errors.As(err, &bad):
		return bad.Problem, nil
	case err != nil:
		return "", err
	}
	return "", nil
}

// total adds up the tallies of every campaign.
func (v *verifier) total() verifyTally {
	var sum verifyTally
	for _, t := range v.tallies {
		sum.checked += t.checked
		sum.broken += t.broken
		sum.retired += t.retired
	}
	return sum
}

// print lists the broken codes by key, then the counts per campaign and the
// totals.
func (v *verifier) print(w io.Writer) error {
	slices.SortFunc(v.broken, func(a, b brokenCode) int { return cmp.Compare(a.key, b.key) })
	var b strings.Builder
	for _, bc := range v.broken {
		fmt.Fprintf(&b, "%s: %s\n", bc.key, bc.problem)
	}
	if len(v.broken) > 0 {
		b.WriteString("\n")
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CAMPAIGN\tCHECKED\tBROKEN\tRETIRED")
	for _, name := range slices.Sorted(maps.Keys(v.tallies)) {
		t := v.tallies[name]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\n", orDash(name), t.checked, t.broken, t.retired)
	}
	t := v.total()
	fmt.Fprintf(tw, "total\t%d\t%d\t%d\n", t.checked, t.broken, t.retired)
	return tw.Flush()
}

// repairer queues repair tasks and counts the outcomes.
type repairer struct {
	client    *asynq.Client
	inspector *asynq.Inspector

	outcomes map[tasks.Enqueued]int // repairs, by what queueing did
}

// queue queues a repair of each broken code: one task per code, whose id
// derives from the code, so a repair already on its way is not queued
// twice, and one that failed for good (archived) is queued afresh.
func (r *repairer) queue(ctx context.Context, broken []brokenCode) error {
	for _, bc := range broken {
		p := tasks.GeneratePayload{ID: bc.rec.ID, Spec: bc.rec.Spec, Campaign: bc.rec.Campaign, Repair: true}
		if bc.rec.Spec.Kind.Temporary() {
			p.ExpireSeconds = bc.rec.ExpireSeconds
		}
		enqueued, err := tasks.Enqueue(ctx, r.client, r.inspector, p)
		if err != nil {
			return fmt.Errorf("queue the repair of %s: %w", bc.key, err)
		}
		r.outcomes[enqueued]++
	}
	return nil
}
