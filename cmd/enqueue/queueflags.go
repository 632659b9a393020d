package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/internal/config"
	"github.com/wxqr/wxqr/jobfile"
)

const queueUsage = `Usage: enqueue [flags] [FILE|-]

Queues WeChat QR codes for the workers to make. The codes come from FILE, a
jobs file in CSV or Excel (.xlsx) ("-" reads it from stdin), or, without
FILE, from the flags. A workbook is told from CSV by its content, whatever
its name; its first visible sheet is read, or the one --sheet names.

Every code is checked against WeChat's rules before anything is queued: if
any is invalid, the errors are listed (file:line: field: rule, or for a
workbook file:sheet!row: field: rule) and nothing is queued. A code's task
id derives from its identity, so queueing the same campaign again queues
nothing twice, and codes already generated (and still valid) are not queued
at all. An interrupted run can simply be run again.

The jobs file starts with a header naming its columns, any of
  kind,app_id,scene_id,scene_str,path,width,expire_seconds,campaign,name
and each row gives what its kind needs:
  oa_temp, oa_perm  scene_id (oa_temp: 1..4294967295, oa_perm: 1..100000) or
                    scene_str (1..64 characters);
                    oa_temp may give expire_seconds (1..2592000, default 2592000 = 30 days)
  wxa_qrcode        path (1..128 bytes); width (280..1280, default 430)
  wxa_code          path (1..1024 bytes); width
  wxa_unlimited     scene_str (1..32 characters) and path (the page); width
wxa_code and wxa_unlimited codes may be styled (an empty cell is WeChat's
default; another style is another code):
  auto_color        true/false (or 1/0, yes/no): WeChat picks the line colour
  line_color        #RRGGBB or r,g,b (0..255 each); default black; not with auto_color
  is_hyaline        true: a transparent background, stored as a .png
  env_version       release (default), trial or develop: the version the code opens
  check_path        wxa_unlimited only; false: the page need not be published yet
The app must be in WXQR_APPS, as an oa app for oa_* kinds and an mp app for
wxa_* kinds. Any row may give a name, a label for people ("Store 12 -
entrance", at most 100 characters): it names the code's file in downloads
and is not part of the code's identity (a code queued again under another
name is the same code; one made already is renamed). --kind, --app,
--campaign, --width and --expire fill the cells a row leaves empty. The same
code twice in the input is queued once.

Flags:
  --app ID           app id of the codes (from WXQR_APPS)
  --kind KIND        oa_temp, oa_perm, wxa_qrcode, wxa_code or wxa_unlimited
  --campaign NAME    campaign of the codes
  --scene-ids LIST   one code per scene id: 1-5000, or 1-100,250,300-399
  --scene-strs FILE  one code per line of FILE, as scene_str
  --paths FILE       one code per line of FILE, as path
  --sheet NAME       sheet of an Excel jobs file (default: the first visible)
  --page PAGE        page of wxa_unlimited codes
  --width N          width of Mini Program codes (280..1280; default 430)
  --expire D         validity of oa_temp codes: 7d, 36h, 1d12h (default 30d)
  --concurrency N    goroutines queueing at once (default 32)
  --dry-run          check the input, print the plan and the pre-flight; queue nothing
  --skip-invalid     queue the valid codes and list the invalid ones
  --allow-partial    queue a campaign that does not fit in the lifetime quota

Before queueing (and in a dry run), a pre-flight prints, per app and quota
class, the codes, what they need (new lifetime slots for oa_perm and
wxa_limited: codes not yet made, WXQR_LIFETIME_QUOTAS less the codes wxqr
made; calls for the others), what remains today of each daily quota they
spend (WeChat's openapi/quota/get where the account may ask, else
WXQR_DAILY_BUDGETS less wxqr's count) and the days the calls take. A
campaign that needs more new codes than its lifetime quota has left is
refused (exit 2, nothing queued), unless --allow-partial: then what fits is
made and the rest waits in its queue, paused by 45029.

A progress bar shows on a terminal; otherwise progress is logged every 10 s.
The summary (queued, already queued, failed before and queued again, already
generated and of those renamed, duplicate in file, invalid) goes to stdout.

Examples:
  enqueue --app wx1234 --kind oa_perm --campaign spring --scene-ids 1-5000
  enqueue --app wx1234 --kind oa_temp --expire 7d --scene-strs coupons.txt
  enqueue --app wxmini --kind wxa_qrcode --width 430 --paths pages.txt
  enqueue --campaign spring --dry-run jobs.csv
  enqueue --campaign spring --sheet Codes campaign.xlsx
  crm-export | enqueue --app wx1234 --skip-invalid -

Other commands (each with -h): status, resume, export, reindex, retire, regen,
verify.

Exit status: 0 ok; 1 failure; 2 bad usage, configuration or input (nothing queued).
`

