package main

import (
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/tasks"
)

const queueUsage = `Usage: enqueue [flags] [FILE|-]

Queues WeChat QR codes for the workers to make. The codes come from FILE, a
CSV jobs file ("-" reads it from stdin), or, without FILE, from the flags.

Every code is checked against WeChat's rules before anything is queued: if
any is invalid, the errors are listed (file:line: field: rule) and nothing
is queued. A code's task id derives from its identity, so queueing the same
campaign again queues nothing twice, and codes already generated (and still
valid) are not queued at all. An interrupted run can simply be run again.

The jobs file starts with a header naming its columns, any of
  kind,app_id,scene_id,scene_str,path,width,expire_seconds,campaign
and each row gives what its kind needs:
  oa_temp, oa_perm  scene_id (oa_temp: 1..4294967295, oa_perm: 1..100000) or
                    scene_str (1..64 characters);
                    oa_temp may give expire_seconds (1..2592000, default 2592000 = 30 days)
  wxa_qrcode        path (1..128 bytes); width (280..1280, default 430)
  wxa_code          path (1..1024 bytes); width
  wxa_unlimited     scene_str (1..32 characters) and path (the page); width
The app must be in WXQR_APPS, as an oa app for oa_* kinds and an mp app for
wxa_* kinds. --kind, --app, --campaign, --width and --expire fill the cells a
row leaves empty. The same code twice in the input is queued once.

Flags:
  --app ID           app id of the codes (from WXQR_APPS)
  --kind KIND        oa_temp, oa_perm, wxa_qrcode, wxa_code or wxa_unlimited
  --campaign NAME    campaign of the codes
  --scene-ids LIST   one code per scene id: 1-5000, or 1-100,250,300-399
  --scene-strs FILE  one code per line of FILE, as scene_str
  --paths FILE       one code per line of FILE, as path
  --page PAGE        page of wxa_unlimited codes
  --width N          width of Mini Program codes (280..1280; default 430)
  --expire D         validity of oa_temp codes: 7d, 36h, 1d12h (default 30d)
  --concurrency N    goroutines queueing at once (default 32)
  --dry-run          check the input and print the plan; queue nothing
  --skip-invalid     queue the valid codes and list the invalid ones

A progress bar shows on a terminal; otherwise progress is logged every 10 s.
The summary (queued, already queued, failed before and queued again, already
generated, duplicate in file, invalid) goes to stdout.

Examples:
  enqueue --app wx1234 --kind oa_perm --campaign spring --scene-ids 1-5000
  enqueue --app wx1234 --kind oa_temp --expire 7d --scene-strs coupons.txt
  enqueue --app wxmini --kind wxa_qrcode --width 430 --paths pages.txt
  enqueue --campaign spring --dry-run jobs.csv
  crm-export | enqueue --app wx1234 --skip-invalid -

Other commands (each with -h): status, resume, export, reindex, retire, regen,
verify.

Exit status: 0 ok; 1 failure; 2 bad usage, configuration or input (nothing queued).
`

// Queueing defaults.
const (
	defaultConcurrency = 32
	// batchSize is how many codes one catalog lookup covers.
	batchSize = 200
	// maxListed is how many input errors are printed before "... and N more".
	maxListed = 100
	// logEvery is how often progress is logged when stderr is not a terminal.
	logEvery = 10 * time.Second
)

type queueFlags struct {
	def         defaults
	sceneIDs    string
	sceneStrs   string
	paths       string
	expire      string
	concurrency int
	dryRun      bool
	skipInvalid bool
}

