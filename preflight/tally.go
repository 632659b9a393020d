package preflight

import (
	"context"
	"iter"

	"github.com/wxqr/wxqr"
)

// group is the codes of one app and kind, looked up together.
type group struct {
	app  string
	kind wxqr.Kind
}

type classKey struct {
	app   string
	class wxqr.QuotaClass
}

type apiKey struct {
	app, api string
}

// classCount is what the codes of one app × class spend.
type classCount struct {
	codes, calls, needed int64
}

// tally is what the codes of a campaign spend, counted.
type tally struct {
	classes map[classKey]*classCount
	calls   map[apiKey]int64
}

// tally reads every code of codes, batch by batch per app × kind, and
// counts what each would spend.
func (c *Checker) tally(ctx context.Context, codes iter.Seq[Code]) (*tally, error) {
	t := &tally{classes: map[classKey]*classCount{}, calls: map[apiKey]int64{}}
	batches := map[group][]string{}
	var err error
	for code := range codes {
		g := group{code.AppID, code.Kind}
		batches[g] = append(batches[g], code.ID)
		if len(batches[g]) < c.cfg.BatchSize {
			continue
		}
		if err = c.count(ctx, t, g, batches[g]); err != nil {
			return nil, err
		}
		batches[g] = batches[g][:0]
	}
	for g, ids := range batches {
		if err = c.count(ctx, t, g, ids); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// count adds to t what the codes ids of g would spend: a call for each the
// catalog holds no valid (or retired) record of, and of those, a lifetime
// slot for each not yet in its class's ledger.
func (c *Checker) count(ctx context.Context, t *tally, g group, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	recs, err := c.cfg.Catalog.GetMany(ctx, ids)
	if err != nil {
		return err
	}
	now := c.cfg.Now()
	var toMake []string
	for i, rec := range recs {
		if rec == nil || !rec.Done(now) {
			toMake = append(toMake, ids[i])
		}
	}
	class := g.kind.Class()
	k := classKey{g.app, class}
	cc := t.classes[k]
	if cc == nil {
		cc = &classCount{}
		t.classes[k] = cc
	}
	cc.codes += int64(len(ids))
	cc.calls += int64(len(toMake))
	t.calls[apiKey{g.app, g.kind.API()}] += int64(len(toMake))
	if !class.Lifetime() || len(toMake) == 0 {
		return nil
	}
	spent, err := c.cfg.Catalog.QuotaSpent(ctx, g.app, class, toMake)
	if err != nil {
		return err
	}
	for _, s := range spent {
		if !s {
			cc.needed++
		}
	}
	return nil
}
