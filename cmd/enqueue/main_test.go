package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/internal/testenv"
	"github.com/wxqr/wxqr/jobfile"
	"github.com/wxqr/wxqr/jobfile/jobfiletest"
	"github.com/wxqr/wxqr/storage"
	"github.com/wxqr/wxqr/tasks"
	"github.com/wxqr/wxqr/wechat/wechatsim"
)

// harness runs the command against a Redis database of its own and a
// WeChat simulator, with two apps configured: wxoa (oa) and wxmp (mp).
type harness struct {
	env       map[string]string
	rdb       *redis.Client
	inspector *asynq.Inspector
	catalog   *catalog.Catalog
	sim       *wechatsim.Server
	dir       string
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	opts := testenv.RedisOptions(t)
	u := url.URL{Scheme: "redis", Host: opts.Addr, Path: "/" + strconv.Itoa(opts.DB)}
	if opts.Password != "" {
		u.User = url.UserPassword(opts.Username, opts.Password)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	dir := t.TempDir()
	sim := wechatsim.NewServer(wechatsim.Config{Apps: map[string]wechatsim.App{
		"wxoa": {Secret: "s3cr3t-oa", Type: wechatsim.OfficialAccount},
		"wxmp": {Secret: "s3cr3t-mp", Type: wechatsim.MiniProgram},
	}})
	t.Cleanup(sim.Close)
	return &harness{
		env: map[string]string{
			"REDIS_URL":           u.String(),
			"WXQR_APPS":           "wxoa:s3cr3t-oa:oa,wxmp:s3cr3t-mp:mp",
			"WXQR_STORAGE":        "file://" + filepath.ToSlash(filepath.Join(dir, "bucket")),
			"WECHAT_API_BASE_URL": sim.URL(),
			"WECHAT_MP_BASE_URL":  sim.URL(),
		},
		rdb:       rdb,
		inspector: asynq.NewInspectorFromRedisClient(rdb),
		catalog:   catalog.New(rdb, ""),
		sim:       sim,
		dir:       dir,
	}
}

type result struct {
	stdout, stderr string
	err            error
}

// run runs the command with args and stdin.
func (h *harness) run(t testing.TB, stdin string, args ...string) result {
	t.Helper()
	var stdout, stderr strings.Builder
	err := run(t.Context(), args, func(k string) string { return h.env[k] }, strings.NewReader(stdin), &stdout, &stderr)
	r := result{stdout.String(), stderr.String(), err}
	if strings.Contains(r.stdout+r.stderr, "s3cr3t") {
		t.Errorf("enqueue %s shows an app secret:\n%s%s", strings.Join(args, " "), r.stdout, r.stderr)
	}
	return r
}

// mustRun runs the command and fails the test unless it succeeds.
func (h *harness) mustRun(t testing.TB, stdin string, args ...string) result {
	t.Helper()
	r := h.run(t, stdin, args...)
	if r.err != nil {
		t.Fatalf("enqueue %s: %v\nstderr:\n%s", strings.Join(args, " "), r.err, r.stderr)
	}
	return r
}

// file writes contents to a file in the harness directory and returns its path.
func (h *harness) file(t *testing.T, name, contents string) string {
	t.Helper()
	path := filepath.Join(h.dir, name)
	if err := os.WriteFile(path, []byte(contents), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// pending returns how many tasks wait in queue (0 when it does not exist).
func (h *harness) pending(t *testing.T, queue string) int {
	t.Helper()
	if !slices.Contains(h.queues(t), queue) {
		return 0
	}
	info, err := h.inspector.GetQueueInfo(queue)
	if err != nil {
		t.Fatal(err)
	}
	return info.Pending
}

// queues returns the names of the queues that exist.
func (h *harness) queues(t *testing.T) []string {
	t.Helper()
	qs, err := h.inspector.Queues()
	if err != nil {
		t.Fatal(err)
	}
	return qs
}

// summary parses the "label  N" lines of a summary.
func summary(t testing.TB, out string) map[string]int {
	t.Helper()
	m := map[string]int{}
	for _, line := range strings.Split(out, "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		if n, err := strconv.Atoi(fields[len(fields)-1]); err == nil {
			m[strings.Join(fields[:len(fields)-1], " ")] = n
		}
	}
	return m
}

func checkSummary(t testing.TB, out string, want map[string]int) {
	t.Helper()
	got := summary(t, out)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("summary %q = %d, want %d\n%s", k, got[k], v, out)
		}
	}
}