func runQueue(ctx context.Context, c *cli, args []string) error {
	var f queueFlags
	fs := flag.NewFlagSet("enqueue", flag.ContinueOnError)
	fs.StringVar(&f.def.AppID, "app", "", "")
	fs.StringVar(&f.def.Kind, "kind", "", "")
	fs.StringVar(&f.def.Campaign, "campaign", "", "")
	fs.StringVar(&f.sceneIDs, "scene-ids", "", "")
	fs.StringVar(&f.sceneStrs, "scene-strs", "", "")
	fs.StringVar(&f.paths, "paths", "", "")
	fs.StringVar(&f.def.Page, "page", "", "")
	fs.IntVar(&f.def.Width, "width", 0, "")
	fs.StringVar(&f.expire, "expire", "", "")
	fs.IntVar(&f.concurrency, "concurrency", defaultConcurrency, "")
	fs.BoolVar(&f.dryRun, "dry-run", false, "")
	fs.BoolVar(&f.skipInvalid, "skip-invalid", false, "")
	if err := c.parse(fs, queueUsage, args); err != nil {
		return err
	}
	if f.concurrency < 1 {
		return inputErrorf("--concurrency must be at least 1, got %d", f.concurrency)
	}
	if f.expire != "" {
		secs, err := parseExpire(f.expire)
		if err != nil {
			return &inputError{err}
		}
		f.def.ExpireSeconds = secs
	}
	if err := checkFlags(&f); err != nil {
		return err
	}
	src, cleanup, err := c.source(&f, fs.Args())
	if err != nil {
		return err
	}
	defer cleanup()

	cfg, err := c.config()
	if err != nil {
		return err
	}
	if len(cfg.Apps) == 0 {
		return inputErrorf("no apps configured: set WXQR_APPS to appid:secret:kind,... or @apps.json")
	}
	chk := &checker{apps: make(map[string]wxqr.AppType, len(cfg.Apps)), def: f.def}
	for _, app := range cfg.Apps {
		chk.apps[app.AppID] = app.Type
	}
	if _, ok := chk.apps[f.def.AppID]; f.def.AppID != "" && !ok {
		return inputErrorf("--app %s is not configured in WXQR_APPS", f.def.AppID)
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
		return plan.print(c.stdout)
	}

	rdb, err := c.redis(ctx)
	if err != nil {
		return err
	}
	q := &queuer{
		client:    asynq.NewClientFromRedisClient(rdb),
		inspector: asynq.NewInspectorFromRedisClient(rdb),
		catalog:   catalog.New(rdb, ""),
		now:       c.now,
	}
	stopProgress := c.showProgress("queueing", q.done, int64(plan.unique()))
	err = q.queue(ctx, src, chk, plan.seen, f.concurrency)
	stopProgress()
	// The summary also shows what an interrupted run did; running it again
	// queues the rest.
	if serr := printSummary(c.stdout, []summaryLine{
		{"queued", q.queued.Load()},
		{"already queued", q.alreadyQueued.Load()},
		{"failed before, queued again", q.requeued.Load()},
		{"already generated", q.alreadyGenerated.Load()},
		{"duplicate in file", int64(plan.duplicates)},
		{"invalid", int64(plan.invalid)},
	}); err == nil {
		err = serr
	}
	return err
}

// checkFlags rejects flags that are wrong for every row at once (which
// would otherwise be reported once per row) and flags that --kind does not
// use (which would otherwise be ignored silently).
func checkFlags(f *queueFlags) error {
	if f.def.Width != 0 && (f.def.Width < wxqr.MinWidth || f.def.Width > wxqr.MaxWidth) {
		return inputErrorf("--width must be %d..%d, got %d", wxqr.MinWidth, wxqr.MaxWidth, f.def.Width)
	}
	if f.def.Kind == "" {
		return nil
	}
	kind, err := wxqr.ParseKind(f.def.Kind)
	switch {
	case err != nil:
		return inputErrorf("--kind: %v", err)
	case f.def.Width != 0 && kind.AppType() != wxqr.AppMP:
		return inputErrorf("--width is not used by %s", kind)
	case f.expire != "" && kind != wxqr.KindOATemp:
		return inputErrorf("--expire is only used by %s", wxqr.KindOATemp)
	case f.def.Page != "" && kind != wxqr.KindWxaUnlimited:
		return inputErrorf("--page is only used by %s (other Mini Program kinds take --paths)", wxqr.KindWxaUnlimited)
	}
	return nil
}

