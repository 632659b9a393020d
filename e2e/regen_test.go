package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wxqr/wxqr/catalog"

	"github.com/hibiken/asynq"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/internal/qrdecode"
	"github.com/wxqr/wxqr/tasks"
	"github.com/wxqr/wxqr/wechat/wechatsim"
)

// tempRows are n temporary codes of the OA app valid for expire seconds,
// scenes from first on.
func tempRows(first, n, expire int, campaign string) []string {
	var rows []string
	for i := range n {
		rows = append(rows, fmt.Sprintf("oa_temp,%s,%d,,,,%d,%s", oaApp, first+i, expire, campaign))
	}
	return rows
}

// byID indexes records by id.
func byID(recs []wxqr.Record) map[string]wxqr.Record {
	m := make(map[string]wxqr.Record, len(recs))
	for _, r := range recs {
		m[r.ID] = r
	}
	return m
}

// waitUntil lets the wall clock reach when: the codes under test must age
// for real, as the workers read the time.
func waitUntil(t *testing.T, when time.Time) {
	t.Helper()
	select {
	case <-t.Context().Done():
		t.Fatal(t.Context().Err())
	case <-time.After(time.Until(when)):
	}
}

// counts parses the "label  N" summary lines of a command's output.
func counts(out string) map[string]int {
	m := map[string]int{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		if n, err := strconv.Atoi(f[len(f)-1]); err == nil {
			m[strings.Join(f[:len(f)-1], " ")] = n
		}
	}
	return m
}

func wantCounts(t *testing.T, what, out string, want map[string]int) {
	t.Helper()
	got := counts(out)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q = %d, want %d\n%s", what, k, got[k], v, out)
		}
	}
}

// TestRegenerate regenerates codes of a short validity by hand, as an
// operator does: every due code once, at the same key, with a new ticket,
// url and expiry; retired codes never.
func TestRegenerate(t *testing.T) {
	// Codes live 30 s; a scan regenerates those expiring within 20 s.
	const validity, horizon = 30 * time.Second, "20s"
	h := newHarness(t, wechatsim.Limits{}, "WXQR_REGEN_SCHEDULE=off")
	rows := tempRows(1, 12, int(validity/time.Second), campaign)
	rows = append(rows, tempRows(100, 4, int(validity/time.Second), "ended")...)
	rows = append(rows, fmt.Sprintf("oa_perm,%s,7,,,,,%s", oaApp, campaign))
	h.mustRun(0, "enqueue", writeCSV(t, csvHeader, rows))
	h.mustRun(0, "worker", "--until-idle")
	before := byID(h.export())
	if len(before) != 17 {
		t.Fatalf("%d codes made, want 17", len(before))
	}

	// Retired by campaign and by code: never regenerated.
	h.mustRun(0, "enqueue", "retire", "--campaign", "ended")
	retiredByID := wxqr.Spec{Kind: wxqr.KindOATemp, AppID: oaApp, SceneID: 12}.ID()
	h.mustRun(0, "enqueue", "retire", "--id", retiredByID)
	retired := func(rec wxqr.Record) bool { return rec.Campaign == "ended" || rec.ID == retiredByID }

	dry := h.mustRun(0, "enqueue", "regen", "--within", "10m", "--dry-run")
	wantCounts(t, "dry run", dry.stdout, map[string]int{"due": 11, "to queue (dry run)": 11})
	for _, rec := range before {
		if listed := strings.Contains(dry.stdout, rec.ID); listed != (rec.Kind == wxqr.KindOATemp && !retired(rec)) {
			t.Errorf("dry run lists %s (%s, campaign %s): %v", rec.ID, rec.Kind, rec.Campaign, listed)
		}
	}
	createCalls := h.sim.Calls(wechatsim.APICreateQRCode)
	if createCalls != 17 || h.pendingGenerate(t) != 0 {
		t.Fatalf("after the dry run: %d create calls, %d tasks queued; want 17 and none", createCalls, h.pendingGenerate(t))
	}

	var lastExpiry time.Time
	for _, rec := range before {
		lastExpiry = latest(lastExpiry, rec.ExpiresAt)
	}
	waitUntil(t, lastExpiry.Add(-20*time.Second+time.Second))

	r := h.mustRun(0, "enqueue", "regen", "--within", horizon)
	wantCounts(t, "scan", r.stdout, map[string]int{"due": 11, "queued": 11, "already queued": 0, "deferred (over budget)": 0})
	// A second scan before the workers ran queues nothing again.
	r = h.mustRun(0, "enqueue", "regen", "--within", horizon)
	wantCounts(t, "second scan", r.stdout, map[string]int{"due": 11, "queued": 0, "already queued": 11})

	h.mustRun(0, "worker", "--until-idle")
	// The new codes live 30 s again: a scan now finds nothing due.
	r = h.mustRun(0, "enqueue", "regen", "--within", horizon)
	wantCounts(t, "scan after regeneration", r.stdout, map[string]int{"due": 0, "queued": 0})

	after := byID(h.export())
	for id, old := range before {
		rec := after[id]
		if old.Kind != wxqr.KindOATemp || retired(old) {
			if rec.Generation != 1 || rec.Ticket != old.Ticket {
				t.Errorf("%s (%s, %s): generation %d ticket %q, want it untouched", id, old.Kind, old.Campaign, rec.Generation, rec.Ticket)
			}
			continue
		}
		if rec.Generation != 2 || rec.Ticket == old.Ticket || rec.URL == old.URL {
			t.Errorf("%s: generation %d ticket %q url %q; want generation 2, new ticket and url (were %q, %q)",
				id, rec.Generation, rec.Ticket, rec.URL, old.Ticket, old.URL)
		}
		if !rec.ExpiresAt.After(old.ExpiresAt) || !rec.ExpiresAt.Equal(rec.CreatedAt.Add(validity)) || rec.ExpireSeconds != old.ExpireSeconds {
			t.Errorf("%s: export says expires_at %v (created %v, %d s); want %v after creation, later than %v",
				id, rec.ExpiresAt, rec.CreatedAt, rec.ExpireSeconds, validity, old.ExpiresAt)
		}
		if rec.ObjectKey != old.ObjectKey || rec.Campaign != old.Campaign {
			t.Errorf("%s: key %s campaign %q, was %s %q", id, rec.ObjectKey, rec.Campaign, old.ObjectKey, old.Campaign)
		}
		obj, err := h.store.Get(t.Context(), old.Spec.Key())
		if err != nil {
			t.Fatal(err)
		}
		if content, err := qrdecode.Decode(obj.Body); err != nil || content != rec.URL {
			t.Errorf("%s: the image at %s decodes to %q (%v), want the new url %q", id, old.Spec.Key(), content, err, rec.URL)
		}
		if stored, err := catalog.ReadRecord(t.Context(), h.store, old.Spec.Key()); err != nil || stored.Generation != 2 {
			t.Errorf("%s: the image's own record %+v (%v), want generation 2", id, stored, err)
		}
	}
	if got := len(h.checkStored()); got != 17 {
		t.Errorf("%d codes stored, want 17", got)
	}
	if got := h.sim.Calls(wechatsim.APICreateQRCode); got != 17+11 {
		t.Errorf("qrcode/create called %d times, want 28 (17 codes, 11 regenerated once)", got)
	}
}