// record returns a generated code's record for the catalog.
func record(spec wxqr.Spec, campaign string, expiresAt time.Time) *wxqr.Record {
	spec = spec.Normalize()
	return &wxqr.Record{
		ID: spec.ID(), Spec: spec, Campaign: campaign,
		Ticket:    "gQH47joAAAAAAAAAASxodHRwOi8vd2VpeGluLnFxLmNvbS9xLzAyQmV4VmZBR0RkZ2kxMDAwMHcwN3cAAgT+qzQC",
		URL:       "http://weixin.qq.com/q/02BexVfAGDdgi10000w07w?a=1&b=2",
		ExpiresAt: expiresAt, CreatedAt: time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC), Generation: 1,
		Bucket: "codes", ObjectKey: spec.Key(), ContentType: "image/jpeg", Size: 28000, SHA256: strings.Repeat("ab", 32),
	}
}

func TestQueueInvalidRowsQueuesNothing(t *testing.T) {
	h := newHarness(t)
	var b strings.Builder
	cw := csv.NewWriter(&b)
	cw.Write(jobfile.Columns)
	cw.Write(jobfiletest.Cells(jobfile.Row{Kind: "oa_perm", AppID: "wxoa", SceneID: "1", Campaign: "c"})) // line 2: valid
	for _, tt := range jobfiletest.InvalidRows {
		cw.Write(jobfiletest.Cells(tt.Row))
	}
	cw.Write([]string{"oa_perm", "wxoa"}) // too few fields
	cw.Flush()
	jobs := h.file(t, "jobs.csv", b.String())

	r := h.run(t, "", jobs)
	if code := exitCode(r.err); code != exitInput {
		t.Fatalf("exit code %d (%v), want %d", code, r.err, exitInput)
	}
	wantInvalidRowsListed(t, r.stderr, func(i int) string { return fmt.Sprintf("%s:%d", jobs, i+3) })
	if want := fmt.Sprintf("%s:%d: want %d fields as in the header, got 2", jobs, len(jobfiletest.InvalidRows)+3, len(jobfile.Columns)); !strings.Contains(r.stderr, want) {
		t.Errorf("stderr does not report the short row (%q):\n%s", want, r.stderr)
	}
	if want := fmt.Sprintf("%d of %d rows", len(jobfiletest.InvalidRows)+1, len(jobfiletest.InvalidRows)+2); !strings.Contains(r.err.Error(), want) {
		t.Errorf("error %q does not say %q", r.err, want)
	}
	if qs := h.queues(t); len(qs) != 0 {
		t.Errorf("queues %v exist, want nothing queued", qs)
	}
}

// wantInvalidRowsListed checks that stderr lists the error of each of
// jobfiletest.InvalidRows, where at(i) is how errors point at the row of jobfiletest.InvalidRows[i].
func wantInvalidRowsListed(t *testing.T, stderr string, at func(i int) string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	for i, tt := range jobfiletest.InvalidRows {
		prefix := at(i) + ": " + tt.WantField + ": "
		found := false
		for _, l := range lines {
			found = found || strings.HasPrefix(l, prefix) && strings.Contains(l, tt.WantRule)
		}
		if !found {
			t.Errorf("%s: no error line %q...%q in:\n%s", tt.Name, prefix, tt.WantRule, stderr)
		}
	}
}

func TestQueueListsAtMost100Errors(t *testing.T) {
	h := newHarness(t)
	r := h.run(t, "", "--app", "wxoa", "--kind", "oa_perm", "--scene-ids", "100001-100250")
	if exitCode(r.err) != exitInput {
		t.Fatalf("exit code %d (%v), want %d", exitCode(r.err), r.err, exitInput)
	}
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if len(lines) != maxListed+1 || lines[maxListed] != "... and 150 more" {
		t.Errorf("stderr has %d lines ending %q; want %d errors and \"... and 150 more\"", len(lines), lines[len(lines)-1], maxListed)
	}
	if want := "--scene-ids:1: scene_id: must be 1..100000 for oa_perm, got 100001"; lines[0] != want {
		t.Errorf("first error %q, want %q", lines[0], want)
	}
}

