package preflight_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/internal/fakeclock"
	"github.com/wxqr/wxqr/internal/testenv"
	"github.com/wxqr/wxqr/preflight"
	"github.com/wxqr/wxqr/ratelimit"
	"github.com/wxqr/wxqr/tasks"
	"github.com/wxqr/wxqr/wechat"
)

var now = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func record(spec wxqr.Spec, expiresAt time.Time) *wxqr.Record {
	spec = spec.Normalize()
	return &wxqr.Record{
		ID: spec.ID(), Spec: spec, Ticket: "gQH47joAAAAAAAAAASxodHRwOi8vd2VpeGluLnFxLmNvbS9xLzAy",
		URL: "http://weixin.qq.com/q/02", ExpiresAt: expiresAt, CreatedAt: now.Add(-time.Hour), Generation: 1,
		Bucket: "codes", ObjectKey: spec.Key(), ContentType: "image/jpeg", Size: 28000, SHA256: strings.Repeat("ab", 32),
	}
}

func perm(app string, scene int64) wxqr.Spec {
	return wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: app, SceneID: scene}
}

func temp(app string, scene int64) wxqr.Spec {
	return wxqr.Spec{Kind: wxqr.KindOATemp, AppID: app, SceneID: scene}
}

func wxaCode(app string, n int) wxqr.Spec {
	return wxqr.Spec{Kind: wxqr.KindWxaCode, AppID: app, Path: fmt.Sprint("pages/item?id=", n)}
}

func codes(specs ...wxqr.Spec) func(func(preflight.Code) bool) {
	return func(yield func(preflight.Code) bool) {
		for _, s := range specs {
			if !yield(preflight.Code{AppID: s.AppID, Kind: s.Kind, ID: s.ID()}) {
				return
			}
		}
	}
}

// fakeWeChat answers quota/get with quotas by cgi_path, or err, and counts
// the questions.
type fakeWeChat struct {
	mu     sync.Mutex
	quotas map[string]wechat.Quota
	err    error
	asked  []string
}

func (f *fakeWeChat) QuotaGet(_ context.Context, req *wechat.QuotaGetRequest) (*wechat.Quota, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, req.CGIPath)
	if f.err != nil {
		return nil, f.err
	}
	q, ok := f.quotas[req.CGIPath]
	if !ok {
		return nil, &wechat.APIError{Op: "openapi/quota/get", Code: 76021, Msg: "cgi_path not found"}
	}
	return &q, nil
}

// env is a catalog and budgets on the real Redis, with lifetime caps of 4
// for wxoa's permanent codes and 100,000 for the rest.
type env struct {
	cat     *catalog.Catalog
	budgets *ratelimit.Budget
}

func newEnv(t *testing.T, budgets map[string]int64) *env {
	t.Helper()
	rdb := testenv.Redis(t)
	clock := fakeclock.New(now)
	return &env{
		cat: catalog.New(rdb, ""),
		budgets: ratelimit.NewBudget(rdb, ratelimit.BudgetConfig{Now: clock.Now, Limits: func(key string) (int64, bool) {
			n, ok := budgets[key]
			return n, ok
		}}),
	}
}

func caps(app string, class wxqr.QuotaClass) (int64, bool) {
	switch {
	case !class.Lifetime():
		return 0, false
	case app == "wxoa" && class == wxqr.ClassOAPerm:
		return 4, true
	}
	return 100000, true
}