// TestRegenerateWithinBudget: with a daily budget smaller than the codes
// due, the soonest-expiring are regenerated and the rest reported.
func TestRegenerateWithinBudget(t *testing.T) {
	// 14 calls a day: the first generation of 10 codes spends 10.
	h := newHarness(t, wechatsim.Limits{}, "WXQR_REGEN_SCHEDULE=off", "WXQR_DAILY_BUDGETS=qrcode/create=14")
	var rows []string
	for i := range 10 {
		// Scene i+1 lives an hour and i minutes: the lower, the sooner.
		rows = append(rows, tempRows(i+1, 1, 3600+60*i, campaign)...)
	}
	h.mustRun(0, "enqueue", writeCSV(t, csvHeader, rows))
	h.mustRun(0, "worker", "--until-idle")
	before := h.export()
	slices.SortFunc(before, func(a, b wxqr.Record) int { return a.ExpiresAt.Compare(b.ExpiresAt) })

	r := h.mustRun(0, "enqueue", "regen", "--within", "2h")
	wantCounts(t, "scan", r.stdout, map[string]int{"due": 10, "queued": 4, "deferred (over budget)": 6})
	if want := "the soonest deferred code expires at " + before[4].ExpiresAt.UTC().Format(time.RFC3339); !strings.Contains(r.stdout, want) {
		t.Errorf("scan output does not say %q:\n%s", want, r.stdout)
	}
	for i, rec := range before {
		want := map[bool]string{true: "queued", false: "deferred"}[i < 4]
		if !strings.Contains(r.stdout, rec.ID+"  "+want) {
			t.Errorf("code %s (expiring %v) is not listed as %s:\n%s", rec.ID, rec.ExpiresAt, want, r.stdout)
		}
	}
	h.mustRun(0, "worker", "--until-idle")

	after := byID(h.export())
	for i, old := range before {
		if want := map[bool]int{true: 2, false: 1}[i < 4]; after[old.ID].Generation != want {
			t.Errorf("code %s expiring %v: generation %d, want %d", old.ID, old.ExpiresAt, after[old.ID].Generation, want)
		}
	}
	if got := len(h.checkStored()); got != 10 {
		t.Errorf("%d codes stored, want 10", got)
	}
	if got := h.sim.Calls(wechatsim.APICreateQRCode); got != 14 {
		t.Errorf("qrcode/create called %d times, want the 14 of the budget", got)
	}
	// The day's budget is spent: the next scan queues nothing.
	r = h.mustRun(0, "enqueue", "regen", "--within", "2h")
	wantCounts(t, "scan with the budget spent", r.stdout, map[string]int{"queued": 0, "deferred (over budget)": 10})
}

