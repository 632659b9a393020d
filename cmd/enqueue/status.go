package main

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/scans"
	"github.com/wxqr/wxqr/tasks"
)

const statusUsage = `Usage: enqueue status

Shows, per campaign: the codes it asked for (planned), generated (retired
included), still queued, failed for good, retired, expired, and expiring
within 24 hours; then what its codes brought: scans, net follows (new
follows less unfollows) and, once a Mini Program reported one, launches.
Then, per app and quota class (one asynq queue each): tasks
queued (pending, scheduled, retrying or running), failed (archived), whether
the queue is paused and why, and the lifetime quota used (of its cap in
WXQR_LIFETIME_QUOTAS, 100,000 by default; permanent OA codes and
createwxaqrcode + getwxacode codes only).

Apps come from WXQR_APPS and from the queues that exist in Redis.

Example:
  enqueue status
`

// expiringWindow is what status calls expiring soon.
const expiringWindow = 24 * time.Hour

func runStatus(ctx context.Context, c *cli, args []string) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	if err := c.parse(fs, statusUsage, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return inputErrorf("status takes no arguments")
	}
	cat, inspector, pauses, err := c.services(ctx)
	if err != nil {
		return err
	}
	sc, err := c.scans(ctx, cat)
	if err != nil {
		return err
	}
	if err := c.campaignStatus(ctx, cat, sc); err != nil {
		return err
	}
	fmt.Fprintln(c.stdout)
	return c.queueStatus(ctx, cat, inspector, pauses)
}

// campaignCounts reads the scan counts of campaigns (a *scans.Store).
type campaignCounts interface {
	Campaigns(ctx context.Context, names []string) ([]scans.Counts, error)
}

func (c *cli) campaignStatus(ctx context.Context, cat *catalog.Catalog, sc campaignCounts) error {
	campaigns, err := cat.Campaigns(ctx)
	if err != nil {
		return err
	}
	counts, err := sc.Campaigns(ctx, campaigns)
	if err != nil {
		return err
	}
	// Launches come from Mini Programs only: no column until one reported.
	showLaunches := slices.ContainsFunc(counts, func(c scans.Counts) bool { return c.Launches != 0 })
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	line := func(cells ...any) {
		if !showLaunches {
			cells = cells[:len(cells)-1]
		}
		for i, cell := range cells {
			if i > 0 {
				fmt.Fprint(tw, "\t")
			}
			fmt.Fprint(tw, cell)
		}
		fmt.Fprintln(tw)
	}
	line("CAMPAIGN", "PLANNED", "GENERATED", "QUEUED", "FAILED", "RETIRED", "EXPIRED", "EXPIRING <24H", "SCANS", "NET FOLLOWS", "LAUNCHES")
	// Every campaign's counters and those of the codes without one, in
	// one round trip: no record is read.
	stats, err := cat.CampaignStatsOf(ctx, append(slices.Clip(campaigns), ""), c.now(), expiringWindow)
	if err != nil {
		return err
	}
	var all catalog.Stats
	for i, s := range stats {
		all.AddCodes(s)
		if i < len(campaigns) {
			line(campaigns[i], s.Planned, s.Generated, s.Queued(), s.Failed, s.Retired, s.Expired, s.ExpiringSoon,
				counts[i].Scans, counts[i].NetFollows(), counts[i].Launches)
		}
	}
	// Every code, campaign or not: the total line. Scans are counted per
	// campaign only.
	line("(all codes)", "-", all.Generated, "-", "-", all.Retired, all.Expired, all.ExpiringSoon, "-", "-", "-")
	return tw.Flush()
}

// queueID is one app × quota class: one asynq queue.
type queueID struct {
	app   string
	class wxqr.QuotaClass
}

func (q queueID) name() string { return tasks.QueueName(q.app, q.class) }

// parseQueueName reads the app and class of a queue; ok is false for queues
// that are not an app's.
func parseQueueName(name string) (queueID, bool) {
	app, class, ok := tasks.ParseQueueName(name)
	return queueID{app, class}, ok
}

func (c *cli) queueStatus(ctx context.Context, cat *catalog.Catalog, inspector *asynq.Inspector, pauses *tasks.Pauses) error {
	caps, err := c.lifetimeQuotas()
	if err != nil {
		return err
	}
	existing, err := inspector.Queues()
	if err != nil {
		return fmt.Errorf("list queues: %w", err)
	}
	states, err := pauses.List(ctx)
	if err != nil {
		return err
	}
	byQueue := map[string]tasks.PauseState{}
	for _, s := range states {
		byQueue[s.Queue] = s
	}

	var ids []queueID
	add := func(id queueID) {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	for _, app := range c.cfg.Apps {
		for _, class := range app.Type.Classes() {
			add(queueID{app.AppID, class})
		}
	}
	for _, name := range existing {
		if id, ok := parseQueueName(name); ok {
			add(id)
		}
	}
	slices.SortFunc(ids, func(a, b queueID) int { return strings.Compare(a.name(), b.name()) })

	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "QUEUE\tAPP\tCLASS\tQUEUED\tFAILED\tQUOTA USED\tPAUSED")
	for _, id := range ids {
		var info asynq.QueueInfo
		if slices.Contains(existing, id.name()) {
			i, err := inspector.GetQueueInfo(id.name())
			if err != nil {
				return fmt.Errorf("inspect queue %s: %w", id.name(), err)
			}
			info = *i
		}
		quota := "-"
		if limit, ok := caps.Cap(id.app, id.class); ok {
			used, err := cat.QuotaUsed(ctx, id.app, id.class)
			if err != nil {
				return err
			}
			quota = fmt.Sprintf("%d/%d", used, limit)
		}
		state, recorded := byQueue[id.name()]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\n", id.name(), id.app, id.class,
			info.Pending+info.Scheduled+info.Retry+info.Active, info.Archived, quota,
			pauseText(info.Paused || recorded, state, recorded))
	}
	return tw.Flush()
}

