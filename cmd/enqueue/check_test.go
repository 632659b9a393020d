package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wxqr/wxqr"
)

func testChecker(def defaults) *checker {
	return &checker{apps: map[string]wxqr.AppType{"wxoa": wxqr.AppOA, "wxmp": wxqr.AppMP}, def: def}
}

func TestCheckValid(t *testing.T) {
	tests := []struct {
		name       string
		def        defaults
		row        rawRow
		wantWidth  int
		wantExpire int
		wantPath   string
	}{
		{"oa_perm scene id", defaults{}, rawRow{Kind: "oa_perm", AppID: "wxoa", SceneID: "100000"}, 0, 0, ""},
		{"oa_perm from flags", defaults{Kind: "oa_perm", AppID: "wxoa"}, rawRow{SceneStr: "spring-2025"}, 0, 0, ""},
		{"oa_temp default expiry", defaults{}, rawRow{Kind: "oa_temp", AppID: "wxoa", SceneID: "4294967295"}, 0, 2592000, ""},
		{"oa_temp flag expiry", defaults{ExpireSeconds: 604800}, rawRow{Kind: "oa_temp", AppID: "wxoa", SceneID: "1"}, 0, 604800, ""},
		{"oa_temp cell beats flag", defaults{ExpireSeconds: 604800}, rawRow{Kind: "oa_temp", AppID: "wxoa", SceneID: "1", ExpireSeconds: " 60 "}, 0, 60, ""},
		{"wxa_qrcode default width", defaults{}, rawRow{Kind: "wxa_qrcode", AppID: "wxmp", Path: "pages/index?id=1"}, wxqr.DefaultWidth, 0, "pages/index?id=1"},
		{"wxa_qrcode flag width", defaults{Width: 280}, rawRow{Kind: "wxa_qrcode", AppID: "wxmp", Path: "p"}, 280, 0, "p"},
		{"wxa_unlimited page flag", defaults{Page: "pages/shop"}, rawRow{Kind: "wxa_unlimited", AppID: "wxmp", SceneStr: "a=1"}, wxqr.DefaultWidth, 0, "pages/shop"},
		{"width flag ignored by oa", defaults{Width: 600}, rawRow{Kind: "oa_perm", AppID: "wxoa", SceneID: "1"}, 0, 0, ""},
		{"expire flag ignored by oa_perm", defaults{ExpireSeconds: 60}, rawRow{Kind: "oa_perm", AppID: "wxoa", SceneID: "1"}, 0, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, errs := testChecker(tt.def).check(&tt.row)
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
	chk := testChecker(defaults{})
	named, errs := chk.check(&rawRow{Kind: "oa_perm", AppID: "wxoa", SceneID: "1", Name: " Store 12 - entrance "})
	if len(errs) > 0 {
		t.Fatalf("check: %v", errs)
	}
	if named.Name != "Store 12 - entrance" {
		t.Errorf("name %q, want the cell trimmed", named.Name)
	}
	unnamed, _ := chk.check(&rawRow{Kind: "oa_perm", AppID: "wxoa", SceneID: "1"})
	if named.ID != unnamed.ID {
		t.Errorf("a name changed the code's id: %s, want %s", named.ID, unnamed.ID)
	}
}

// invalidRows are rows breaking each rule once, with the field and a piece
// of the rule the error must name. The integration tests feed them through
// a jobs file too.
var invalidRows = []struct {
	name      string
	row       rawRow
	wantField string
	wantRule  string
}{
	{"unknown kind", rawRow{Kind: "oa_forever", AppID: "wxoa", SceneID: "1"}, "kind", "unknown kind"},
	{"no kind", rawRow{AppID: "wxoa", SceneID: "1"}, "kind", "unknown kind"},
	{"no app", rawRow{Kind: "oa_perm", SceneID: "1"}, "app_id", "required"},
	{"unconfigured app", rawRow{Kind: "oa_perm", AppID: "wxnope", SceneID: "1"}, "app_id", "not configured"},
	{"mp app for oa kind", rawRow{Kind: "oa_perm", AppID: "wxmp", SceneID: "1"}, "app_id", "needs an oa app"},
	{"oa app for mp kind", rawRow{Kind: "wxa_qrcode", AppID: "wxoa", Path: "p"}, "app_id", "needs an mp app"},
	{"perm scene id too big", rawRow{Kind: "oa_perm", AppID: "wxoa", SceneID: "100001"}, "scene_id", "1..100000"},
	{"perm scene id negative", rawRow{Kind: "oa_perm", AppID: "wxoa", SceneID: "-1"}, "scene_id", "1..100000"},
	{"temp scene id too big", rawRow{Kind: "oa_temp", AppID: "wxoa", SceneID: "4294967296"}, "scene_id", "32-bit"},
	{"scene id not a number", rawRow{Kind: "oa_perm", AppID: "wxoa", SceneID: "12a"}, "scene_id", "integer"},
	{"no scene", rawRow{Kind: "oa_perm", AppID: "wxoa"}, "scene_id", "required"},
	{"both scenes", rawRow{Kind: "oa_perm", AppID: "wxoa", SceneID: "1", SceneStr: "x"}, "scene_id", "not both"},
	{"scene_str too long", rawRow{Kind: "oa_temp", AppID: "wxoa", SceneStr: strings.Repeat("s", 65)}, "scene_str", "1..64"},
	{"path for oa", rawRow{Kind: "oa_perm", AppID: "wxoa", SceneID: "1", Path: "p"}, "path", "not used"},
	{"no path", rawRow{Kind: "wxa_qrcode", AppID: "wxmp"}, "path", "1..128 bytes"},
	{"path too long", rawRow{Kind: "wxa_qrcode", AppID: "wxmp", Path: strings.Repeat("p", 129)}, "path", "1..128 bytes"},
	{"width too small", rawRow{Kind: "wxa_qrcode", AppID: "wxmp", Path: "p", Width: "279"}, "width", "280..1280"},
	{"width too big", rawRow{Kind: "wxa_code", AppID: "wxmp", Path: "p", Width: "1281"}, "width", "280..1280"},
	{"width not a number", rawRow{Kind: "wxa_qrcode", AppID: "wxmp", Path: "p", Width: "wide"}, "width", "integer"},
	{"width for oa", rawRow{Kind: "oa_perm", AppID: "wxoa", SceneID: "1", Width: "430"}, "width", "not used"},
	{"expire too long", rawRow{Kind: "oa_temp", AppID: "wxoa", SceneID: "1", ExpireSeconds: "2592001"}, "expire_seconds", "1..2592000"},
	{"expire negative", rawRow{Kind: "oa_temp", AppID: "wxoa", SceneID: "1", ExpireSeconds: "-5"}, "expire_seconds", "1..2592000"},
	{"expire for perm", rawRow{Kind: "oa_perm", AppID: "wxoa", SceneID: "1", ExpireSeconds: "60"}, "expire_seconds", "only used by oa_temp"},
	{"unlimited scene char", rawRow{Kind: "wxa_unlimited", AppID: "wxmp", SceneStr: "a b"}, "scene_str", "not allowed"},
	{"unlimited page slash", rawRow{Kind: "wxa_unlimited", AppID: "wxmp", SceneStr: "a", Path: "/pages/x"}, "path", "must not start with /"},
	{"name too long", rawRow{Kind: "oa_perm", AppID: "wxoa", SceneID: "1", Name: strings.Repeat("n", 101)}, "name", "at most 100 characters"},
	{"name with a tab", rawRow{Kind: "oa_perm", AppID: "wxoa", SceneID: "1", Name: "Store 12\tentrance"}, "name", "control characters"},
}

func TestCheckInvalid(t *testing.T) {
	for _, tt := range invalidRows {
		t.Run(tt.name, func(t *testing.T) {
			p, errs := testChecker(defaults{}).check(&tt.row)
			if len(errs) == 0 {
				t.Fatalf("check = %+v, want an error on %s", p, tt.wantField)
			}
			found := false
			for _, fe := range errs {
				found = found || fe.Field == tt.wantField && strings.Contains(fe.Rule, tt.wantRule)
			}
			if !found {
				t.Errorf("errors %v; want one on %s saying %q", errs, tt.wantField, tt.wantRule)
			}
		})
	}
}

func TestParseExpire(t *testing.T) {
	tests := []struct {
		in      string
		want    int
		wantErr bool
	}{
		{"7d", 7 * 86400, false},
		{"36h", 36 * 3600, false},
		{"1d12h", 36 * 3600, false},
		{"30d", 2592000, false},
		{"90s", 90, false},
		{"31d", 0, true},
		{"30d1s", 0, true},
		{"0s", 0, true},
		{"1.5s", 0, true},
		{"-1h", 0, true},
		{"d", 0, true},
		{"week", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseExpire(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parseExpire(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
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
			src, err := parseSceneIDs(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseSceneIDs(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			var ids []string
			err = src.each(t.Context(), func(line int, r *rawRow) error {
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
			src := csvSource{path: path, display: "jobs.csv", headerRules: headerRules{haveKind: tt.haveKind}}
			err := src.each(t.Context(), func(int, *rawRow) error { return nil })
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("each: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("each error = %v, want one containing %q", err, tt.want)
			case tt.want != "" && exitCode(err) != exitInput:
				t.Errorf("exit code %d for %v, want %d", exitCode(err), err, exitInput)
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
	err := csvSource{path: path, display: "jobs.csv"}.each(t.Context(), func(line int, r *rawRow) error {
		problem := "ok"
		if r.Problem != nil {
			problem = describe(r.Problem)
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

func TestExitCode(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{nil, exitOK},
		{flag.ErrHelp, exitOK},
		{inputErrorf("bad"), exitInput},
		{fmt.Errorf("wrapped: %w", inputErrorf("bad")), exitInput},
		{errors.New("redis down"), exitFailure},
	}
	for _, tt := range tests {
		if got := exitCode(tt.err); got != tt.want {
			t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"status", "-h"}, {"resume", "-h"}, {"export", "-h"}, {"reindex", "-h"}, {"retire", "-h"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var stdout, stderr strings.Builder
			// No environment at all: help must not need configuration.
			err := run(t.Context(), args, func(string) string { return "" }, strings.NewReader(""), &stdout, &stderr)
			if exitCode(err) != exitOK {
				t.Errorf("exit code %d (%v), want 0", exitCode(err), err)
			}
			if !strings.HasPrefix(stdout.String(), "Usage: enqueue") || !strings.Contains(stdout.String(), "Example") {
				t.Errorf("stdout = %q, want the usage with examples", stdout.String())
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	apps := map[string]string{"WXQR_APPS": "wxoa:s3cr3t:oa", "REDIS_URL": "redis://127.0.0.1:1/0"}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"unknown flag", apps, []string{"--colour", "red"}, "colour"},
		{"nothing to queue", apps, nil, "nothing to queue"},
		{"two inputs", apps, []string{"--scene-ids", "1-2", "jobs.csv"}, "only one"},
		{"two files", apps, []string{"a.csv", "b.csv"}, "one jobs file"},
		{"flags without kind", apps, []string{"--app", "wxoa", "--scene-ids", "1-2"}, "--kind and --app"},
		{"bad range", apps, []string{"--app", "wxoa", "--kind", "oa_perm", "--scene-ids", "9-1"}, "--scene-ids"},
		{"bad expire", apps, []string{"--app", "wxoa", "--kind", "oa_temp", "--expire", "2w", "--scene-ids", "1"}, "--expire"},
		{"bad concurrency", apps, []string{"--concurrency", "0", "--scene-ids", "1"}, "--concurrency"},
		{"width for oa", apps, []string{"--app", "wxoa", "--kind", "oa_perm", "--width", "430", "--scene-ids", "1"}, "--width"},
		{"expire for perm", apps, []string{"--app", "wxoa", "--kind", "oa_perm", "--expire", "7d", "--scene-ids", "1"}, "--expire"},
		{"page for qrcode", apps, []string{"--app", "wxmp", "--kind", "wxa_qrcode", "--page", "p", "--scene-ids", "1"}, "--page"},
		{"bad kind", apps, []string{"--app", "wxoa", "--kind", "oa_forever", "--scene-ids", "1"}, "--kind"},
		{"bad width", apps, []string{"--app", "wxmp", "--kind", "wxa_qrcode", "--width", "2000", "--paths", "p.txt"}, "--width must be"},
		{"unconfigured app", apps, []string{"--app", "wxnope", "--kind", "oa_perm", "--scene-ids", "1"}, "--app wxnope"},
		{"no apps", map[string]string{}, []string{"--app", "wxoa", "--kind", "oa_perm", "--scene-ids", "1"}, "WXQR_APPS"},
		{"bad config", map[string]string{"WXQR_APPS": "wxoa:s3cr3t:web"}, []string{"--app", "wxoa", "--kind", "oa_perm", "--scene-ids", "1"}, "WXQR_APPS"},
		{"status argument", apps, []string{"status", "now"}, "no arguments"},
		{"resume what", apps, []string{"resume"}, "--app, --class or --all"},
		{"resume both", apps, []string{"resume", "--all", "--app", "wxoa"}, "not both"},
		{"resume class", apps, []string{"resume", "--class", "gold"}, "--class"},
		{"export format", apps, []string{"export", "--format", "xml"}, "csv or jsonl"},
		{"retire what", apps, []string{"retire"}, "--campaign or --id"},
		{"retire both", apps, []string{"retire", "--campaign", "c", "--id", "x"}, "--campaign or --id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			err := run(t.Context(), tt.args, func(k string) string { return tt.env[k] }, strings.NewReader(""), &stdout, &stderr)
			if exitCode(err) != exitInput {
				t.Fatalf("exit code %d (%v), want %d", exitCode(err), err, exitInput)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
			if strings.Contains(err.Error()+stdout.String()+stderr.String(), "s3cr3t") {
				t.Errorf("output shows the app secret")
			}
		})
	}
}