func (e *env) checker(t *testing.T, quotas map[string]preflight.QuotaAsker, batch int) *preflight.Checker {
	t.Helper()
	c, err := preflight.New(preflight.Config{
		Catalog: e.cat, LifetimeCaps: caps, Budgets: e.budgets, Quotas: quotas, BatchSize: batch,
		Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (e *env) put(t *testing.T, recs ...*wxqr.Record) {
	t.Helper()
	for _, rec := range recs {
		if err := e.cat.Put(t.Context(), rec); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCheckCountsWhatWouldSpend(t *testing.T) {
	e := newEnv(t, map[string]int64{"wxoa:qrcode/create": 4, "wxmp:wxa/getwxacode": 10000})
	// Made already: permanent 1 and 2 (and 9, another campaign's), a valid
	// temporary 1, an expired temporary 2, a retired expired temporary 3.
	retired := record(temp("wxoa", 3), now.Add(-time.Hour))
	retired.Retired = true
	e.put(t, record(perm("wxoa", 1), time.Time{}), record(perm("wxoa", 2), time.Time{}), record(perm("wxoa", 9), time.Time{}),
		record(temp("wxoa", 1), now.Add(time.Hour)), record(temp("wxoa", 2), now.Add(-time.Hour)), retired)
	if ok, err := e.budgets.Spend(t.Context(), tasks.LimitKey("wxoa", "qrcode/create"), 1); !ok || err != nil {
		t.Fatal(ok, err)
	}
	var campaign []wxqr.Spec
	for i := range 5 {
		campaign = append(campaign, perm("wxoa", int64(i+1)), temp("wxoa", int64(i+1)))
	}
	for i := range 25 {
		campaign = append(campaign, wxaCode("wxmp", i))
	}
	campaign = append(campaign, wxqr.Spec{Kind: wxqr.KindWxaUnlimited, AppID: "wxmp", SceneStr: "s1"})
	oa := &fakeWeChat{quotas: map[string]wechat.Quota{"/cgi-bin/qrcode/create": {DailyLimit: 100000, Used: 10, Remain: 99990}}}
	mp := &fakeWeChat{quotas: map[string]wechat.Quota{"/wxa/getwxacode": {DailyLimit: 10, Used: 8, Remain: 2}}}

	for _, batch := range []int{2, 500} {
		t.Run(fmt.Sprint("batches of ", batch), func(t *testing.T) {
			r, err := e.checker(t, map[string]preflight.QuotaAsker{"wxoa": oa, "wxmp": mp}, batch).Check(t.Context(), codes(campaign...))
			if err != nil {
				t.Fatal(err)
			}
			wantClasses := []preflight.Class{
				{AppID: "wxmp", Class: wxqr.ClassWxaLimited, Codes: 25, Calls: 25, Needed: 25, Lifetime: &preflight.Lifetime{Cap: 100000}},
				{AppID: "wxmp", Class: wxqr.ClassWxaUnlimited, Codes: 1, Calls: 1},
				{AppID: "wxoa", Class: wxqr.ClassOAPerm, Codes: 5, Calls: 3, Needed: 3, Lifetime: &preflight.Lifetime{Cap: 4, Used: 3}},
				{AppID: "wxoa", Class: wxqr.ClassOATemp, Codes: 5, Calls: 3}, // 2 (expired), 4, 5
			}
			checkClasses(t, r.Classes, wantClasses)
			if over := r.Over(); len(over) != 1 || over[0].Class != wxqr.ClassOAPerm || over[0].Lifetime.Remaining() != 1 {
				t.Errorf("Over() = %+v, want wxoa oa_perm with 1 remaining", over)
			}
			checkDaily(t, r, "wxoa", "qrcode/create", 6, 3, preflight.SourceBudget, 2)       // 3 today, then 4 a day
			checkDaily(t, r, "wxmp", "wxa/getwxacode", 25, 2, preflight.SourceWeChat, 4)     // 2 today, then 10 a day
			checkDaily(t, r, "wxmp", "wxa/getwxacodeunlimit", 1, 0, preflight.SourceNone, 1) // no limit known
			if got := r.Days("wxoa", wxqr.ClassOATemp); got != 2 {
				t.Errorf("Days(wxoa, oa_temp) = %d, want 2 (qrcode/create, shared with oa_perm)", got)
			}
			if d := find(t, r, "wxmp", "wxa/getwxacodeunlimit"); d.Unknown == nil || d.WeChat != nil {
				t.Errorf("getwxacodeunlimit: WeChat %v, unknown %v; want unknown (76021)", d.WeChat, d.Unknown)
			}
		})
	}
}

func TestCheckWithoutWeChat(t *testing.T) {
	e := newEnv(t, map[string]int64{"wxoa:qrcode/create": 100})
	campaign := []wxqr.Spec{perm("wxoa", 1), perm("wxoa", 2)}

	t.Run("not asked", func(t *testing.T) {
		r, err := e.checker(t, nil, 0).Check(t.Context(), codes(campaign...))
		if err != nil {
			t.Fatal(err)
		}
		d := checkDaily(t, r, "wxoa", "qrcode/create", 2, 100, preflight.SourceBudget, 1)
		if !errors.Is(d.Unknown, preflight.ErrNotAsked) {
			t.Errorf("Unknown = %v, want ErrNotAsked", d.Unknown)
		}
	})
	t.Run("the account may not ask", func(t *testing.T) {
		oa := &fakeWeChat{err: &wechat.APIError{Op: "openapi/quota/get", Code: 48001, Msg: "api unauthorized"}}
		r, err := e.checker(t, map[string]preflight.QuotaAsker{"wxoa": oa}, 0).Check(t.Context(), codes(campaign...))
		if err != nil {
			t.Fatalf("Check: %v, want the budget instead", err)
		}
		d := checkDaily(t, r, "wxoa", "qrcode/create", 2, 100, preflight.SourceBudget, 1)
		if !errors.Is(d.Unknown, wechat.ErrAccount) {
			t.Errorf("Unknown = %v, want the 48001", d.Unknown)
		}
	})
	t.Run("nothing to make asks nothing", func(t *testing.T) {
		e.put(t, record(perm("wxoa", 1), time.Time{}), record(perm("wxoa", 2), time.Time{}))
		oa := &fakeWeChat{}
		r, err := e.checker(t, map[string]preflight.QuotaAsker{"wxoa": oa}, 0).Check(t.Context(), codes(campaign...))
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Daily) != 0 || len(oa.asked) != 0 || len(r.Over()) != 0 {
			t.Errorf("daily %+v, asked %v, over %+v; want nothing", r.Daily, oa.asked, r.Over())
		}
	})
}

func TestDailyDays(t *testing.T) {
	limited := func(limit, remain int64) *wechat.Quota {
		return &wechat.Quota{DailyLimit: limit, Used: limit - remain, Remain: remain}
	}
	tests := []struct {
		name string
		d    preflight.Daily
		want int
	}{
		{"no calls", preflight.Daily{Budget: &preflight.Budget{Limit: 0}}, 0},
		{"no limit known", preflight.Daily{Calls: 1 << 40}, 1},
		{"WeChat states no limit", preflight.Daily{Calls: 50, WeChat: &wechat.Quota{}}, 1},
		{"fits today", preflight.Daily{Calls: 10, WeChat: limited(100, 10)}, 1},
		{"one more day", preflight.Daily{Calls: 11, WeChat: limited(100, 10)}, 2},
		{"exact days", preflight.Daily{Calls: 210, WeChat: limited(100, 10)}, 3},
		{"the smaller limit", preflight.Daily{Calls: 210, WeChat: limited(100, 10), Budget: &preflight.Budget{Limit: 50, Used: 0}}, 5},
		{"a budget of 0", preflight.Daily{Calls: 1, Budget: &preflight.Budget{Limit: 0}}, -1},
		{"budget lowered below its spend", preflight.Daily{Calls: 1, Budget: &preflight.Budget{Limit: 5, Used: 9}}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.d.Days(); got != tt.want {
				t.Errorf("Days() = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestNewValidates(t *testing.T) {
	for name, cfg := range map[string]preflight.Config{
		"no catalog": {LifetimeCaps: caps},
		"no caps":    {Catalog: (*catalog.Catalog)(nil)},
		"batch":      {Catalog: (*catalog.Catalog)(nil), LifetimeCaps: caps, BatchSize: -1},
	} {
		if _, err := preflight.New(cfg); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
}

func checkClasses(t *testing.T, got, want []preflight.Class) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("classes = %+v, want %+v", got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		gl, wl := g.Lifetime, w.Lifetime
		g.Lifetime, w.Lifetime = nil, nil
		if g != w || (gl == nil) != (wl == nil) || (gl != nil && *gl != *wl) {
			t.Errorf("class %d = %+v (lifetime %+v), want %+v (lifetime %+v)", i, g, gl, w, wl)
		}
	}
}

func find(t *testing.T, r *preflight.Report, app, api string) preflight.Daily {
	t.Helper()
	i := slices.IndexFunc(r.Daily, func(d preflight.Daily) bool { return d.AppID == app && d.API == api })
	if i < 0 {
		t.Fatalf("no daily line for %s %s in %+v", app, api, r.Daily)
	}
	return r.Daily[i]
}

func checkDaily(t *testing.T, r *preflight.Report, app, api string, calls, remaining int64, src preflight.Source, days int) preflight.Daily {
	t.Helper()
	d := find(t, r, app, api)
	gotRemaining, gotSrc := d.Remaining()
	if d.Calls != calls || gotRemaining != remaining || gotSrc != src || d.Days() != days {
		t.Errorf("%s %s: calls %d, remaining %d from %q, days %d; want %d, %d from %q, %d",
			app, api, d.Calls, gotRemaining, gotSrc, d.Days(), calls, remaining, src, days)
	}
	return d
}
