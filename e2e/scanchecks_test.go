package e2e

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// codeScans are the counts enqueue export gives a code.
type codeScans struct {
	ID             string `json:"id"`
	Campaign       string `json:"campaign"`
	Scans          int    `json:"scans"`
	NewFollows     int    `json:"new_follows"`
	Unfollows      int    `json:"unfollows"`
	UniqueScanners int    `json:"unique_scanners"`
}

// checkScanExport compares every code's counts in the export with the
// plan's: exactly, but for the unique scanners, a HyperLogLog's estimate,
// which two scanners falling in one of its registers can put one low.
func (h *harness) checkScanExport(plan *scanPlan, codes []*scanCode) {
	h.t.Helper()
	r := h.mustRun(0, "enqueue", "export", "--format", "jsonl")
	got := map[string]codeScans{}
	sc := bufio.NewScanner(strings.NewReader(r.stdout))
	for sc.Scan() {
		var c codeScans
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			h.t.Fatalf("export line %q: %v", sc.Text(), err)
		}
		got[c.ID] = c
	}
	wrong := 0
	for _, code := range codes {
		want := codeScans{ID: code.id, Campaign: code.campaign}
		if c := plan.counts[code.id]; c != nil {
			want.Scans, want.NewFollows, want.Unfollows, want.UniqueScanners = c.scans, c.newFollows, c.unfollows, len(c.scanners)
		}
		g := got[code.id]
		if uniquesClose(g.UniqueScanners, want.UniqueScanners) {
			g.UniqueScanners = want.UniqueScanners
		}
		if g != want {
			wrong++
			if wrong <= 5 {
				h.t.Errorf("export of %s: %+v, want %+v", code.id, got[code.id], want)
			}
		}
	}
	if wrong > 0 {
		h.t.Errorf("%d of %d codes have wrong counts in the export", wrong, len(codes))
	}
}

// uniquesClose reports whether a HyperLogLog's count of unique scanners is
// within its error of the true one: Redis's standard error is 0.81%; with
// few scanners, a collision or two.
func uniquesClose(got, want int) bool {
	return got >= want-1-want/50 && got <= want+1+want/50
}

// checkScanStatus compares each campaign's scans and net follows in
// enqueue status with the plan's.
func (h *harness) checkScanStatus(want map[string]*scanCounts) {
	h.t.Helper()
	out := h.mustRun(0, "enqueue", "status").stdout
	for name, c := range want {
		var fields []string
		for line := range strings.Lines(out) {
			if f := strings.Fields(line); len(f) >= 10 && f[0] == name {
				fields = f
			}
		}
		if fields == nil {
			h.t.Errorf("enqueue status has no line for campaign %s:\n%s", name, out)
			continue
		}
		scans, net := fields[8], fields[9]
		if scans != strconv.Itoa(c.scans) || net != strconv.Itoa(c.newFollows-c.unfollows) {
			h.t.Errorf("enqueue status, %s: scans %s, net follows %s; want %d, %d", name, scans, net, c.scans, c.newFollows-c.unfollows)
		}
	}
}

// checkScanPages starts a worker for its monitor and compares /campaigns
// and /metrics with the plan.
func (h *harness) checkScanPages(plan *scanPlan, codes []*scanCode) {
	h.t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(freePort(h.t))
	withMonitor := *h
	withMonitor.env = append(append([]string(nil), h.env...), "WXQR_MONITOR_ADDR="+addr)
	worker := withMonitor.start(nil, "worker")
	defer worker.cmd.Process.Kill()
	base := "http://" + addr
	eventually(h.t, time.Minute, "the worker's monitor answering", func() bool {
		_, err := h.get(base + "/healthz")
		return err == nil
	})

	page, err := h.get(base + "/campaigns")
	if err != nil {
		h.t.Fatal(err)
	}
	for name, c := range plan.campaignCounts(codes) {
		row := regexp.MustCompile(`(?s)<tr data-campaign="` + regexp.QuoteMeta(name) + `">.*?</tr>`).FindString(page)
		for field, want := range map[string]int{"scans": c.scans, "new-follows": c.newFollows, "net-follows": c.newFollows - c.unfollows} {
			m := regexp.MustCompile(`data-count="` + field + `">([^<]*)<`).FindStringSubmatch(row)
			if m == nil || strings.ReplaceAll(m[1], ",", "") != strconv.Itoa(want) {
				h.t.Errorf("/campaigns, %s, %s: %v, want %d", name, field, m, want)
			}
		}
	}

	metrics, err := h.get(base + "/metrics")
	if err != nil {
		h.t.Fatal(err)
	}
	sums := map[string]int{}
	for line := range strings.Lines(metrics) {
		if !strings.HasPrefix(line, "wxqr_scan_events_total{") {
			continue
		}
		f := strings.Fields(line)
		n, _ := strconv.Atoi(f[len(f)-1])
		sums[regexp.MustCompile(`attributed="(\w+)"`).FindStringSubmatch(line)[1]] += n
	}
	if sums["true"] != plan.counted-plan.unattributed || sums["false"] != plan.unattributed {
		h.t.Errorf("wxqr_scan_events_total: attributed %d, unattributed %d; want %d, %d",
			sums["true"], sums["false"], plan.counted-plan.unattributed, plan.unattributed)
	}
}

// get returns the body of a GET that answered 200.
func (h *harness) get(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = &httpStatusError{url, resp.StatusCode}
	}
	return string(body), err
}

type httpStatusError struct {
	url    string
	status int
}

func (e *httpStatusError) Error() string { return e.url + ": status " + strconv.Itoa(e.status) }