// pauseText says whether a queue is paused, why, and until when.
func pauseText(paused bool, s tasks.PauseState, recorded bool) string {
	if !paused {
		return "no"
	}
	until := "until resumed"
	if !s.ResumeAt.IsZero() {
		until = "resumes " + s.ResumeAt.UTC().Format(time.RFC3339)
	}
	return "yes: " + pauseReason(s, recorded) + "; " + until
}

// pauseReason says why a queue was paused, and since when.
func pauseReason(s tasks.PauseState, recorded bool) string {
	if !recorded {
		return "no reason recorded (paused by hand?)"
	}
	var parts []string
	if s.Errcode != 0 {
		parts = append(parts, "errcode "+strconv.Itoa(s.Errcode))
	}
	if s.Reason != "" {
		parts = append(parts, s.Reason)
	}
	text := strings.Join(parts, ": ")
	if !s.PausedAt.IsZero() {
		text += " since " + s.PausedAt.UTC().Format(time.RFC3339)
	}
	return strings.TrimSpace(text)
}

const resumeUsage = `Usage: enqueue resume [--app ID] [--class CLASS] [--all]

Resumes queues paused by a quota error (45029 total quota, 45009 daily quota,
or wxqr's own daily budget) or paused by hand in the web UI, and prints how
many tasks wait in each. Pauses on the daily quota end by themselves at the
next reset; resume early only if the quota was raised.

  --app ID       the paused queues of this app
  --class CLASS  the paused queues of this quota class: oa_temp, oa_perm,
                 wxa_limited or wxa_unlimited
  --all          every paused queue

--app and --class together name one queue.

Examples:
  enqueue resume --app wx1234
  enqueue resume --app wx1234 --class oa_perm
  enqueue resume --all
`

func runResume(ctx context.Context, c *cli, args []string) error {
	var app, class string
	var all bool
	fs := flag.NewFlagSet("resume", flag.ContinueOnError)
	fs.StringVar(&app, "app", "", "")
	fs.StringVar(&class, "class", "", "")
	fs.BoolVar(&all, "all", false, "")
	if err := c.parse(fs, resumeUsage, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return inputErrorf("resume takes no arguments (run with -h for usage)")
	case all && (app != "" || class != ""):
		return inputErrorf("give --all, or --app and/or --class, not both")
	case !all && app == "" && class == "":
		return inputErrorf("say what to resume: --app, --class or --all")
	}
	if class != "" {
		if _, ok := wxqr.ParseQuotaClass(class); !ok {
			return inputErrorf("--class %q: want oa_temp, oa_perm, wxa_limited or wxa_unlimited", class)
		}
	}

	_, inspector, pauses, err := c.services(ctx)
	if err != nil {
		return err
	}
	paused, err := pausedQueues(ctx, inspector, pauses)
	if err != nil {
		return err
	}
	var targets []pausedQueue
	for _, p := range paused {
		if (app == "" || p.id.app == app) && (class == "" || string(p.id.class) == class) {
			targets = append(targets, p)
		}
	}
	if len(targets) == 0 {
		fmt.Fprintln(c.stdout, "nothing to resume: no matching queue is paused")
		return nil
	}
	for _, t := range targets {
		if err := pauses.Resume(ctx, t.id.name()); err != nil {
			return err
		}
		waiting, err := pauses.Waiting(ctx, t.id.name())
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "resumed %s (paused: %s); %d tasks waiting\n", t.id.name(), pauseReason(t.state, t.recorded), waiting)
	}
	return nil
}

// pausedQueue is a paused wxqr queue and, if recorded, why it is paused.
type pausedQueue struct {
	id       queueID
	state    tasks.PauseState
	recorded bool
}

// pausedQueues returns the queues paused with a recorded reason and those
// asynq reports paused without one (paused from the web UI).
func pausedQueues(ctx context.Context, inspector *asynq.Inspector, pauses *tasks.Pauses) ([]pausedQueue, error) {
	states, err := pauses.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []pausedQueue
	for _, s := range states {
		if id, ok := parseQueueName(s.Queue); ok {
			out = append(out, pausedQueue{id: id, state: s, recorded: true})
		}
	}
	names, err := inspector.Queues()
	if err != nil {
		return nil, fmt.Errorf("list queues: %w", err)
	}
	for _, name := range names {
		id, ok := parseQueueName(name)
		if !ok || slices.ContainsFunc(out, func(p pausedQueue) bool { return p.id == id }) {
			continue
		}
		info, err := inspector.GetQueueInfo(name)
		if err != nil {
			return nil, fmt.Errorf("inspect queue %s: %w", name, err)
		}
		if info.Paused {
			out = append(out, pausedQueue{id: id})
		}
	}
	slices.SortFunc(out, func(a, b pausedQueue) int { return strings.Compare(a.id.name(), b.id.name()) })
	return out, nil
}
