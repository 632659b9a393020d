package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/tasks"
)

func TestCheckStyle(t *testing.T) {
	tests := []struct {
		name string
		row  rawRow
		want wxqr.Spec // the styling of the payload's spec
	}{
		{"unstyled", rawRow{Kind: "wxa_code", AppID: "wxmp", Path: "p"}, wxqr.Spec{}},
		{"hex colour, transparent, trial", rawRow{Kind: "wxa_code", AppID: "wxmp", Path: "p",
			rawStyle: rawStyle{LineColor: " #1A5FB4 ", IsHyaline: "yes", EnvVersion: "Trial"}},
			wxqr.Spec{LineColor: "#1a5fb4", IsHyaline: true, EnvVersion: wxqr.EnvTrial}},
		{"r,g,b colour, unchecked page", rawRow{Kind: "wxa_unlimited", AppID: "wxmp", SceneStr: "a=1",
			rawStyle: rawStyle{LineColor: "26, 95, 180", IsHyaline: "0", CheckPath: "FALSE", EnvVersion: "develop"}},
			wxqr.Spec{LineColor: "#1a5fb4", EnvVersion: wxqr.EnvDevelop, CheckPath: wxqr.BoolFalse}},
		{"auto colour", rawRow{Kind: "wxa_unlimited", AppID: "wxmp", SceneStr: "a=1", rawStyle: rawStyle{AutoColor: "1"}},
			wxqr.Spec{AutoColor: true}},
		// WeChat's defaults, written out, are no styling: the same code.
		{"defaults written out", rawRow{Kind: "wxa_unlimited", AppID: "wxmp", SceneStr: "a=1",
			rawStyle: rawStyle{AutoColor: "no", LineColor: "0,0,0", IsHyaline: "false", EnvVersion: "release", CheckPath: "true"}},
			wxqr.Spec{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, errs := testChecker(defaults{}).check(&tt.row)
			if len(errs) > 0 {
				t.Fatalf("check: %v", errs)
			}
			got := wxqr.Spec{AutoColor: p.Spec.AutoColor, LineColor: p.Spec.LineColor, IsHyaline: p.Spec.IsHyaline,
				EnvVersion: p.Spec.EnvVersion, CheckPath: p.Spec.CheckPath}
			if got != tt.want {
				t.Errorf("styling %+v, want %+v", got, tt.want)
			}
			if p.ID != p.Spec.ID() {
				t.Errorf("payload id %s, its spec's %s", p.ID, p.Spec.ID())
			}
		})
	}
}

// invalidStyleRows are rows breaking each rule of styling once, with the
// field and a piece of the rule the error must name.
var invalidStyleRows = []struct {
	name      string
	row       rawRow
	wantField string
	wantRule  string
}{
	{"auto_color not yes/no", rawRow{Kind: "wxa_code", AppID: "wxmp", Path: "p", rawStyle: rawStyle{AutoColor: "maybe"}}, "auto_color", "true or false"},
	{"is_hyaline not yes/no", rawRow{Kind: "wxa_code", AppID: "wxmp", Path: "p", rawStyle: rawStyle{IsHyaline: "transparent"}}, "is_hyaline", "true or false"},
	{"check_path not yes/no", rawRow{Kind: "wxa_unlimited", AppID: "wxmp", SceneStr: "a", rawStyle: rawStyle{CheckPath: "2"}}, "check_path", "true or false"},
	{"colour by name", rawRow{Kind: "wxa_code", AppID: "wxmp", Path: "p", rawStyle: rawStyle{LineColor: "blue"}}, "line_color", "#RRGGBB or r,g,b"},
	{"colour out of range", rawRow{Kind: "wxa_code", AppID: "wxmp", Path: "p", rawStyle: rawStyle{LineColor: "0,0,300"}}, "line_color", "0..255"},
	{"colour and auto colour", rawRow{Kind: "wxa_code", AppID: "wxmp", Path: "p", rawStyle: rawStyle{LineColor: "#ff0000", AutoColor: "true"}}, "line_color", "auto_color"},
	{"unknown version", rawRow{Kind: "wxa_unlimited", AppID: "wxmp", SceneStr: "a", rawStyle: rawStyle{EnvVersion: "beta"}}, "env_version", "release, trial or develop"},
	{"check_path on wxa_code", rawRow{Kind: "wxa_code", AppID: "wxmp", Path: "p", rawStyle: rawStyle{CheckPath: "false"}}, "check_path", "only used by wxa_unlimited"},
	{"colour on wxa_qrcode", rawRow{Kind: "wxa_qrcode", AppID: "wxmp", Path: "p", rawStyle: rawStyle{LineColor: "#ff0000"}}, "line_color", "not used by wxa_qrcode"},
	{"transparent oa_perm", rawRow{Kind: "oa_perm", AppID: "wxoa", SceneID: "1", rawStyle: rawStyle{IsHyaline: "yes"}}, "is_hyaline", "not used by oa_perm"},
	{"version on oa_temp", rawRow{Kind: "oa_temp", AppID: "wxoa", SceneID: "1", rawStyle: rawStyle{EnvVersion: "trial"}}, "env_version", "not used by oa_temp"},
}

func TestCheckStyleInvalid(t *testing.T) {
	for _, tt := range invalidStyleRows {
		t.Run(tt.name, func(t *testing.T) {
			p, errs := testChecker(defaults{}).check(&tt.row)
			if len(errs) != 1 {
				t.Fatalf("check = %+v, %v; want one error, on %s", p, errs, tt.wantField)
			}
			if fe := errs[0]; fe.Field != tt.wantField || !strings.Contains(fe.Rule, tt.wantRule) {
				t.Errorf("error %v; want one on %s saying %q", fe, tt.wantField, tt.wantRule)
			}
		})
	}
}

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
	cw.Write(columns)
	for _, tt := range invalidStyleRows {
		cw.Write(cellsOf(t, tt.row))
	}
	cw.Flush()
	jobs := h.file(t, "styled.csv", b.String())

	r := h.run(t, "", jobs)
	if code := exitCode(r.err); code != exitInput {
		t.Fatalf("exit code %d (%v), want %d", code, r.err, exitInput)
	}
	for i, tt := range invalidStyleRows {
		prefix := fmt.Sprintf("%s:%d: %s: ", jobs, i+2, tt.wantField)
		found := false
		for _, l := range strings.Split(r.stderr, "\n") {
			found = found || strings.HasPrefix(l, prefix) && strings.Contains(l, tt.wantRule)
		}
		if !found {
			t.Errorf("%s: no error line %q...%q in:\n%s", tt.name, prefix, tt.wantRule, r.stderr)
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
