package main

import (
	"context"
	"flag"
	"fmt"
)

const reindexUsage = `Usage: enqueue reindex

Rebuilds the catalog from the bucket (WXQR_STORAGE): every image carries its
record in a JSON sidecar. Records the catalog holds at a newer generation are
kept, so reindexing a live catalog is safe. Corrupt sidecars are listed and
skipped.

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
	// One line per problem (corrupt sidecars are skipped, not fatal).
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
