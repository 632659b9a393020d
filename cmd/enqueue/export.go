package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/wxqr/wxqr"
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

// countColumns name the scan counts an export adds to each code, in the
// order countValues gives them; names and order are part of the format.
var countColumns = []string{"scans", "new_follows", "unfollows", "unique_scanners", "launches"}

func countValues(c scans.Counts) []int64 {
	return []int64{c.Scans, c.NewFollows, c.Unfollows, c.UniqueScanners, c.Launches}
}

// codeCounts reads the scan counts of codes (a *scans.Store).
type codeCounts interface {
	Codes(ctx context.Context, ids []string) ([]scans.Counts, error)
}

// countsOf joins each record of a batch with its scan counts, read in one
// call for the whole batch.
func countsOf(sc codeCounts) catalog.Extra {
	return func(ctx context.Context, recs []*wxqr.Record) ([][]int64, error) {
		ids := make([]string, len(recs))
		for i, rec := range recs {
			ids[i] = rec.ID
		}
		counts, err := sc.Codes(ctx, ids)
		if err != nil {
			return nil, err
		}
		if len(counts) != len(recs) {
			return nil, fmt.Errorf("scan counts: %d for %d codes", len(counts), len(recs))
		}
		rows := make([][]int64, len(counts))
		for i, c := range counts {
			rows[i] = countValues(c)
		}
		return rows, nil
	}
}

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
		"csv":   func(w io.Writer) catalog.RecordWriter { return catalog.WriteCSV(w, countColumns...) },
		"jsonl": func(w io.Writer) catalog.RecordWriter { return catalog.WriteJSONL(w, countColumns...) },
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
	counts := countsOf(sc)

	if out == "" {
		n, err := cat.Export(ctx, campaign, newWriter(c.stdout), counts)
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
	n, err := cat.Export(ctx, campaign, newWriter(f), counts)
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
