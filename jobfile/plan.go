package jobfile

import (
	"context"
	"encoding/hex"
	"iter"
	"slices"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/preflight"
	"github.com/wxqr/wxqr/tasks"
)

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

// PlanKey is one line of a plan: an app and a kind.
type PlanKey struct {
	App  string
	Kind wxqr.Kind
}

// Plan is what the first pass over a jobs file found.
type Plan struct {
	// Rows counts the rows; Invalid those that break a rule; Duplicates
	// the valid rows whose code an earlier row has.
	Rows, Invalid, Duplicates int
	// Codes counts the distinct valid codes per app and kind.
	Codes map[PlanKey]int
	// seen holds every distinct valid code of the input, with the index in
	// keys of its app and kind (for the pre-flight). The second pass deletes
	// each code as it queues it, so a code seen again there is a duplicate.
	seen map[codeID]uint32
	keys []PlanKey
}

// keyIndex returns the index of k in p.keys, adding it if it is new. A
// file holds a few keys: configured apps × kinds.
func (p *Plan) keyIndex(k PlanKey) uint32 {
	i := slices.Index(p.keys, k)
	if i < 0 {
		i = len(p.keys)
		p.keys = append(p.keys, k)
	}
	return uint32(i)
}

// Unique is how many distinct valid codes the input has.
func (p *Plan) Unique() int { return len(p.seen) }

// Distinct yields the plan's distinct codes, for the pre-flight. Call it
// before Queuer.Queue, which empties the plan.
func (p *Plan) Distinct() iter.Seq[preflight.Code] {
	return func(yield func(preflight.Code) bool) {
		for id, k := range p.seen {
			key := p.keys[k]
			if !yield(preflight.Code{AppID: key.App, Kind: key.Kind, ID: hex.EncodeToString(id[:])}) {
				return
			}
		}
	}
}

// Validate reads src once and checks every row, calling onInvalid (which
// may be nil) with each rule a row breaks, where the row is (Locate) and
// the rule, as they are found. Memory holds the counts and one 16-byte id
// per distinct code, never the rows.
func Validate(ctx context.Context, src Source, chk *Checker, onInvalid func(at string, fe *wxqr.FieldError)) (*Plan, error) {
	p := &Plan{Codes: map[PlanKey]int{}, seen: map[codeID]uint32{}}
	err := src.Each(ctx, func(line int, r *Row) error {
		p.Rows++
		payload, errs := chk.Check(r)
		if len(errs) > 0 {
			p.Invalid++
			if onInvalid != nil {
				at := Locate(src, line)
				for _, fe := range errs {
					onInvalid(at, fe)
				}
			}
			return nil
		}
		id := idOf(payload)
		if _, dup := p.seen[id]; dup {
			p.Duplicates++
			return nil
		}
		k := PlanKey{payload.Spec.AppID, payload.Spec.Kind}
		p.seen[id] = p.keyIndex(k)
		p.Codes[k]++
		return nil
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Describe formats a field error as "field: rule", or just the rule for a
// problem with the whole row.
func Describe(fe *wxqr.FieldError) string {
	if fe.Field == "" {
		return fe.Rule
	}
	return fe.Error()
}