func TestQueueSameCampaignTwice(t *testing.T) {
	h := newHarness(t)
	args := []string{"--app", "wxoa", "--kind", "oa_perm", "--campaign", "spring", "--scene-ids", "1-50"}

	r := h.mustRun(t, "", args...)
	checkSummary(t, r.stdout, map[string]int{"queued": 50, "already queued": 0, "already generated": 0, "invalid": 0})
	if n := h.pending(t, "wxoa.oa_perm"); n != 50 {
		t.Errorf("wxoa.oa_perm holds %d tasks, want 50", n)
	}

	r = h.mustRun(t, "", args...)
	checkSummary(t, r.stdout, map[string]int{"queued": 0, "already queued": 50})
	if n := h.pending(t, "wxoa.oa_perm"); n != 50 {
		t.Errorf("after the second run wxoa.oa_perm holds %d tasks, want 50", n)
	}

	// The tasks carry what the worker needs, and no secret.
	infos, err := h.inspector.ListPendingTasks("wxoa.oa_perm", asynq.PageSize(1))
	if err != nil || len(infos) != 1 {
		t.Fatalf("ListPendingTasks: %v, %d tasks", err, len(infos))
	}
	var p tasks.GeneratePayload
	if err := json.Unmarshal(infos[0].Payload, &p); err != nil {
		t.Fatal(err)
	}
	if p.Campaign != "spring" || p.Spec.Kind != wxqr.KindOAPerm || p.Spec.AppID != "wxoa" || infos[0].ID != p.TaskID() {
		t.Errorf("task %s payload %+v; want an oa_perm code of wxoa in spring, with its identity as task id", infos[0].ID, p)
	}
}

func TestQueueSkipsGeneratedCodes(t *testing.T) {
	h := newHarness(t)
	now := time.Now()
	valid := wxqr.Spec{Kind: wxqr.KindOATemp, AppID: "wxoa", SceneID: 1}
	expired := wxqr.Spec{Kind: wxqr.KindOATemp, AppID: "wxoa", SceneID: 2}
	retired := wxqr.Spec{Kind: wxqr.KindOATemp, AppID: "wxoa", SceneID: 3}
	for _, rec := range []*wxqr.Record{
		record(valid, "", now.Add(time.Hour)),
		record(expired, "", now.Add(-time.Hour)),
		record(retired, "", now.Add(-time.Hour)),
	} {
		if err := h.catalog.Put(t.Context(), rec); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.catalog.Retire(t.Context(), retired.ID()); err != nil {
		t.Fatal(err)
	}

	r := h.mustRun(t, "", "--app", "wxoa", "--kind", "oa_temp", "--scene-ids", "1-4")
	// 1 is valid, 3 is retired: not queued. 2 expired, 4 is new: queued.
	checkSummary(t, r.stdout, map[string]int{"queued": 2, "already generated": 2})
	if n := h.pending(t, "wxoa.oa_temp"); n != 2 {
		t.Errorf("wxoa.oa_temp holds %d tasks, want 2", n)
	}
}

func TestQueueDryRun(t *testing.T) {
	h := newHarness(t)
	jobs := h.file(t, "jobs.csv", "kind,app_id,scene_id,path\n"+
		"oa_perm,wxoa,1,\n"+
		"oa_perm,wxoa,2,\n"+
		"oa_perm,wxoa,2,\n"+ // duplicate
		"wxa_qrcode,wxmp,,pages/a\n")
	r := h.mustRun(t, "", "--dry-run", jobs)
	var plan []string
	for _, line := range strings.Split(r.stdout, "\n") {
		plan = append(plan, strings.Join(strings.Fields(line), " "))
	}
	for _, want := range []string{"wxmp wxa_qrcode wxmp.wxa_limited 1", "wxoa oa_perm wxoa.oa_perm 2"} {
		if !slices.Contains(plan, want) {
			t.Errorf("plan has no line %q:\n%s", want, r.stdout)
		}
	}
	checkSummary(t, r.stdout, map[string]int{"total": 3, "duplicate in file": 1, "queued (dry run)": 0})
	if qs := h.queues(t); len(qs) != 0 {
		t.Errorf("dry run created queues %v", qs)
	}
}

func TestQueueSkipInvalid(t *testing.T) {
	h := newHarness(t)
	jobs := h.file(t, "jobs.csv", "scene_id\n1\n0\n2\n100001\n2\n")
	r := h.mustRun(t, "", "--app", "wxoa", "--kind", "oa_perm", "--skip-invalid", jobs)
	checkSummary(t, r.stdout, map[string]int{"queued": 2, "duplicate in file": 1, "invalid": 2})
	for _, want := range []string{jobs + ":3: scene_id:", jobs + ":5: scene_id: must be 1..100000 for oa_perm, got 100001"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr does not list %q:\n%s", want, r.stderr)
		}
	}
	if n := h.pending(t, "wxoa.oa_perm"); n != 2 {
		t.Errorf("wxoa.oa_perm holds %d tasks, want 2", n)
	}
}