// source returns the input the flags and arguments name, and a function
// that releases it.
func (c *cli) source(f *queueFlags, args []string) (source, func(), error) {
	nothing := func() {}
	given := 0
	for _, s := range []string{f.sceneIDs, f.sceneStrs, f.paths} {
		if s != "" {
			given++
		}
	}
	if len(args) > 1 {
		return nil, nothing, inputErrorf("give one jobs file, got %d arguments (run with -h for usage)", len(args))
	}
	if len(args) == 1 {
		given++
	}
	switch {
	case given == 0:
		return nil, nothing, inputErrorf("nothing to queue: give a jobs file, --scene-ids, --scene-strs or --paths (run with -h for usage)")
	case given > 1:
		return nil, nothing, inputErrorf("give only one of a jobs file, --scene-ids, --scene-strs and --paths")
	}
	if len(args) == 0 && (f.def.Kind == "" || f.def.AppID == "") {
		return nil, nothing, inputErrorf("--kind and --app are required with --scene-ids, --scene-strs and --paths")
	}

	switch {
	case f.sceneIDs != "":
		src, err := parseSceneIDs(f.sceneIDs)
		if err != nil {
			return nil, nothing, &inputError{err}
		}
		return src, nothing, nil
	case f.sceneStrs != "":
		return lineSource{path: f.sceneStrs, display: f.sceneStrs}, nothing, nil
	case f.paths != "":
		return lineSource{path: f.paths, display: f.paths, isPath: true}, nothing, nil
	}
	if args[0] != "-" {
		return csvSource{path: args[0], display: args[0], haveKind: f.def.Kind != "", haveApp: f.def.AppID != ""}, nothing, nil
	}
	path, err := c.spoolStdin()
	if err != nil {
		return nil, nothing, err
	}
	return csvSource{path: path, display: "stdin", haveKind: f.def.Kind != "", haveApp: f.def.AppID != ""},
		func() { os.Remove(path) }, nil
}

// spoolStdin copies stdin to a temporary file, so that it can be read twice
// (validated, then queued) without holding it in memory.
func (c *cli) spoolStdin() (string, error) {
	f, err := os.CreateTemp("", "wxqr-enqueue-*.csv")
	if err != nil {
		return "", fmt.Errorf("spool stdin: %w", err)
	}
	_, err = io.Copy(f, c.stdin)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("spool stdin: %w", err)
	}
	return f.Name(), nil
}

// codeID is a code's id (wxqr.Spec.ID, 32 hex digits) as 16 bytes: the
// in-file duplicate check holds one per distinct code.
type codeID [16]byte

func idOf(spec wxqr.Spec) codeID {
	var id codeID
	// Spec.ID is always 32 hex digits; a decoding error cannot happen.
	_, _ = hex.Decode(id[:], []byte(spec.ID()))
	return id
}

// planKey is one line of the plan.
type planKey struct {
	app  string
	kind wxqr.Kind
}

// plan is what the first pass over the input found.
type plan struct {
	rows, invalid, duplicates int
	codes                     map[planKey]int
	// seen holds every distinct valid code of the input. The second pass
	// deletes each code as it queues it, so a code seen again there is a
	// duplicate.
	seen map[codeID]struct{}
}

func (p *plan) unique() int { return len(p.seen) }

// validate reads src once and checks every row, listing the first maxListed
// errors on errOut as they are found. Memory holds the counts and one
// codeID per distinct code, never the rows.
func validate(ctx context.Context, src source, chk *checker, errOut io.Writer) (*plan, error) {
	p := &plan{codes: map[planKey]int{}, seen: map[codeID]struct{}{}}
	listed, unlisted := 0, 0
	err := src.each(ctx, func(line int, r *rawRow) error {
		p.rows++
		payload, errs := chk.check(r)
		if len(errs) > 0 {
			p.invalid++
			for _, fe := range errs {
				if listed == maxListed {
					unlisted++
					continue
				}
				listed++
				fmt.Fprintf(errOut, "%s:%d: %s\n", src.name(), line, describe(fe))
			}
			return nil
		}
		id := idOf(payload.Spec)
		if _, dup := p.seen[id]; dup {
			p.duplicates++
			return nil
		}
		p.seen[id] = struct{}{}
		p.codes[planKey{payload.Spec.AppID, payload.Spec.Kind}]++
		return nil
	})
	if unlisted > 0 {
		fmt.Fprintf(errOut, "... and %d more\n", unlisted)
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}

// describe formats a field error as "field: rule", or just the rule for a
// problem with the whole row.
func describe(fe *wxqr.FieldError) string {
	if fe.Field == "" {
		return fe.Rule
	}
	return fe.Error()
}

// print writes the plan of a dry run.
func (p *plan) print(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "APP\tKIND\tQUEUE\tCODES")
	keys := slices.SortedFunc(maps.Keys(p.codes), func(a, b planKey) int {
		return cmp.Or(cmp.Compare(a.app, b.app), cmp.Compare(a.kind, b.kind))
	})
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", k.app, k.kind, tasks.QueueName(k.app, k.kind.Class()), p.codes[k])
	}
	fmt.Fprintf(tw, "total\t\t\t%d\n", p.unique())
	if err := tw.Flush(); err != nil {
		return err
	}
	return printSummary(w, []summaryLine{
		{"duplicate in file", int64(p.duplicates)},
		{"invalid", int64(p.invalid)},
		{"queued (dry run)", 0},
	})
}

