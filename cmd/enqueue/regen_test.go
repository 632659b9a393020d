package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/internal/config"
	"github.com/wxqr/wxqr/ratelimit"
)

// dueCodes records temporary codes of wxoa: three due within 72 hours
// (soonest first: scenes 3, 1, 2), one due later, one retired.
func dueCodes(t *testing.T, h *harness) map[int64]*wxqr.Record {
	t.Helper()
	now := time.Now()
	recs := map[int64]*wxqr.Record{}
	for _, c := range []struct {
		scene     int64
		campaign  string
		expiresIn time.Duration
	}{
		{1, "spring", 2 * time.Hour},
		{2, "spring", 30 * time.Hour},
		{3, "autumn", time.Hour},
		{4, "spring", 80 * time.Hour},
		{5, "spring", 3 * time.Hour},
	} {
		rec := record(wxqr.Spec{Kind: wxqr.KindOATemp, AppID: "wxoa", SceneID: c.scene}, c.campaign, now.Add(c.expiresIn))
		rec.ExpireSeconds = 7 * 86400
		if err := h.catalog.Put(t.Context(), rec); err != nil {
			t.Fatal(err)
		}
		recs[c.scene] = rec
	}
	if _, err := h.catalog.Retire(t.Context(), recs[5].ID); err != nil {
		t.Fatal(err)
	}
	return recs
}

// listed returns the scene and outcome of each code regen lists, in order.
func listed(out string) []string {
	var codes []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 7 && f[1] == "wxoa" {
			codes = append(codes, f[2]+" "+strings.Join(f[6:], " "))
		}
	}
	return codes
}

func TestRegenDryRun(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"every campaign", nil, []string{"3 to queue", "1 to queue", "2 to queue"}},
		{"one campaign", []string{"--campaign", "spring"}, []string{"1 to queue", "2 to queue"}},
		{"shorter horizon", []string{"--within", "1d"}, []string{"3 to queue", "1 to queue"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			dueCodes(t, h)
			r := h.mustRun(t, "", append([]string{"regen", "--within", "72h", "--dry-run"}, tt.args...)...)
			if got := listed(r.stdout); !slices.Equal(got, tt.want) {
				t.Errorf("listed %v, want %v\n%s", got, tt.want, r.stdout)
			}
			checkSummary(t, r.stdout, map[string]int{"due": len(tt.want), "to queue (dry run)": len(tt.want), "deferred (over budget)": 0})
			if qs := h.queues(t); len(qs) != 0 {
				t.Errorf("a dry run created queues %v", qs)
			}
		})
	}
}

func TestRegenQueues(t *testing.T) {
	h := newHarness(t)
	recs := dueCodes(t, h)

	r := h.mustRun(t, "", "regen", "--within", "3d")
	if got, want := listed(r.stdout), []string{"3 queued", "1 queued", "2 queued"}; !slices.Equal(got, want) {
		t.Errorf("listed %v, want %v\n%s", got, want, r.stdout)
	}
	checkSummary(t, r.stdout, map[string]int{"due": 3, "queued": 3, "already queued": 0})
	infos, err := h.inspector.ListPendingTasks("wxoa.oa_temp")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, info := range infos {
		ids = append(ids, info.ID)
	}
	slices.Sort(ids)
	want := []string{recs[1].ID + ":g2", recs[2].ID + ":g2", recs[3].ID + ":g2"}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Errorf("queued tasks %v, want %v", ids, want)
	}

	// Again: each code is queued once per generation.
	r = h.mustRun(t, "", "regen", "--within", "3d")
	checkSummary(t, r.stdout, map[string]int{"due": 3, "queued": 0, "already queued": 3})
	if n := h.pending(t, "wxoa.oa_temp"); n != 3 {
		t.Errorf("after the second run wxoa.oa_temp holds %d tasks, want 3", n)
	}

	r = h.mustRun(t, "", "regen", "--last")
	if !strings.Contains(r.stdout, "scan by hand") {
		t.Errorf("--last does not show the scan by hand:\n%s", r.stdout)
	}
	checkSummary(t, r.stdout, map[string]int{"due": 3, "queued": 0, "already queued": 3})
}