func TestQueueStdin(t *testing.T) {
	h := newHarness(t)
	in := "kind,app_id,scene_str,path,width,expire_seconds,campaign\n" +
		"oa_temp,wxoa,coupon-1,,,3600,summer\n" +
		"wxa_qrcode,wxmp,,pages/index?id=1,600,,summer\n" +
		"wxa_unlimited,wxmp,id=7,pages/shop,,,summer\n"
	r := h.mustRun(t, in, "-")
	checkSummary(t, r.stdout, map[string]int{"queued": 3})
	for queue, want := range map[string]int{"wxoa.oa_temp": 1, "wxmp.wxa_limited": 1, "wxmp.wxa_unlimited": 1} {
		if n := h.pending(t, queue); n != want {
			t.Errorf("%s holds %d tasks, want %d", queue, n, want)
		}
	}
	infos, err := h.inspector.ListPendingTasks("wxoa.oa_temp")
	if err != nil || len(infos) != 1 {
		t.Fatalf("ListPendingTasks: %v, %d tasks", err, len(infos))
	}
	var p tasks.GeneratePayload
	if err := json.Unmarshal(infos[0].Payload, &p); err != nil {
		t.Fatal(err)
	}
	if p.ExpireSeconds != 3600 || p.Spec.SceneStr != "coupon-1" {
		t.Errorf("payload %+v, want scene coupon-1 expiring in 3600 s", p)
	}

	r = h.run(t, "kind,app_id,colour\n", "-")
	if exitCode(r.err) != exitInput || !strings.Contains(r.err.Error(), `stdin:1: unknown column "colour"`) {
		t.Errorf("unknown column on stdin: exit %d, error %v", exitCode(r.err), r.err)
	}
}

func TestQueueLineFiles(t *testing.T) {
	h := newHarness(t)
	scenes := h.file(t, "scenes.txt", "a\r\nb\n\nc\n")
	r := h.mustRun(t, "", "--app", "wxoa", "--kind", "oa_temp", "--expire", "7d", "--scene-strs", scenes)
	checkSummary(t, r.stdout, map[string]int{"queued": 3})

	paths := h.file(t, "paths.txt", "pages/a\n"+strings.Repeat("p", 129)+"\n")
	r = h.run(t, "", "--app", "wxmp", "--kind", "wxa_qrcode", "--paths", paths)
	if want := paths + ":2: path: must be 1..128 bytes"; exitCode(r.err) != exitInput || !strings.Contains(r.stderr, want) {
		t.Errorf("exit %d, stderr %q; want exit 2 and %q", exitCode(r.err), r.stderr, want)
	}
	if n := h.pending(t, "wxmp.wxa_limited"); n != 0 {
		t.Errorf("wxmp.wxa_limited holds %d tasks, want 0", n)
	}
}

func TestQueueFailsWithoutRedis(t *testing.T) {
	h := &harness{env: map[string]string{"WXQR_APPS": "wxoa:s3cr3t:oa", "REDIS_URL": "redis://127.0.0.1:1/0"}}
	r := h.run(t, "", "--app", "wxoa", "--kind", "oa_perm", "--scene-ids", "1-3")
	if exitCode(r.err) != exitFailure || !strings.Contains(r.err.Error(), "connect to Redis") {
		t.Errorf("exit %d, error %v; want exit 1 naming Redis", exitCode(r.err), r.err)
	}
}

