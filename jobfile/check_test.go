package jobfile_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/jobfile"
	"github.com/wxqr/wxqr/jobfile/jobfiletest"
)

func testChecker(def jobfile.Defaults) *jobfile.Checker {
	return &jobfile.Checker{Apps: map[string]wxqr.AppType{"wxoa": wxqr.AppOA, "wxmp": wxqr.AppMP}, Defaults: def}
}

func TestCheckValid(t *testing.T) {
	tests := []struct {
		name       string
		def        jobfile.Defaults
		row        jobfile.Row
		wantWidth  int
		wantExpire int
		wantPath   string
	}{
		{"oa_perm scene id", jobfile.Defaults{}, jobfile.Row{Kind: "oa_perm", AppID: "wxoa", SceneID: "100000"}, 0, 0, ""},
		{"oa_perm from flags", jobfile.Defaults{Kind: "oa_perm", AppID: "wxoa"}, jobfile.Row{SceneStr: "spring-2025"}, 0, 0, ""},
		{"oa_temp default expiry", jobfile.Defaults{}, jobfile.Row{Kind: "oa_temp", AppID: "wxoa", SceneID: "4294967295"}, 0, 2592000, ""},
		{"oa_temp flag expiry", jobfile.Defaults{ExpireSeconds: 604800}, jobfile.Row{Kind: "oa_temp", AppID: "wxoa", SceneID: "1"}, 0, 604800, ""},
		{"oa_temp cell beats flag", jobfile.Defaults{ExpireSeconds: 604800}, jobfile.Row{Kind: "oa_temp", AppID: "wxoa", SceneID: "1", ExpireSeconds: " 60 "}, 0, 60, ""},
		{"wxa_qrcode default width", jobfile.Defaults{}, jobfile.Row{Kind: "wxa_qrcode", AppID: "wxmp", Path: "pages/index?id=1"}, wxqr.DefaultWidth, 0, "pages/index?id=1"},
		{"wxa_qrcode flag width", jobfile.Defaults{Width: 280}, jobfile.Row{Kind: "wxa_qrcode", AppID: "wxmp", Path: "p"}, 280, 0, "p"},
		{"wxa_unlimited page flag", jobfile.Defaults{Page: "pages/shop"}, jobfile.Row{Kind: "wxa_unlimited", AppID: "wxmp", SceneStr: "a=1"}, wxqr.DefaultWidth, 0, "pages/shop"},
		{"width flag ignored by oa", jobfile.Defaults{Width: 600}, jobfile.Row{Kind: "oa_perm", AppID: "wxoa", SceneID: "1"}, 0, 0, ""},
		{"expire flag ignored by oa_perm", jobfile.Defaults{ExpireSeconds: 60}, jobfile.Row{Kind: "oa_perm", AppID: "wxoa", SceneID: "1"}, 0, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, errs := testChecker(tt.def).Check(&tt.row)
			if len(errs) > 0 {
				t.Fatalf("check: %v", errs)
			}
			if p.Spec.Width != tt.wantWidth || p.ExpireSeconds != tt.wantExpire || p.Spec.Path != tt.wantPath {
				t.Errorf("width %d, expire %d, path %q; want %d, %d, %q",
					p.Spec.Width, p.ExpireSeconds, p.Spec.Path, tt.wantWidth, tt.wantExpire, tt.wantPath)
			}
		})
	}
}

func TestCheckName(t *testing.T) {
	chk := testChecker(jobfile.Defaults{})
	named, errs := chk.Check(&jobfile.Row{Kind: "oa_perm", AppID: "wxoa", SceneID: "1", Name: " Store 12 - entrance "})
	if len(errs) > 0 {
		t.Fatalf("check: %v", errs)
	}
	if named.Name != "Store 12 - entrance" {
		t.Errorf("name %q, want the cell trimmed", named.Name)
	}
	unnamed, _ := chk.Check(&jobfile.Row{Kind: "oa_perm", AppID: "wxoa", SceneID: "1"})
	if named.ID != unnamed.ID {
		t.Errorf("a name changed the code's id: %s, want %s", named.ID, unnamed.ID)
	}
}

