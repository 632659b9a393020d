package main

import (
	"cmp"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/tasks"
)

// maxListed is how many input errors are printed before "... and N more".
const maxListed = 100

// codeID is a code's id (wxqr.Spec.ID, 32 hex digits) as 16 bytes: the
// in-file duplicate check holds one per distinct code.
type codeID [16]byte

func idOf(p tasks.GeneratePayload) codeID {
	var id codeID
	// A checked payload carries its id, always 32 hex digits: a decoding
	// error cannot happen.
	_, _ = hex.Decode(id[:], []byte(p.ID))
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
	// seen holds every distinct valid code of the input, with the index in
	// keys of its app and kind (for the pre-flight). The second pass deletes
	// each code as it queues it, so a code seen again there is a duplicate.
	seen map[codeID]uint32
	keys []planKey
}

// keyIndex returns the index of k in p.keys, adding it if it is new. A
// file holds a few keys: configured apps × kinds.
func (p *plan) keyIndex(k planKey) uint32 {
	i := slices.Index(p.keys, k)
	if i < 0 {
		i = len(p.keys)
		p.keys = append(p.keys, k)
	}
	return uint32(i)
}

func (p *plan) unique() int { return len(p.seen) }

// validate reads src once and checks every row, listing the first maxListed
// errors on errOut as they are found. Memory holds the counts and one
// codeID per distinct code, never the rows.
func validate(ctx context.Context, src source, chk *checker, errOut io.Writer) (*plan, error) {
	p := &plan{codes: map[planKey]int{}, seen: map[codeID]uint32{}}
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
				fmt.Fprintf(errOut, "%s: %s\n", locate(src, line), describe(fe))
			}
			return nil
		}
		id := idOf(payload)
		if _, dup := p.seen[id]; dup {
			p.duplicates++
			return nil
		}
		k := planKey{payload.Spec.AppID, payload.Spec.Kind}
		p.seen[id] = p.keyIndex(k)
		p.codes[k]++
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