// defaultConcurrency is how many goroutines queue at once by default.
const defaultConcurrency = 32

type queueFlags struct {
	def         jobfile.Defaults
	sceneIDs    string
	sceneStrs   string
	paths       string
	sheet       string
	expire      string
	concurrency int
	dryRun      bool
	skipInvalid bool
	partialOK   bool // --allow-partial
}

// parseQueueFlags reads the flags of a queueing run, and rejects those that
// are wrong whatever the input. It returns the arguments left: the jobs file.
func (c *cli) parseQueueFlags(args []string) (*queueFlags, []string, error) {
	var f queueFlags
	fs := flag.NewFlagSet("enqueue", flag.ContinueOnError)
	fs.StringVar(&f.def.AppID, "app", "", "")
	fs.StringVar(&f.def.Kind, "kind", "", "")
	fs.StringVar(&f.def.Campaign, "campaign", "", "")
	fs.StringVar(&f.sceneIDs, "scene-ids", "", "")
	fs.StringVar(&f.sceneStrs, "scene-strs", "", "")
	fs.StringVar(&f.paths, "paths", "", "")
	fs.StringVar(&f.sheet, "sheet", "", "")
	fs.StringVar(&f.def.Page, "page", "", "")
	fs.IntVar(&f.def.Width, "width", 0, "")
	fs.StringVar(&f.expire, "expire", "", "")
	fs.IntVar(&f.concurrency, "concurrency", defaultConcurrency, "")
	fs.BoolVar(&f.dryRun, "dry-run", false, "")
	fs.BoolVar(&f.skipInvalid, "skip-invalid", false, "")
	fs.BoolVar(&f.partialOK, "allow-partial", false, "")
	if err := c.parse(fs, queueUsage, args); err != nil {
		return nil, nil, err
	}
	if f.concurrency < 1 {
		return nil, nil, inputErrorf("--concurrency must be at least 1, got %d", f.concurrency)
	}
	if f.expire != "" {
		secs, err := parseExpire(f.expire)
		if err != nil {
			return nil, nil, &inputError{err}
		}
		f.def.ExpireSeconds = secs
	}
	if err := checkFlags(&f); err != nil {
		return nil, nil, err
	}
	return &f, fs.Args(), nil
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
func (c *cli) source(f *queueFlags, args []string) (jobfile.Source, func(), error) {
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
	if len(args) == 0 && f.sheet != "" {
		return nil, nothing, inputErrorf("--sheet is for an Excel jobs file, not --scene-ids, --scene-strs or --paths")
	}

	switch {
	case f.sceneIDs != "":
		src, err := jobfile.ParseSceneIDs(f.sceneIDs)
		if err != nil {
			return nil, nothing, &inputError{err}
		}
		return src, nothing, nil
	case f.sceneStrs != "":
		return jobfile.Lines{Path: f.sceneStrs, Display: f.sceneStrs}, nothing, nil
	case f.paths != "":
		return jobfile.Lines{Path: f.paths, Display: f.paths, IsPath: true}, nothing, nil
	}
	if args[0] != "-" {
		return jobsFile(args[0], args[0], f)
	}
	path, err := c.spoolStdin()
	if err != nil {
		return nil, nothing, err
	}
	src, release, err := jobsFile(path, "stdin", f)
	return src, func() { release(); os.Remove(path) }, err
}

// jobsFile returns the jobs file at path, CSV or workbook by its content,
// named display in errors, and a function that releases it.
func jobsFile(path, display string, f *queueFlags) (jobfile.Source, func(), error) {
	src, release, err := jobfile.Open(path, display, jobfile.OpenOptions{
		Sheet:       f.sheet,
		HeaderRules: jobfile.HeaderRules{HaveKind: f.def.Kind != "", HaveApp: f.def.AppID != ""},
	})
	if errors.Is(err, jobfile.ErrSheetOfCSV) {
		return nil, release, inputErrorf("--sheet is for Excel workbooks; %s is a CSV file", display)
	}
	return src, release, err
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

// parseExpire parses --expire: a Go duration ("36h", "90m") or a number of
// days ("7d"), optionally followed by a duration ("1d12h"), in whole seconds
// from 1 s to 30 days.
func parseExpire(s string) (int, error) {
	d, err := config.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("--expire %w", err)
	}
	if d < time.Second || d > wxqr.MaxTempExpire || d%time.Second != 0 {
		return 0, fmt.Errorf("--expire %q: must be whole seconds from 1s to 30d", s)
	}
	return int(d / time.Second), nil
}
