package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/wechat/wechatsim"
)

// preflightRow returns the cells of the pre-flight table's row of app and
// class, split on runs of two or more spaces.
func preflightRow(t *testing.T, out, app string, class wxqr.QuotaClass) []string {
	t.Helper()
	for line := range strings.SplitSeq(out, "\n") {
		var cells []string
		for cell := range strings.SplitSeq(line, "  ") {
			if cell = strings.TrimSpace(cell); cell != "" {
				cells = append(cells, cell)
			}
		}
		if len(cells) == 7 && cells[0] == app && cells[1] == string(class) {
			return cells
		}
	}
	t.Fatalf("no pre-flight row for %s %s in:\n%s", app, class, out)
	return nil
}

func checkRow(t *testing.T, out, app string, class wxqr.QuotaClass, want ...string) {
	t.Helper()
	got := preflightRow(t, out, app, class)[2:]
	if strings.Join(got, " | ") != strings.Join(want, " | ") {
		t.Errorf("pre-flight row %s %s:\n got  %q\n want %q\n%s", app, class, got, want, out)
	}
}

// permJobs writes a jobs file of oa_perm codes first..last of wxoa.
func permJobs(t *testing.T, h *harness, first, last int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("kind,app_id,scene_id,campaign\n")
	for i := first; i <= last; i++ {
		fmt.Fprintf(&b, "oa_perm,wxoa,%d,spring\n", i)
	}
	return h.file(t, "perm.csv", b.String())
}

// madePerm records permanent codes 1..n of wxoa as made, so that they are
// in the lifetime ledger.
func madePerm(t *testing.T, h *harness, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		if err := h.catalog.Put(t.Context(), record(wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: "wxoa", SceneID: int64(i)}, "spring", time.Time{})); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPreflightRefusesWhatDoesNotFit(t *testing.T) {
	h := newHarness(t)
	h.env["WXQR_LIFETIME_QUOTAS"] = "wxoa:oa_perm=5"
	madePerm(t, h, 3)
	jobs := permJobs(t, h, 1, 6) // 1..3 made: 3 new codes, 2 slots left

	for _, args := range [][]string{{jobs}, {"--dry-run", jobs}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := h.run(t, "", args...)
			want := "wxoa oa_perm needs 3 new codes, 2 remain (cap 5, 3 made)"
			if exitCode(r.err) != exitInput || !strings.Contains(r.err.Error(), want) || !strings.Contains(r.err.Error(), "nothing queued") {
				t.Fatalf("exit %d, error %v; want exit 2 saying %q and nothing queued", exitCode(r.err), r.err, want)
			}
			checkRow(t, r.stdout, "wxoa", wxqr.ClassOAPerm, "6", "3", "2 of 5 (too few)", "100000 of 100000 (qrcode/create, wechat)", "1")
			if qs := h.queues(t); len(qs) != 0 {
				t.Errorf("queues %v exist, want none: nothing queued", qs)
			}
		})
	}
}

func TestPreflightAllowPartialQueues(t *testing.T) {
	h := newHarness(t)
	h.env["WXQR_LIFETIME_QUOTAS"] = "wxoa:oa_perm=5"
	madePerm(t, h, 3)
	r := h.mustRun(t, "", "--allow-partial", permJobs(t, h, 1, 6))
	if !strings.Contains(r.stderr, "--allow-partial") || !strings.Contains(r.stderr, "wxoa oa_perm needs 3 new codes, 2 remain") {
		t.Errorf("stderr does not say the campaign is queued over its quota:\n%s", r.stderr)
	}
	checkSummary(t, r.stdout, map[string]int{"queued": 3, "already generated": 3})
	if n := h.pending(t, "wxoa.oa_perm"); n != 3 {
		t.Errorf("wxoa.oa_perm holds %d tasks, want 3", n)
	}
}

