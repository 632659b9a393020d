package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/scans"
)

const exportUsage = `Usage: enqueue export [--campaign NAME] [--format csv|jsonl] [-o FILE]

Writes one record per generated code, in id order: id, kind, app_id,
scene_id, scene_str, path, width, campaign, ticket, url, expire_seconds,
expires_at, created_at, generation, bucket, key, content_type, size,
sha256, retired, then what the code brought: scans, new_follows,
unfollows, unique_scanners (an estimate) and launches (Mini Program
codes). Times are RFC 3339.

  --campaign NAME  only this campaign (default: every code)
  --format F       csv (with a header; the default) or jsonl (one JSON object per line)
  -o FILE          write to FILE instead of stdout

Examples:
  enqueue export --campaign spring -o spring.csv
  enqueue export --format jsonl | jq -r .url
  enqueue export --format jsonl | jq -r 'select(.new_follows > 0) | [.scene_str, .new_follows] | @tsv'
`

func runExport(ctx context.Context, c *cli, args []string) error {
	var campaign, format, out string
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.StringVar(&campaign, "campaign", "", "")
	fs.StringVar(&format, "format", "csv", "")
	fs.StringVar(&out, "o", "", "")
	if err := c.parse(fs, exportUsage, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return inputErrorf("export takes no arguments (run with -h for usage)")
	}
	newWriter := map[string]func(io.Writer) catalog.RecordWriter{
		"csv":   func(w io.Writer) catalog.RecordWriter { return catalog.WriteCSV(w, scans.ExportColumns...) },
		"jsonl": func(w io.Writer) catalog.RecordWriter { return catalog.WriteJSONL(w, scans.ExportColumns...) },
	}[format]
	if newWriter == nil {
		return inputErrorf("--format %q: want csv or jsonl", format)
	}
	cat, _, _, err := c.services(ctx)
	if err != nil {
		return err
	}
	sc, err := c.scans(ctx, cat)
	if err != nil {
		return err
	}

	if out == "" {
		n, err := cat.Export(ctx, campaign, newWriter(c.stdout), sc.ExportValues)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stderr, "exported %d codes\n", n)
		return nil
	}
	f, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	n, err := cat.Export(ctx, campaign, newWriter(f), sc.ExportValues)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("export: %w", cerr)
	}
	if err != nil {
		os.Remove(out) // a partial export would pass for a whole one
		return err
	}
	fmt.Fprintf(c.stderr, "exported %d codes to %s\n", n, out)
	return nil
}

const reindexUsage = `Usage: enqueue reindex

Rebuilds the catalog from the bucket (WXQR_STORAGE): every image carries its
record in its metadata, or in a JSON sidecar (a record too large for the
metadata, or written by an earlier version). Records the catalog holds at a
newer generation are kept, so reindexing a live catalog is safe. Corrupt
records are listed and skipped.

Example:
  WXQR_STORAGE=s3://codes/prod enqueue reindex
`

func runReindex(ctx context.Context, c *cli, args []string) error {
	fs := flag.NewFlagSet("reindex", flag.ContinueOnError)
	if err := c.parse(fs, reindexUsage, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return inputErrorf("reindex takes no arguments")
	}
	cat, _, _, err := c.services(ctx)
	if err != nil {
		return err
	}
	store, err := c.cfg.Storage.Open(ctx)
	if err != nil {
		return err
	}
	n, err := cat.Rebuild(ctx, store)
	fmt.Fprintf(c.stdout, "reindexed %d codes from %s\n", n, c.cfg.Storage)
	if err == nil {
		return nil
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return err
	}
	// One line per problem (corrupt records are skipped, not fatal).
	for _, e := range joined.Unwrap() {
		fmt.Fprintln(c.stderr, e)
	}
	return fmt.Errorf("reindex: %d problems (listed above)", len(joined.Unwrap()))
}

const retireUsage = `Usage: enqueue retire --campaign NAME | --id ID...

Retires codes: they stay in the catalog and the bucket, but temporary codes
are never regenerated again, and queueing them again does nothing.

Retiring a campaign is for good, and covers the codes it does not have yet:
those still queued or being made are not made (or, when WeChat made one
already, it is stored retired), nor is any code queued in it later.

  --campaign NAME  every code of the campaign, now and later
  --id ID          this code (repeat, or separate ids with commas)

Examples:
  enqueue retire --campaign spring
  enqueue retire --id 3f2a...,9b1c...
`

func runRetire(ctx context.Context, c *cli, args []string) error {
	var campaign string
	var ids listFlag
	fs := flag.NewFlagSet("retire", flag.ContinueOnError)
	fs.StringVar(&campaign, "campaign", "", "")
	fs.Var(&ids, "id", "")
	if err := c.parse(fs, retireUsage, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return inputErrorf("retire takes no arguments (run with -h for usage)")
	case (campaign == "") == (len(ids) == 0):
		return inputErrorf("give either --campaign or --id")
	}
	cat, _, _, err := c.services(ctx)
	if err != nil {
		return err
	}
	if campaign != "" {
		n, err := cat.RetireCampaign(ctx, campaign)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "retired %d codes; campaign %s retired: none of its codes still queued will be made\n", n, campaign)
		return nil
	}
	n, err := cat.Retire(ctx, ids...)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "retired %d codes\n", n)
	return nil
}