// TestRegenerateThreeWorkers runs three worker processes on a schedule of a
// scan per second: each slot is scanned once for the fleet, and each code
// regenerated once per cycle (every generation made exactly once).
func TestRegenerateThreeWorkers(t *testing.T) {
	// Codes live 30 s and are due 20 s before they expire: a cycle every
	// 10 s or so.
	h := newHarness(t, wechatsim.Limits{}, "WXQR_REGEN_SCHEDULE=@every 1s", "WXQR_REGEN_HORIZON=20s", "LOG_LEVEL=debug")
	var workers []*proc
	for range 3 {
		workers = append(workers, h.start(nil, "worker"))
	}
	const codes = 15
	h.mustRun(0, "enqueue", writeCSV(t, csvHeader, tempRows(1, codes, 30, campaign)))

	eventually(t, 2*time.Minute, "every code regenerated twice (generation 3)", func() bool {
		n, low := 0, 0
		err := h.cat.Each(t.Context(), "", func(rec *wxqr.Record) error {
			if n == 0 || rec.Generation < low {
				low = rec.Generation
			}
			n++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return n == codes && low >= 3
	})
	var logs []logLine
	for i, w := range workers {
		if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if r := w.wait(); r.code != 0 {
			t.Errorf("worker %d exited %d:\n%s", i+1, r.code, tail(r.stderr, 20))
		}
		logs = append(logs, parseLogs(t, w.stderr.String())...)
	}

	// The workers finished what they had under way before they stopped:
	// every object matches its record, whatever its generation.
	h.checkStored()
	recs := h.export()
	sumGenerations := 0
	for _, rec := range recs {
		sumGenerations += rec.Generation
	}
	if got := h.sim.Calls(wechatsim.APICreateQRCode); got != sumGenerations {
		t.Errorf("qrcode/create called %d times, want %d, one per generation of each code", got, sumGenerations)
	}

	// Every generation of every code was made once, none skipped.
	made := map[string][]int{} // code id -> generations made, by any worker
	scansQueued := map[string]int{}
	scansRun := map[string]int{}
	queuedByScans := 0
	foundMade := 0 // regenerations that ran after their generation was made
	for _, l := range logs {
		switch l.Message {
		case "code generated":
			id, _, _ := strings.Cut(l.TaskID, ":")
			made[id] = append(made[id], l.Generation)
		case "code exists as asked":
			if strings.Contains(l.TaskID, ":g") {
				foundMade++
			}
		case "regeneration scan queued":
			scansQueued[l.Slot]++
		case "regeneration scan":
			scansRun[l.Slot]++
			queuedByScans += l.Queued
		}
	}
	for _, rec := range recs {
		gens := made[rec.ID]
		slices.Sort(gens)
		want := make([]int, rec.Generation)
		for i := range want {
			want[i] = i + 1
		}
		if !slices.Equal(gens, want) {
			t.Errorf("code %s at generation %d: generations made %v, want %v", rec.ID, rec.Generation, gens, want)
		}
	}
	// Each slot was queued by one worker and scanned once.
	for slot, n := range scansQueued {
		if n != 1 {
			t.Errorf("slot %s queued by %d workers, want 1", slot, n)
		}
	}
	for slot, n := range scansRun {
		if n != 1 {
			t.Errorf("slot %s scanned %d times, want once", slot, n)
		}
	}
	if len(scansRun) < 10 {
		t.Errorf("%d scans ran, want one a second for over 10 s", len(scansRun))
	}
	// What the scans queued was made, still waits, or (a scan that read a
	// code just before its regeneration finished queues that generation
	// again) found its generation made and spent nothing: the create calls
	// above add up to one per generation.
	waiting := h.pendingGenerate(t)
	if regenerated := sumGenerations - codes; queuedByScans != regenerated+waiting+foundMade {
		t.Errorf("scans queued %d regenerations; %d were made, %d wait and %d found their generation made", queuedByScans, regenerated, waiting, foundMade)
	}
	t.Logf("%d regenerations queued again after they were made", foundMade)
}

// logLine is the part of a worker's JSON log line these tests read.
type logLine struct {
	Message    string `json:"message"`
	TaskID     string `json:"task_id"`
	Generation int    `json:"generation"`
	Slot       string `json:"slot"`
	Queued     int    `json:"queued"`
}

func parseLogs(t *testing.T, stderr string) []logLine {
	t.Helper()
	var lines []logLine
	for _, s := range strings.Split(stderr, "\n") {
		if !strings.HasPrefix(s, "{") {
			continue
		}
		var l logLine
		if err := json.Unmarshal([]byte(s), &l); err != nil {
			t.Fatalf("log line %q: %v", s, err)
		}
		lines = append(lines, l)
	}
	return lines
}

// pendingGenerate counts the generate tasks left in the OA app's
// temporary-code queue: waiting, retrying or running.
func (h *harness) pendingGenerate(t *testing.T) int {
	t.Helper()
	inspector := asynq.NewInspector(h.opt)
	defer inspector.Close()
	queue := tasks.QueueName(oaApp, wxqr.ClassOATemp)
	queues, err := inspector.Queues()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(queues, queue) {
		return 0
	}
	info, err := inspector.GetQueueInfo(queue)
	if err != nil {
		t.Fatal(err)
	}
	return info.Pending + info.Active + info.Scheduled + info.Retry
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