func TestPreflightDryRunPrintsTheTable(t *testing.T) {
	h := newHarness(t)
	// WeChat allows wxoa 50 qrcode/create calls today, fewer than wxqr's
	// budget: 120 codes take today's 50, then 50 a day.
	h.sim.SetLimits("wxoa", wechatsim.Limits{Daily: map[string]int{wechatsim.APICreateQRCode: 50}})
	var b strings.Builder
	b.WriteString("kind,app_id,scene_id,path\n")
	for i := 1; i <= 120; i++ {
		fmt.Fprintf(&b, "oa_temp,wxoa,%d,\n", i)
	}
	for i := 1; i <= 4; i++ {
		fmt.Fprintf(&b, "oa_perm,wxoa,%d,\n", i)
		fmt.Fprintf(&b, "wxa_code,wxmp,,pages/item?id=%d\n", i)
	}
	madePerm(t, h, 1)

	r := h.mustRun(t, "", "--dry-run", h.file(t, "jobs.csv", b.String()))
	// qrcode/create: 119 + 3 calls, 50 today then 50 a day.
	checkRow(t, r.stdout, "wxoa", wxqr.ClassOATemp, "120", "120", "-", "50 of 50 (qrcode/create, wechat)", "3")
	checkRow(t, r.stdout, "wxoa", wxqr.ClassOAPerm, "4", "3", "99999 of 100000", "50 of 50 (qrcode/create, wechat)", "3")
	checkRow(t, r.stdout, "wxmp", wxqr.ClassWxaLimited, "4", "4", "100000 of 100000", "10000 of 10000 (wxa/getwxacode, wechat)", "1")
	checkSummary(t, r.stdout, map[string]int{"queued (dry run)": 0})
	if qs := h.queues(t); len(qs) != 0 {
		t.Errorf("dry run created queues %v", qs)
	}
	if got := h.sim.Usage("wxoa", wechatsim.APICreateQRCode).Made; got != 0 {
		t.Errorf("the pre-flight made %d codes, want none", got)
	}
}

func TestPreflightFallsBackToTheBudget(t *testing.T) {
	h := newHarness(t)
	h.env["WXQR_DAILY_BUDGETS"] = "wxoa:qrcode/create=40"
	// The account may not ask (48001): wxqr's budget stands in.
	h.sim.InjectFault(wechatsim.APIQuotaGet, wechatsim.Fault{Kind: wechatsim.FaultErrcode, Code: 48001})
	r := h.mustRun(t, "", "--dry-run", "--app", "wxoa", "--kind", "oa_temp", "--scene-ids", "1-100")
	checkRow(t, r.stdout, "wxoa", wxqr.ClassOATemp, "100", "100", "-", "40 of 40 (qrcode/create, budget)", "3")
	if want := "wxoa qrcode/create: WeChat's daily quota is unknown (wechat: openapi/quota/get: errcode 48001"; !strings.Contains(r.stdout, want) {
		t.Errorf("stdout does not say why WeChat's quota is unknown (%q):\n%s", want, r.stdout)
	}
	for _, token := range h.sim.Tokens("wxoa") {
		if strings.Contains(r.stdout+r.stderr, token) {
			t.Errorf("output shows an access token:\n%s%s", r.stdout, r.stderr)
		}
	}
}

func TestStatusShowsTheConfiguredCap(t *testing.T) {
	h := newHarness(t)
	h.env["WXQR_LIFETIME_QUOTAS"] = "wxoa:oa_perm=5"
	madePerm(t, h, 3)
	r := h.mustRun(t, "", "status")
	for line := range strings.SplitSeq(r.stdout, "\n") {
		if f := strings.Fields(line); len(f) > 5 && f[0] == "wxoa.oa_perm" {
			if f[5] != "3/5" {
				t.Errorf("queue line %q, want quota 3/5", line)
			}
			return
		}
	}
	t.Errorf("no line for wxoa.oa_perm:\n%s", r.stdout)
}