func TestRegenBudget(t *testing.T) {
	tests := []struct {
		name     string
		budgets  string
		spent    int64 // of wxoa's qrcode/create today, before the scan
		want     []string
		deferred int
	}{
		{"default: WeChat's 100,000", "", 0, []string{"3 queued", "1 queued", "2 queued"}, 0},
		{"every app", "qrcode/create=2", 0, []string{"3 queued", "1 queued", "2 deferred"}, 1},
		{"partly spent", "qrcode/create=2", 1, []string{"3 queued", "1 deferred", "2 deferred"}, 2},
		{"per app over every app", "wxoa:qrcode/create=1,qrcode/create=50", 0, []string{"3 queued", "1 deferred", "2 deferred"}, 2},
		{"another app's", "wxmp:qrcode/create=0", 0, []string{"3 queued", "1 queued", "2 queued"}, 0},
		{"another API's", "wxa/getwxacode=0", 0, []string{"3 queued", "1 queued", "2 queued"}, 0},
		{"none left", " qrcode/create=0 ", 0, []string{"3 deferred", "1 deferred", "2 deferred"}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			recs := dueCodes(t, h)
			h.env[config.EnvDailyBudgets] = tt.budgets
			if tt.spent > 0 {
				budgets, err := config.LoadDailyBudgets(func(string) string { return tt.budgets })
				if err != nil {
					t.Fatal(err)
				}
				if ok, err := ratelimit.NewBudget(h.rdb, ratelimit.BudgetConfig{Limits: budgets.Lookup}).Spend(t.Context(), "wxoa:qrcode/create", tt.spent); err != nil || !ok {
					t.Fatalf("spend: %v, %v", ok, err)
				}
			}
			r := h.mustRun(t, "", "regen", "--within", "72h")
			if got := listed(r.stdout); !slices.Equal(got, tt.want) {
				t.Errorf("listed %v, want %v\n%s", got, tt.want, r.stdout)
			}
			checkSummary(t, r.stdout, map[string]int{"queued": 3 - tt.deferred, "deferred (over budget)": tt.deferred})
			if n := h.pending(t, "wxoa.oa_temp"); n != 3-tt.deferred {
				t.Errorf("wxoa.oa_temp holds %d tasks, want %d", n, 3-tt.deferred)
			}
			if tt.deferred > 0 {
				// The soonest deferred code is the first one listed deferred.
				first := map[int]int64{1: 2, 2: 1, 3: 3}[tt.deferred]
				want := "the soonest deferred code expires at " + recs[first].ExpiresAt.UTC().Format(time.RFC3339)
				if !strings.Contains(r.stdout, want) {
					t.Errorf("output does not say %q:\n%s", want, r.stdout)
				}
			}
		})
	}
}

func TestRegenNothingDue(t *testing.T) {
	h := newHarness(t)
	r := h.mustRun(t, "", "regen", "--last")
	if !strings.Contains(r.stdout, "no scan has run yet") {
		t.Errorf("--last before any scan: %q", r.stdout)
	}
	r = h.mustRun(t, "", "regen")
	if !strings.Contains(r.stdout, "no code expires before") {
		t.Errorf("regen with nothing due:\n%s", r.stdout)
	}
	checkSummary(t, r.stdout, map[string]int{"due": 0, "queued": 0})
}

func TestRegenUsageErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		budgets string
		want    string
	}{
		{"bad horizon", []string{"--within", "soon"}, "", "--within"},
		{"zero horizon", []string{"--within", "0h"}, "", "must be positive"},
		{"argument", []string{"spring"}, "", "regen takes no arguments"},
		{"last with a scan's flags", []string{"--last", "--within", "3d"}, "", "--last takes no other flag"},
		{"bad budget", nil, "qrcode/create=lots", "WXQR_DAILY_BUDGETS: entry 1 (qrcode/create)"},
		{"budget entry without value", nil, "qrcode/create", "WXQR_DAILY_BUDGETS: entry 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.env[config.EnvDailyBudgets] = tt.budgets
			r := h.run(t, "", append([]string{"regen"}, tt.args...)...)
			if exitCode(r.err) != exitInput || !strings.Contains(r.err.Error(), tt.want) {
				t.Errorf("exit %d, error %v; want exit %d and %q", exitCode(r.err), r.err, exitInput, tt.want)
			}
		})
	}
}

func TestRegenHelp(t *testing.T) {
	var stdout, stderr strings.Builder
	// No environment at all: help must not need configuration.
	err := run(t.Context(), []string{"regen", "-h"}, func(string) string { return "" }, strings.NewReader(""), &stdout, &stderr)
	if exitCode(err) != exitOK {
		t.Errorf("exit code %d (%v), want 0", exitCode(err), err)
	}
	if !strings.HasPrefix(stdout.String(), "Usage: enqueue regen") || !strings.Contains(stdout.String(), "Examples") {
		t.Errorf("stdout = %q, want the usage with examples", stdout.String())
	}
}