func TestExport(t *testing.T) {
	h := newHarness(t)
	expires := time.Date(2025, 3, 31, 8, 0, 0, 0, time.UTC)
	recs := []*wxqr.Record{
		record(wxqr.Spec{Kind: wxqr.KindOATemp, AppID: "wxoa", SceneStr: `a,"quoted" scene`}, "spring", expires),
		record(wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: "wxoa", SceneID: 42}, "spring", time.Time{}),
		record(wxqr.Spec{Kind: wxqr.KindWxaQRCode, AppID: "wxmp", Path: "pages/index?id=1"}, "autumn", time.Time{}),
	}
	for _, rec := range recs {
		if err := h.catalog.Put(t.Context(), rec); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("csv", func(t *testing.T) {
		r := h.mustRun(t, "", "export", "--campaign", "spring")
		rows, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
		if err != nil {
			t.Fatalf("export is not CSV: %v\n%s", err, r.stdout)
		}
		if len(rows) != 3 {
			t.Fatalf("%d rows, want a header and 2 records:\n%s", len(rows), r.stdout)
		}
		col := map[string]int{}
		for i, name := range rows[0] {
			col[name] = i
		}
		for _, name := range []string{"id", "kind", "app_id", "scene_id", "scene_str", "path", "width", "campaign", "ticket", "url",
			"expire_seconds", "expires_at", "created_at", "bucket", "key", "content_type", "size", "sha256", "name"} {
			if _, ok := col[name]; !ok {
				t.Errorf("no %s column in %v", name, rows[0])
			}
		}
		byID := map[string][]string{}
		for _, row := range rows[1:] {
			byID[row[col["id"]]] = row
		}
		temp := byID[recs[0].ID]
		if temp == nil || temp[col["scene_str"]] != `a,"quoted" scene` || temp[col["expires_at"]] != "2025-03-31T08:00:00Z" || temp[col["url"]] != recs[0].URL {
			t.Errorf("temporary code exported as %v", temp)
		}
		if byID[recs[1].ID] == nil {
			t.Errorf("permanent code %s missing", recs[1].ID)
		}
		if !strings.Contains(r.stderr, "exported 2 codes") {
			t.Errorf("stderr = %q, want the count", r.stderr)
		}
	})

	t.Run("jsonl to file", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "all.jsonl")
		h.mustRun(t, "", "export", "--format", "jsonl", "-o", out)
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) != len(recs) {
			t.Fatalf("%d lines, want %d:\n%s", len(lines), len(recs), data)
		}
		seen := map[string]bool{}
		for _, l := range lines {
			var rec wxqr.Record
			if err := json.Unmarshal([]byte(l), &rec); err != nil {
				t.Fatalf("line %q: %v", l, err)
			}
			seen[rec.ID] = rec.ObjectKey != "" && rec.SHA256 != ""
		}
		for _, rec := range recs {
			if !seen[rec.ID] {
				t.Errorf("record %s missing or incomplete", rec.ID)
			}
		}
	})
}

func TestStatusAndResume(t *testing.T) {
	h := newHarness(t)
	perm := wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: "wxoa", SceneID: 7}
	if err := h.catalog.Put(t.Context(), record(perm, "spring", time.Time{})); err != nil {
		t.Fatal(err)
	}
	h.mustRun(t, "", "--app", "wxoa", "--kind", "oa_perm", "--campaign", "spring", "--scene-ids", "1-10")
	pauses := tasks.NewPauses(h.rdb, h.inspector)
	if _, err := pauses.Pause(t.Context(), tasks.PauseState{
		Queue: "wxoa.oa_perm", AppID: "wxoa", Class: wxqr.ClassOAPerm, Errcode: 45029,
		Reason: "lifetime quota reached", PausedAt: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC),
	}); err != nil {
		t.Fatal(err)
	}

	r := h.mustRun(t, "", "status")
	for _, want := range []string{
		"spring", // campaign line
		"wxoa.oa_perm", "9", "1/100000", "errcode 45029: lifetime quota reached since 2025-03-01T09:00:00Z; until resumed",
		"wxmp.wxa_limited", // configured app without queues
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("status does not show %q:\n%s", want, r.stdout)
		}
	}
	for _, line := range strings.Split(r.stdout, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && f[0] == "spring" && (len(f) < 5 || f[1] != "10" || f[2] != "1" || f[3] != "9" || f[4] != "0") {
			t.Errorf("campaign line %q, want 10 planned, 1 generated, 9 queued, 0 failed", line)
		}
		if len(f) > 0 && f[0] == "wxoa.oa_perm" && (len(f) < 6 || f[3] != "9" || f[4] != "0" || f[5] != "1/100000") {
			t.Errorf("queue line %q, want 9 queued, 0 failed, 1/100000 quota", line)
		}
	}

	r = h.mustRun(t, "", "resume", "--app", "wxmp")
	if !strings.Contains(r.stdout, "nothing to resume") {
		t.Errorf("resume --app wxmp: %q, want nothing to resume", r.stdout)
	}
	r = h.mustRun(t, "", "resume", "--app", "wxoa")
	if want := "resumed wxoa.oa_perm (paused: errcode 45029: lifetime quota reached since 2025-03-01T09:00:00Z); 9 tasks waiting"; !strings.Contains(r.stdout, want) {
		t.Errorf("resume: %q, want %q", r.stdout, want)
	}
	info, err := h.inspector.GetQueueInfo("wxoa.oa_perm")
	if err != nil || info.Paused {
		t.Errorf("queue info %+v, %v; want wxoa.oa_perm running", info, err)
	}

	// Paused by hand (web UI): no reason recorded, still resumable.
	if err := h.inspector.PauseQueue("wxoa.oa_perm"); err != nil {
		t.Fatal(err)
	}
	r = h.mustRun(t, "", "status")
	if !strings.Contains(r.stdout, "yes: no reason recorded") {
		t.Errorf("status does not show the manual pause:\n%s", r.stdout)
	}
	r = h.mustRun(t, "", "resume", "--all")
	if !strings.Contains(r.stdout, "resumed wxoa.oa_perm") {
		t.Errorf("resume --all: %q", r.stdout)
	}
}

