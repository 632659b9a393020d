package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/jobfile"
	"github.com/wxqr/wxqr/jobfile/jobfiletest"
	"github.com/wxqr/wxqr/tasks"
)

// TestQueueStyledJobsFile queues a jobs file with the styling columns (in
// any case, in any order) and finds the styling in the queued payloads,
// each code with the id of its styled spec.
func TestQueueStyledJobsFile(t *testing.T) {
	h := newHarness(t)
	jobs := h.file(t, "styled.csv", "kind,app_id,scene_str,path,Line_Color,IS_HYALINE,env_version,check_path,auto_color\n"+
		"wxa_unlimited,wxmp,store=12,pages/store/index,#1A5FB4,yes,trial,false,\n"+
		"wxa_unlimited,wxmp,store=12,pages/store/index,\"176,26,26\",,,,\n"+ // another colour: another code
		"wxa_unlimited,wxmp,store=12,pages/store/index,,,,,\n"+
		"wxa_unlimited,wxmp,store=12,pages/store/index,\"0,0,0\",no,release,true,\n"+ // WeChat's defaults: the row above again
		"wxa_code,wxmp,,pages/item?id=9,,true,,,1\n")
	r := h.mustRun(t, "", "--campaign", "styled", jobs)
	checkSummary(t, r.stdout, map[string]int{"queued": 4, "duplicate in file": 1, "invalid": 0})

	page := "pages/store/index"
	want := []wxqr.Spec{
		{Kind: wxqr.KindWxaUnlimited, AppID: "wxmp", SceneStr: "store=12", Path: page, LineColor: "#1a5fb4", IsHyaline: true, EnvVersion: wxqr.EnvTrial, CheckPath: wxqr.BoolFalse},
		{Kind: wxqr.KindWxaUnlimited, AppID: "wxmp", SceneStr: "store=12", Path: page, LineColor: "#b01a1a"},
		{Kind: wxqr.KindWxaUnlimited, AppID: "wxmp", SceneStr: "store=12", Path: page},
		{Kind: wxqr.KindWxaCode, AppID: "wxmp", Path: "pages/item?id=9", IsHyaline: true, AutoColor: true},
	}
	got := queuedSpecs(t, h, tasks.QueueName("wxmp", wxqr.ClassWxaUnlimited))
	for id, spec := range queuedSpecs(t, h, tasks.QueueName("wxmp", wxqr.ClassWxaLimited)) {
		got[id] = spec
	}
	if len(got) != len(want) {
		t.Errorf("queued %d codes, want %d: %+v", len(got), len(want), got)
	}
	for _, spec := range want {
		spec = spec.Normalize()
		if q, ok := got[spec.ID()]; !ok || q != spec {
			t.Errorf("queued under id %s: %+v (%v); want %+v", spec.ID(), q, ok, spec)
		}
	}
}

// TestQueueStyledJobsFileErrors: every broken rule of styling is reported
// as file:line: field: rule, and nothing is queued.
func TestQueueStyledJobsFileErrors(t *testing.T) {
	h := newHarness(t)
	var b strings.Builder
	cw := csv.NewWriter(&b)
	cw.Write(jobfile.Columns)
	for _, tt := range jobfiletest.InvalidStyleRows {
		cw.Write(jobfiletest.Cells(tt.Row))
	}
	cw.Flush()
	jobs := h.file(t, "styled.csv", b.String())

	r := h.run(t, "", jobs)
	if code := exitCode(r.err); code != exitInput {
		t.Fatalf("exit code %d (%v), want %d", code, r.err, exitInput)
	}
	for i, tt := range jobfiletest.InvalidStyleRows {
		prefix := fmt.Sprintf("%s:%d: %s: ", jobs, i+2, tt.WantField)
		found := false
		for _, l := range strings.Split(r.stderr, "\n") {
			found = found || strings.HasPrefix(l, prefix) && strings.Contains(l, tt.WantRule)
		}
		if !found {
			t.Errorf("%s: no error line %q...%q in:\n%s", tt.Name, prefix, tt.WantRule, r.stderr)
		}
	}
	if qs := h.queues(t); len(qs) != 0 {
		t.Errorf("queues %v exist, want nothing queued", qs)
	}
}

// queuedSpecs returns the specs of the tasks pending in queue, by code id.
func queuedSpecs(t *testing.T, h *harness, queue string) map[string]wxqr.Spec {
	t.Helper()
	infos, err := h.inspector.ListPendingTasks(queue, asynq.PageSize(100))
	if err != nil {
		t.Fatalf("ListPendingTasks(%s): %v", queue, err)
	}
	specs := map[string]wxqr.Spec{}
	for _, info := range infos {
		var p tasks.GeneratePayload
		if err := json.Unmarshal(info.Payload, &p); err != nil {
			t.Fatal(err)
		}
		if p.ID != p.Spec.ID() {
			t.Errorf("task %s carries id %s for a spec whose id is %s", info.ID, p.ID, p.Spec.ID())
		}
		specs[p.ID] = p.Spec
	}
	return specs
}
