package wxqr_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/wxqr/wxqr"
)

func TestParseColor(t *testing.T) {
	for _, c := range []struct {
		in   string
		want wxqr.Color
	}{
		{"#1A5FB4", wxqr.Color{R: 0x1a, G: 0x5f, B: 0xb4}},
		{"#1a5fb4", wxqr.Color{R: 0x1a, G: 0x5f, B: 0xb4}},
		{"26,95,180", wxqr.Color{R: 26, G: 95, B: 180}},
		{" 26 , 95 , 180 ", wxqr.Color{R: 26, G: 95, B: 180}},
		{"0,0,0", wxqr.Color{}},
		{"255,255,255", wxqr.Color{R: 255, G: 255, B: 255}},
	} {
		got, err := wxqr.ParseColor(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseColor(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"", "#", "#12345", "#1234567", "#12345g", "1a5fb4", "red", "1,2", "1,2,3,4", "256,0,0", "-1,0,0", "1.5,0,0", "#+12345"} {
		if got, err := wxqr.ParseColor(in); err == nil {
			t.Errorf("ParseColor(%q) = %v, want an error", in, got)
		}
	}
	if got := (wxqr.Color{R: 0x1a, G: 0x5f, B: 0xb4}).String(); got != "#1a5fb4" {
		t.Errorf("String() = %q, want #1a5fb4", got)
	}
}

func TestParseOptionalBool(t *testing.T) {
	for in, want := range map[string]wxqr.OptionalBool{
		"": wxqr.BoolUnset, "  ": wxqr.BoolUnset,
		"true": wxqr.BoolTrue, "TRUE": wxqr.BoolTrue, "1": wxqr.BoolTrue, "yes": wxqr.BoolTrue, " Yes ": wxqr.BoolTrue,
		"false": wxqr.BoolFalse, "False": wxqr.BoolFalse, "0": wxqr.BoolFalse, "no": wxqr.BoolFalse, "NO": wxqr.BoolFalse,
	} {
		if got, err := wxqr.ParseOptionalBool(in); err != nil || got != want {
			t.Errorf("ParseOptionalBool(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"y", "n", "2", "on", "off", "t"} {
		if _, err := wxqr.ParseOptionalBool(in); err == nil {
			t.Errorf("ParseOptionalBool(%q): no error", in)
		}
	}
}

func TestOptionalBoolJSON(t *testing.T) {
	for _, c := range []struct {
		spec wxqr.Spec
		json string
	}{
		{wxqr.Spec{Kind: wxqr.KindWxaUnlimited}, `{"kind":"wxa_unlimited","app_id":""}`},
		{wxqr.Spec{Kind: wxqr.KindWxaUnlimited, CheckPath: wxqr.BoolFalse}, `{"kind":"wxa_unlimited","app_id":"","check_path":false}`},
		{wxqr.Spec{Kind: wxqr.KindWxaUnlimited, CheckPath: wxqr.BoolTrue}, `{"kind":"wxa_unlimited","app_id":"","check_path":true}`},
	} {
		data, err := json.Marshal(c.spec)
		if err != nil || string(data) != c.json {
			t.Errorf("Marshal(%+v) = %s, %v; want %s", c.spec, data, err, c.json)
		}
		var back wxqr.Spec
		if err := json.Unmarshal(data, &back); err != nil || back != c.spec {
			t.Errorf("Unmarshal(%s) = %+v, %v; want %+v", data, back, err, c.spec)
		}
	}
	var s wxqr.Spec
	if err := json.Unmarshal([]byte(`{"check_path":null}`), &s); err != nil || s.CheckPath != wxqr.BoolUnset {
		t.Errorf("check_path null = %v, %v; want unset", s.CheckPath, err)
	}
	if err := json.Unmarshal([]byte(`{"check_path":"no"}`), &s); err == nil {
		t.Error(`check_path "no" decoded without an error`)
	}
}

func TestSpecValidateStyle(t *testing.T) {
	code := wxqr.Spec{Kind: wxqr.KindWxaCode, AppID: "m", Path: "pages/a"}
	unlimited := wxqr.Spec{Kind: wxqr.KindWxaUnlimited, AppID: "m", SceneStr: "a=1"}
	with := func(s wxqr.Spec, change func(*wxqr.Spec)) wxqr.Spec { change(&s); return s }
	tests := []struct {
		name  string
		spec  wxqr.Spec
		field string // the field the one error names; "" for a valid spec
		rule  string // a piece of that error's rule
	}{
		{"code, every style", with(code, func(s *wxqr.Spec) {
			s.LineColor, s.IsHyaline, s.EnvVersion = "#1A5FB4", true, wxqr.EnvTrial
		}), "", ""},
		{"code, auto colour", with(code, func(s *wxqr.Spec) { s.AutoColor = true }), "", ""},
		{"code, r,g,b colour", with(code, func(s *wxqr.Spec) { s.LineColor = "26,95,180" }), "", ""},
		{"code, release", with(code, func(s *wxqr.Spec) { s.EnvVersion = wxqr.EnvRelease }), "", ""},
		{"unlimited, every style", with(unlimited, func(s *wxqr.Spec) {
			s.LineColor, s.IsHyaline, s.EnvVersion, s.CheckPath = "#000000", true, wxqr.EnvDevelop, wxqr.BoolFalse
		}), "", ""},
		{"unlimited, check_path true", with(unlimited, func(s *wxqr.Spec) { s.CheckPath = wxqr.BoolTrue }), "", ""},
		{"bad colour", with(code, func(s *wxqr.Spec) { s.LineColor = "blue" }), "line_color", "#RRGGBB or r,g,b"},
		{"colour out of range", with(code, func(s *wxqr.Spec) { s.LineColor = "0,0,256" }), "line_color", "0..255"},
		{"colour and auto colour", with(code, func(s *wxqr.Spec) { s.LineColor, s.AutoColor = "#ff0000", true }), "line_color", "auto_color"},
		{"unknown version", with(unlimited, func(s *wxqr.Spec) { s.EnvVersion = "beta" }), "env_version", "release, trial or develop"},
		{"check_path on wxa_code", with(code, func(s *wxqr.Spec) { s.CheckPath = wxqr.BoolFalse }), "check_path", "only used by wxa_unlimited"},
		{"colour on wxa_qrcode", wxqr.Spec{Kind: wxqr.KindWxaQRCode, AppID: "m", Path: "p", LineColor: "#ff0000"}, "line_color", "not used by wxa_qrcode"},
		{"auto colour on oa_perm", wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: "a", SceneID: 1, AutoColor: true}, "auto_color", "not used by oa_perm"},
		{"hyaline on oa_temp", wxqr.Spec{Kind: wxqr.KindOATemp, AppID: "a", SceneID: 1, IsHyaline: true}, "is_hyaline", "not used by oa_temp"},
		{"version on wxa_qrcode", wxqr.Spec{Kind: wxqr.KindWxaQRCode, AppID: "m", Path: "p", EnvVersion: wxqr.EnvRelease}, "env_version", "not used by wxa_qrcode"},
		{"check_path on wxa_qrcode", wxqr.Spec{Kind: wxqr.KindWxaQRCode, AppID: "m", Path: "p", CheckPath: wxqr.BoolTrue}, "check_path", "not used by wxa_qrcode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := tt.spec.Validate()
			if tt.field == "" {
				if len(errs) != 0 {
					t.Fatalf("Validate() = %v, want no error", errs)
				}
				return
			}
			if len(errs) != 1 {
				t.Fatalf("Validate() = %v, want one error on %s", errs, tt.field)
			}
			var fe *wxqr.FieldError
			if !errors.As(errs[0], &fe) || fe.Field != tt.field || !strings.Contains(fe.Rule, tt.rule) {
				t.Errorf("Validate() = %v, want an error on %s saying %q", errs[0], tt.field, tt.rule)
			}
		})
	}
}

func TestSpecNormalizeStyle(t *testing.T) {
	got := wxqr.Spec{Kind: wxqr.KindWxaUnlimited, AppID: "m", SceneStr: "a", LineColor: " 26, 95, 180", EnvVersion: wxqr.EnvTrial, CheckPath: wxqr.BoolFalse}.Normalize()
	if got.LineColor != "#1a5fb4" || got.EnvVersion != wxqr.EnvTrial || got.CheckPath != wxqr.BoolFalse {
		t.Errorf("Normalize() = %+v, want line colour #1a5fb4, trial, check_path false", got)
	}
	// WeChat's defaults, given explicitly, are the same code as left out.
	defaults := wxqr.Spec{Kind: wxqr.KindWxaUnlimited, AppID: "m", SceneStr: "a", LineColor: "0,0,0", EnvVersion: wxqr.EnvRelease, CheckPath: wxqr.BoolTrue}
	plain := wxqr.Spec{Kind: wxqr.KindWxaUnlimited, AppID: "m", SceneStr: "a"}
	if got, want := defaults.Normalize(), plain.Normalize(); got != want {
		t.Errorf("Normalize() of WeChat's defaults = %+v, want %+v", got, want)
	}
	if defaults.ID() != plain.ID() || defaults.Key() != plain.Key() {
		t.Errorf("WeChat's defaults given explicitly change the code: id %s, key %s; want %s, %s", defaults.ID(), defaults.Key(), plain.ID(), plain.Key())
	}
	if again := got.Normalize(); again != got {
		t.Errorf("Normalize is not idempotent: %+v, then %+v", got, again)
	}
}

// TestSpecIDOfUnstyledCodesIsUnchanged holds the ids and keys of codes
// without styling to the values computed before styling existed: every
// stored record, task id and object is keyed by them.
func TestSpecIDOfUnstyledCodesIsUnchanged(t *testing.T) {
	for _, c := range []struct {
		spec    wxqr.Spec
		id, key string
	}{
		{wxqr.Spec{Kind: wxqr.KindOATemp, AppID: "wx1", SceneID: 7}, "0eaeb714db26c128a66c7b437d93d0de", "wx1/oa_temp/i-7.jpg"},
		{wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: "wx1", SceneStr: "spring-2026"}, "3d0a807df4bbd8663a5cb2a76bc9c22c", "wx1/oa_perm/s-spring-2026.jpg"},
		{wxqr.Spec{Kind: wxqr.KindWxaQRCode, AppID: "wxm", Path: "pages/a?id=1", Width: 280}, "c96590f04934b774bc776cec2d70e74e", "wxm/wxa_qrcode/pages%2Fa%3Fid%3D1_w280.jpg"},
		{wxqr.Spec{Kind: wxqr.KindWxaCode, AppID: "wxm", Path: "pages/shop?sku=42"}, "e4913c537e07be967049a614057fc127", "wxm/wxa_code/pages%2Fshop%3Fsku%3D42_w430.jpg"},
		{wxqr.Spec{Kind: wxqr.KindWxaCode, AppID: "wxm", Path: "pages/shop?sku=42", Width: 1280}, "e19a6efc16a9e562ae052d18c11bb3d1", "wxm/wxa_code/pages%2Fshop%3Fsku%3D42_w1280.jpg"},
		{wxqr.Spec{Kind: wxqr.KindWxaUnlimited, AppID: "wxm", SceneStr: "u=1", Path: "pages/land/index"}, "ca9a0b3b0e59f68891bf0985f933cd9f", "wxm/wxa_unlimited/pages%2Fland%2Findex@u%3D1_w430.jpg"},
		{wxqr.Spec{Kind: wxqr.KindWxaUnlimited, AppID: "wxm", SceneStr: "u=1"}, "7a725590a932334eebde96beed50746d", "wxm/wxa_unlimited/%@u%3D1_w430.jpg"},
		// WeChat's defaults, given explicitly, are no styling.
		{wxqr.Spec{Kind: wxqr.KindWxaUnlimited, AppID: "wxm", SceneStr: "u=1", LineColor: "#000000", EnvVersion: wxqr.EnvRelease, CheckPath: wxqr.BoolTrue},
			"7a725590a932334eebde96beed50746d", "wxm/wxa_unlimited/%@u%3D1_w430.jpg"},
	} {
		if got := c.spec.ID(); got != c.id {
			t.Errorf("%+v.ID() = %s, want %s", c.spec, got, c.id)
		}
		if got := c.spec.Key(); got != c.key {
			t.Errorf("%+v.Key() = %s, want %s", c.spec, got, c.key)
		}
	}
}

func TestStyledSpecsAreOtherCodes(t *testing.T) {
	base := wxqr.Spec{Kind: wxqr.KindWxaUnlimited, AppID: "wxm", SceneStr: "u=1", Path: "pages/land/index"}
	with := func(change func(*wxqr.Spec)) wxqr.Spec { s := base; change(&s); return s }
	specs := []wxqr.Spec{
		base,
		with(func(s *wxqr.Spec) { s.AutoColor = true }),
		with(func(s *wxqr.Spec) { s.LineColor = "#1a5fb4" }),
		with(func(s *wxqr.Spec) { s.LineColor = "#1a5fb5" }),
		with(func(s *wxqr.Spec) { s.IsHyaline = true }),
		with(func(s *wxqr.Spec) { s.LineColor, s.IsHyaline = "#1a5fb4", true }),
		with(func(s *wxqr.Spec) { s.EnvVersion = wxqr.EnvTrial }),
		with(func(s *wxqr.Spec) { s.EnvVersion = wxqr.EnvDevelop }),
		with(func(s *wxqr.Spec) { s.CheckPath = wxqr.BoolFalse }),
		with(func(s *wxqr.Spec) { s.Kind, s.SceneStr, s.Path = wxqr.KindWxaCode, "", "pages/land/index?u=1" }),
		with(func(s *wxqr.Spec) {
			s.Kind, s.SceneStr, s.Path, s.IsHyaline = wxqr.KindWxaCode, "", "pages/land/index?u=1", true
		}),
	}
	ids, keys := map[string]wxqr.Spec{}, map[string]wxqr.Spec{}
	for _, s := range specs {
		if prev, ok := ids[s.ID()]; ok {
			t.Errorf("%+v and %+v share id %s", prev, s, s.ID())
		}
		if prev, ok := keys[strings.ToLower(s.Key())]; ok {
			t.Errorf("%+v and %+v share key %s", prev, s, s.Key())
		}
		ids[s.ID()], keys[strings.ToLower(s.Key())] = s, s
	}
	// The same colour written two ways is one code.
	a, b := with(func(s *wxqr.Spec) { s.LineColor = "#1A5FB4" }), with(func(s *wxqr.Spec) { s.LineColor = "26,95,180" })
	if a.ID() != b.ID() || a.Key() != b.Key() {
		t.Errorf("#1A5FB4 and 26,95,180 are different codes: %s %s, %s %s", a.ID(), a.Key(), b.ID(), b.Key())
	}
}

func TestStyledSpecKey(t *testing.T) {
	for _, c := range []struct {
		spec wxqr.Spec
		want string
	}{
		{wxqr.Spec{Kind: wxqr.KindWxaCode, AppID: "wxm", Path: "pages/a", IsHyaline: true}, "wxm/wxa_code/pages%2Fa_w430_hyaline.png"},
		{wxqr.Spec{Kind: wxqr.KindWxaCode, AppID: "wxm", Path: "pages/a", AutoColor: true, EnvVersion: wxqr.EnvTrial}, "wxm/wxa_code/pages%2Fa_w430_auto-color_env-trial.jpg"},
		{wxqr.Spec{Kind: wxqr.KindWxaUnlimited, AppID: "wxm", Path: "pages/a", SceneStr: "x", Width: 600, LineColor: "26,95,180", IsHyaline: true, EnvVersion: wxqr.EnvDevelop, CheckPath: wxqr.BoolFalse},
			"wxm/wxa_unlimited/pages%2Fa@x_w600_line-1a5fb4_hyaline_env-develop_no-check-path.png"},
	} {
		if got := c.spec.Key(); got != c.want {
			t.Errorf("%+v.Key() = %q, want %q", c.spec, got, c.want)
		}
	}
	// A golden value: styled codes' ids key stored records as well.
	styled := wxqr.Spec{Kind: wxqr.KindWxaUnlimited, AppID: "wxm", Path: "pages/a", SceneStr: "x", Width: 600, LineColor: "26,95,180", IsHyaline: true, EnvVersion: wxqr.EnvDevelop, CheckPath: wxqr.BoolFalse}
	if got, want := styled.ID(), "6ce3ab23836dc2813fb273e63a6378f2"; got != want {
		t.Errorf("styled ID() = %s, want %s", got, want)
	}
	long := wxqr.Spec{Kind: wxqr.KindWxaCode, AppID: "wxm", Path: strings.Repeat("p", 1024), Width: 1280, LineColor: "#ffffff", IsHyaline: true, EnvVersion: wxqr.EnvDevelop}
	if name := long.Key()[strings.LastIndex(long.Key(), "/")+1:]; len(name) > 255 || !strings.HasSuffix(name, ".png") || !strings.Contains(name, long.ID()) {
		t.Errorf("long styled key's file name %q: want at most 255 bytes, the id and .png", name)
	}
}

func TestSpecImageContentType(t *testing.T) {
	for _, c := range []struct {
		spec wxqr.Spec
		want string
	}{
		{wxqr.Spec{Kind: wxqr.KindOAPerm, SceneID: 1}, wxqr.ContentTypeJPEG},
		{wxqr.Spec{Kind: wxqr.KindWxaCode, Path: "p"}, wxqr.ContentTypeJPEG},
		{wxqr.Spec{Kind: wxqr.KindWxaCode, Path: "p", LineColor: "#ff0000"}, wxqr.ContentTypeJPEG},
		{wxqr.Spec{Kind: wxqr.KindWxaUnlimited, SceneStr: "a", IsHyaline: true}, wxqr.ContentTypePNG},
	} {
		if got := c.spec.ImageContentType(); got != c.want {
			t.Errorf("%+v.ImageContentType() = %q, want %q", c.spec, got, c.want)
		}
	}
}