type summaryLine struct {
	label string
	n     int64
}

// printSummary writes one "label  N" line per count, labels left-aligned
// and numbers right-aligned.
func printSummary(w io.Writer, lines []summaryLine) error {
	labelWidth, numberWidth := 0, 0
	for _, l := range lines {
		labelWidth = max(labelWidth, len(l.label))
		numberWidth = max(numberWidth, len(strconv.FormatInt(l.n, 10)))
	}
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, "%-*s  %*d\n", labelWidth, l.label, numberWidth, l.n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// queuer queues codes from many goroutines and counts the outcomes.
type queuer struct {
	client    *asynq.Client
	inspector *asynq.Inspector
	catalog   *catalog.Catalog
	now       func() time.Time

	queued, alreadyQueued, requeued, alreadyGenerated atomic.Int64
}

// done is how many codes have been dealt with so far.
func (q *queuer) done() int64 {
	return q.queued.Load() + q.alreadyQueued.Load() + q.requeued.Load() + q.alreadyGenerated.Load()
}

// queue reads src a second time and queues every valid code in seen (which
// it empties), batchSize codes per catalog lookup, from concurrency
// goroutines. It stops at the first error.
func (q *queuer) queue(ctx context.Context, src source, chk *checker, seen map[codeID]struct{}, concurrency int) error {
	return fanOut(ctx, concurrency, func(ctx context.Context, send func([]tasks.GeneratePayload) error) error {
		batch := make([]tasks.GeneratePayload, 0, batchSize)
		err := src.each(ctx, func(_ int, r *rawRow) error {
			payload, errs := chk.check(r)
			if len(errs) > 0 {
				return nil // listed by validate
			}
			id := idOf(payload.Spec)
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
		ids[i] = p.Spec.ID()
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
		if rec := recs[i]; rec != nil && (rec.Valid(now) || rec.Retired) {
			q.alreadyGenerated.Add(1)
			continue
		}
		outcome, err := enqueueGenerate(ctx, q.client, q.inspector, p)
		if err != nil {
			return fmt.Errorf("queue code %s: %w", ids[i], err)
		}
		switch outcome {
		case enqueued:
			q.queued.Add(1)
		case alreadyQueued:
			q.alreadyQueued.Add(1)
		case requeued:
			q.requeued.Add(1)
		}
	}
	return nil
}

// enqueueOutcome is what enqueueGenerate did.
type enqueueOutcome int

const (
	enqueued      enqueueOutcome = iota // queued a new task
	alreadyQueued                       // the code's task is on its way: nothing queued twice
	requeued                            // the code's task had failed for good: queued afresh
)

// enqueueGenerate queues the task of p. A task with the same id that asynq
// still holds is either on its way or in the archive; an archived one is
// replaced (tasks.RequeueArchived), so a code that failed once can be
// queued again.
func enqueueGenerate(ctx context.Context, client *asynq.Client, inspector *asynq.Inspector, p tasks.GeneratePayload) (enqueueOutcome, error) {
	task, err := tasks.NewGenerateTask(p)
	if err != nil {
		return 0, err
	}
	_, err = client.EnqueueContext(ctx, task)
	switch {
	case errors.Is(err, asynq.ErrTaskIDConflict):
		again, err := tasks.RequeueArchived(ctx, client, inspector, p)
		if err != nil {
			return 0, err
		}
		if again {
			return requeued, nil
		}
		return alreadyQueued, nil
	case err != nil:
		return 0, err
	}
	return enqueued, nil
}