// TestResumeEndsTheRecord: `enqueue resume` ends wxqr's record of a timed
// pause with the pause, so a pause by hand made afterwards outlives the
// record's time.
func TestResumeEndsTheRecord(t *testing.T) {
	ctx := t.Context()
	h := newHarness(t)
	h.mustRun(t, "", "--app", "wxoa", "--kind", "oa_temp", "--campaign", "spring", "--scene-ids", "1-3")
	pauses := tasks.NewPauses(h.rdb, h.inspector)
	at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	daily := tasks.PauseState{Queue: "wxoa.oa_temp", AppID: "wxoa", Class: wxqr.ClassOATemp, Errcode: 45009,
		Reason: "daily quota", PausedAt: at, ResumeAt: at.Add(14 * time.Hour)}
	if _, err := pauses.Pause(ctx, daily); err != nil {
		t.Fatal(err)
	}
	r := h.mustRun(t, "", "resume", "--app", "wxoa")
	if !strings.Contains(r.stdout, "resumed wxoa.oa_temp") {
		t.Fatalf("resume: %q", r.stdout)
	}
	if n, err := h.rdb.Exists(ctx, "wxqr:pause:queue:wxoa.oa_temp").Result(); err != nil || n != 0 {
		t.Errorf("pause record left after resume (%d, %v)", n, err)
	}
	if err := h.inspector.PauseQueue("wxoa.oa_temp"); err != nil {
		t.Fatal(err)
	}
	if resumed, err := pauses.ResumeDue(ctx, daily.ResumeAt.Add(time.Minute)); err != nil || len(resumed) != 0 {
		t.Errorf("ResumeDue = %+v, %v; want nothing resumed", resumed, err)
	}
	if info, err := h.inspector.GetQueueInfo("wxoa.oa_temp"); err != nil || !info.Paused {
		t.Errorf("queue info %+v, %v; want the pause by hand to hold", info, err)
	}
}

func TestRetire(t *testing.T) {
	h := newHarness(t)
	var ids []string
	for i := range 3 {
		rec := record(wxqr.Spec{Kind: wxqr.KindOATemp, AppID: "wxoa", SceneID: int64(i + 1)}, "spring", time.Now().Add(time.Hour))
		if err := h.catalog.Put(t.Context(), rec); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, rec.ID)
	}
	r := h.mustRun(t, "", "retire", "--id", ids[0])
	if !strings.Contains(r.stdout, "retired 1 codes") {
		t.Errorf("retire --id: %q", r.stdout)
	}
	r = h.mustRun(t, "", "retire", "--campaign", "spring")
	if !strings.Contains(r.stdout, "retired 2 codes") {
		t.Errorf("retire --campaign: %q", r.stdout)
	}
}

func TestReindex(t *testing.T) {
	h := newHarness(t)
	store, err := storage.NewDir(filepath.Join(h.dir, "bucket"), "")
	if err != nil {
		t.Fatal(err)
	}
	rec := record(wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: "wxoa", SceneID: 9}, "spring", time.Time{})
	if err := catalog.WriteSidecar(t.Context(), store, rec); err != nil {
		t.Fatal(err)
	}
	r := h.mustRun(t, "", "reindex")
	if !strings.Contains(r.stdout, "reindexed 1 codes") {
		t.Errorf("reindex: %q", r.stdout)
	}
	got, err := h.catalog.Get(t.Context(), rec.ID)
	if err != nil || got.Campaign != "spring" {
		t.Errorf("catalog holds %+v, %v after reindex; want the record", got, err)
	}
}
