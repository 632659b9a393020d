package preflight

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/wxqr/wxqr/ratelimit"
	"github.com/wxqr/wxqr/tasks"
	"github.com/wxqr/wxqr/wechat"
)

// classes returns the lines of t's classes, each lifetime class with what
// its ledger has spent of its cap.
func (c *Checker) classes(ctx context.Context, t *tally) ([]Class, error) {
	keys := slices.SortedFunc(maps.Keys(t.classes), func(a, b classKey) int {
		return cmp.Or(cmp.Compare(a.app, b.app), cmp.Compare(a.class, b.class))
	})
	out := make([]Class, 0, len(keys))
	for _, k := range keys {
		cc := t.classes[k]
		line := Class{AppID: k.app, Class: k.class, Codes: cc.codes, Calls: cc.calls, Needed: cc.needed}
		if quota, ok := c.cfg.LifetimeCaps(k.app, k.class); ok && k.class.Lifetime() {
			used, err := c.cfg.Catalog.QuotaUsed(ctx, k.app, k.class)
			if err != nil {
				return nil, err
			}
			line.Lifetime = &Lifetime{Cap: quota, Used: used}
		}
		out = append(out, line)
	}
	return out, nil
}

// daily returns the lines of the APIs t calls, each with wxqr's budget and
// WeChat's answer, asked of every app × API at once.
func (c *Checker) daily(ctx context.Context, t *tally) ([]Daily, error) {
	keys := slices.SortedFunc(maps.Keys(t.calls), func(a, b apiKey) int {
		return cmp.Or(cmp.Compare(a.app, b.app), cmp.Compare(a.api, b.api))
	})
	out := make([]Daily, 0, len(keys))
	for _, k := range keys {
		if t.calls[k] == 0 {
			continue // every code is made: nothing to weigh
		}
		line := Daily{AppID: k.app, API: k.api, Calls: t.calls[k]}
		budget, err := c.budget(ctx, k)
		if err != nil {
			return nil, err
		}
		line.Budget = budget
		out = append(out, line)
	}
	var wg sync.WaitGroup
	for i := range out {
		wg.Go(func() { out[i].WeChat, out[i].Unknown = c.askWeChat(ctx, out[i].AppID, out[i].API) })
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// budget returns wxqr's budget of k and today's spend, or nil for an API
// without one.
func (c *Checker) budget(ctx context.Context, k apiKey) (*Budget, error) {
	if c.cfg.Budgets == nil {
		return nil, nil
	}
	used, limit, err := c.cfg.Budgets.Used(ctx, tasks.LimitKey(k.app, k.api))
	switch {
	case errors.Is(err, ratelimit.ErrNoBudget):
		return nil, nil
	case err != nil:
		return nil, err
	}
	return &Budget{Limit: limit, Used: used}, nil
}

// askWeChat asks WeChat for the app's daily quota of api, within
// QuotaTimeout. Any failure leaves the quota unknown, with the reason.
func (c *Checker) askWeChat(ctx context.Context, appID, api string) (*wechat.Quota, error) {
	asker, ok := c.cfg.Quotas[appID]
	if !ok {
		return nil, ErrNotAsked
	}
	path, ok := wechat.CGIPath(api)
	if !ok {
		return nil, fmt.Errorf("preflight: no cgi_path for API %q", api)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.QuotaTimeout)
	defer cancel()
	return asker.QuotaGet(ctx, &wechat.QuotaGetRequest{CGIPath: path})
}
