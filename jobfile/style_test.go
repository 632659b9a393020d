package jobfile_test

import (
	"strings"
	"testing"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/jobfile"
	"github.com/wxqr/wxqr/jobfile/jobfiletest"
)

func TestCheckStyle(t *testing.T) {
	tests := []struct {
		name string
		row  jobfile.Row
		want wxqr.Spec // the styling of the payload's spec
	}{
		{"unstyled", jobfile.Row{Kind: "wxa_code", AppID: "wxmp", Path: "p"}, wxqr.Spec{}},
		{"hex colour, transparent, trial", jobfile.Row{Kind: "wxa_code", AppID: "wxmp", Path: "p",
			Style: jobfile.Style{LineColor: " #1A5FB4 ", IsHyaline: "yes", EnvVersion: "Trial"}},
			wxqr.Spec{LineColor: "#1a5fb4", IsHyaline: true, EnvVersion: wxqr.EnvTrial}},
		{"r,g,b colour, unchecked page", jobfile.Row{Kind: "wxa_unlimited", AppID: "wxmp", SceneStr: "a=1",
			Style: jobfile.Style{LineColor: "26, 95, 180", IsHyaline: "0", CheckPath: "FALSE", EnvVersion: "develop"}},
			wxqr.Spec{LineColor: "#1a5fb4", EnvVersion: wxqr.EnvDevelop, CheckPath: wxqr.BoolFalse}},
		{"auto colour", jobfile.Row{Kind: "wxa_unlimited", AppID: "wxmp", SceneStr: "a=1", Style: jobfile.Style{AutoColor: "1"}},
			wxqr.Spec{AutoColor: true}},
		// WeChat's defaults, written out, are no styling: the same code.
		{"defaults written out", jobfile.Row{Kind: "wxa_unlimited", AppID: "wxmp", SceneStr: "a=1",
			Style: jobfile.Style{AutoColor: "no", LineColor: "0,0,0", IsHyaline: "false", EnvVersion: "release", CheckPath: "true"}},
			wxqr.Spec{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, errs := testChecker(jobfile.Defaults{}).Check(&tt.row)
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

func TestCheckStyleInvalid(t *testing.T) {
	for _, tt := range jobfiletest.InvalidStyleRows {
		t.Run(tt.Name, func(t *testing.T) {
			p, errs := testChecker(jobfile.Defaults{}).Check(&tt.Row)
			if len(errs) != 1 {
				t.Fatalf("check = %+v, %v; want one error, on %s", p, errs, tt.WantField)
			}
			if fe := errs[0]; fe.Field != tt.WantField || !strings.Contains(fe.Rule, tt.WantRule) {
				t.Errorf("error %v; want one on %s saying %q", fe, tt.WantField, tt.WantRule)
			}
		})
	}
}