func TestCheckInvalid(t *testing.T) {
	for _, tt := range jobfiletest.InvalidRows {
		t.Run(tt.Name, func(t *testing.T) {
			p, errs := testChecker(jobfile.Defaults{}).Check(&tt.Row)
			if len(errs) == 0 {
				t.Fatalf("check = %+v, want an error on %s", p, tt.WantField)
			}
			found := false
			for _, fe := range errs {
				found = found || fe.Field == tt.WantField && strings.Contains(fe.Rule, tt.WantRule)
			}
			if !found {
				t.Errorf("errors %v; want one on %s saying %q", errs, tt.WantField, tt.WantRule)
			}
		})
	}
}

func TestParseSceneIDs(t *testing.T) {
	tests := []struct {
		in      string
		want    string // the ids yielded, comma-separated
		wantErr bool
	}{
		{"1-5", "1,2,3,4,5", false},
		{"7", "7", false},
		{"1-2, 10 ,20-21", "1,2,10,20,21", false},
		{"9223372036854775806-9223372036854775807", "9223372036854775806,9223372036854775807", false},
		{"5-1", "", true},
		{"1-", "", true},
		{"a-b", "", true},
		{"1,,2", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			src, err := jobfile.ParseSceneIDs(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("jobfile.ParseSceneIDs(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			var ids []string
			err = src.Each(t.Context(), func(line int, r *jobfile.Row) error {
				if line != len(ids)+1 {
					t.Errorf("line %d, want %d", line, len(ids)+1)
				}
				ids = append(ids, r.SceneID)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(ids, ","); got != tt.want {
				t.Errorf("ids = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestCSVSourceHeader(t *testing.T) {
	tests := []struct {
		name     string
		contents string
		haveKind bool
		want     string // substring of the error; "" for none
	}{
		{"all columns", "kind,app_id,scene_id,scene_str,path,width,expire_seconds,campaign,name\n", false, ""},
		{"spreadsheet header", "\ufeffKind , App_ID,Scene_ID\n", false, ""},
		{"kind from flag", "app_id,scene_id\n", true, ""},
		{"unknown column", "kind,app_id,colour\n", false, `jobs.csv:1: unknown column "colour"`},
		{"duplicate column", "kind,app_id,kind\n", false, `column "kind" appears twice`},
		{"unnamed column", "kind,,app_id\n", false, "column 2 has no name"},
		{"no kind", "app_id,scene_id\n", false, "no kind column"},
		{"no app", "kind,scene_id\n", false, "no app_id column"},
		{"empty", "", false, "empty file"},
		{"bad quote", "kind,app_id\n\"oa_perm,wx\"x\n", false, "jobs.csv:2:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "jobs.csv")
			if err := os.WriteFile(path, []byte(tt.contents), 0o600); err != nil {
				t.Fatal(err)
			}
			src := jobfile.CSVFile{Path: path, Display: "jobs.csv", HeaderRules: jobfile.HeaderRules{HaveKind: tt.haveKind}}
			err := src.Each(t.Context(), func(int, *jobfile.Row) error { return nil })
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("each: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("each error = %v, want one containing %q", err, tt.want)
			case tt.want != "" && !errors.As(err, new(*jobfile.InputError)):
				t.Errorf("error %v (%T) is not an InputError", err, err)
			}
		})
	}
}

func TestCSVSourceRows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jobs.csv")
	contents := "scene_str,kind,app_id\n" +
		"\"multi\nline\",oa_temp,wxoa\n" + // lines 2-3
		"\n" + // blank: skipped
		"plain,oa_perm\n" + // line 5: a field short
		"last,oa_perm,wxoa\n" // line 6
	if err := os.WriteFile(path, []byte(contents), 0o600); err != nil {
		t.Fatal(err)
	}
	var got []string
	err := jobfile.CSVFile{Path: path, Display: "jobs.csv"}.Each(t.Context(), func(line int, r *jobfile.Row) error {
		problem := "ok"
		if r.Problem != nil {
			problem = jobfile.Describe(r.Problem)
		}
		got = append(got, fmt.Sprintf("%d:%q:%s:%s:%s", line, r.SceneStr, r.Kind, r.AppID, problem))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`2:"multi\nline":oa_temp:wxoa:ok`,
		`5:"":::want 3 fields as in the header, got 2`,
		`6:"last":oa_perm:wxoa:ok`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
