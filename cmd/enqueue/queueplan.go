package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/jobfile"
	"github.com/wxqr/wxqr/tasks"
)

// maxListed is how many input errors are printed before "... and N more".
const maxListed = 100

// validate is jobfile.Validate listing the first maxListed errors on
// errOut as they are found.
func validate(ctx context.Context, src jobfile.Source, chk *jobfile.Checker, errOut io.Writer) (*jobfile.Plan, error) {
	listed, unlisted := 0, 0
	p, err := jobfile.Validate(ctx, src, chk, func(at string, fe *wxqr.FieldError) {
		if listed == maxListed {
			unlisted++
			return
		}
		listed++
		fmt.Fprintf(errOut, "%s: %s\n", at, jobfile.Describe(fe))
	})
	if unlisted > 0 {
		fmt.Fprintf(errOut, "... and %d more\n", unlisted)
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}

// printPlan writes the plan of a dry run.
func printPlan(w io.Writer, p *jobfile.Plan) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "APP\tKIND\tQUEUE\tCODES")
	keys := slices.SortedFunc(maps.Keys(p.Codes), func(a, b jobfile.PlanKey) int {
		return cmp.Or(cmp.Compare(a.App, b.App), cmp.Compare(a.Kind, b.Kind))
	})
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", k.App, k.Kind, tasks.QueueName(k.App, k.Kind.Class()), p.Codes[k])
	}
	fmt.Fprintf(tw, "total\t\t\t%d\n", p.Unique())
	if err := tw.Flush(); err != nil {
		return err
	}
	return printSummary(w, []summaryLine{
		{"duplicate in file", int64(p.Duplicates)},
		{"invalid", int64(p.Invalid)},
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
