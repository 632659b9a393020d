package wxqr_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/wxqr/wxqr"
)

func TestSpecValidate(t *testing.T) {
	tests := []struct {
		name  string
		spec  wxqr.Spec
		field string // the field the first error names; "" for a valid spec
	}{
		{"temp by id", wxqr.Spec{Kind: wxqr.KindOATemp, AppID: "a", SceneID: 1 << 31}, ""},
		{"temp by string", wxqr.Spec{Kind: wxqr.KindOATemp, AppID: "a", SceneStr: "promo+/="}, ""},
		{"temp without scene", wxqr.Spec{Kind: wxqr.KindOATemp, AppID: "a"}, "scene_id"},
		{"temp id over 32 bits", wxqr.Spec{Kind: wxqr.KindOATemp, AppID: "a", SceneID: 1 << 32}, "scene_id"},
		{"temp with both scenes", wxqr.Spec{Kind: wxqr.KindOATemp, AppID: "a", SceneID: 1, SceneStr: "x"}, "scene_id"},
		{"perm at the cap", wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: "a", SceneID: 100000}, ""},
		{"perm over the cap", wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: "a", SceneID: 100001}, "scene_id"},
		{"perm negative", wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: "a", SceneID: -1}, "scene_id"},
		{"scene_str 64 runes", wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: "a", SceneStr: strings.Repeat("码", 64)}, ""},
		{"scene_str 65", wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: "a", SceneStr: strings.Repeat("x", 65)}, "scene_str"},
		{"oa with path", wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: "a", SceneID: 1, Path: "p"}, "path"},
		{"no app", wxqr.Spec{Kind: wxqr.KindOAPerm, SceneID: 1}, "app_id"},
		{"unknown kind", wxqr.Spec{Kind: "oa_forever", AppID: "a", SceneID: 1}, "kind"},
		{"wxa qrcode", wxqr.Spec{Kind: wxqr.KindWxaQRCode, AppID: "m", Path: "pages/index?id=1", Width: 280}, ""},
		{"wxa qrcode path 129 bytes", wxqr.Spec{Kind: wxqr.KindWxaQRCode, AppID: "m", Path: strings.Repeat("p", 129)}, "path"},
		{"wxa code path 1024 bytes", wxqr.Spec{Kind: wxqr.KindWxaCode, AppID: "m", Path: strings.Repeat("p", 1024)}, ""},
		{"wxa without path", wxqr.Spec{Kind: wxqr.KindWxaQRCode, AppID: "m"}, "path"},
		{"wxa width too small", wxqr.Spec{Kind: wxqr.KindWxaQRCode, AppID: "m", Path: "p", Width: 279}, "width"},
		{"wxa width too large", wxqr.Spec{Kind: wxqr.KindWxaCode, AppID: "m", Path: "p", Width: 1281}, "width"},
		{"wxa with scene", wxqr.Spec{Kind: wxqr.KindWxaQRCode, AppID: "m", Path: "p", SceneID: 3}, "scene_id"},
		{"unlimited", wxqr.Spec{Kind: wxqr.KindWxaUnlimited, AppID: "m", SceneStr: "a=1&b=2", Path: "pages/x"}, ""},
		{"unlimited scene 33", wxqr.Spec{Kind: wxqr.KindWxaUnlimited, AppID: "m", SceneStr: strings.Repeat("a", 33)}, "scene_str"},
		{"unlimited scene char", wxqr.Spec{Kind: wxqr.KindWxaUnlimited, AppID: "m", SceneStr: "a b"}, "scene_str"},
		{"unlimited page with slash", wxqr.Spec{Kind: wxqr.KindWxaUnlimited, AppID: "m", SceneStr: "a", Path: "/pages/x"}, "path"},
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
			if len(errs) == 0 {
				t.Fatalf("Validate() = no error, want one on %s", tt.field)
			}
			var fe *wxqr.FieldError
			if !errors.As(errs[0], &fe) {
				t.Fatalf("Validate()[0] = %T, want *wxqr.FieldError", errs[0])
			}
			if fe.Field != tt.field {
				t.Errorf("Validate()[0].Field = %q (%v), want %q", fe.Field, fe, tt.field)
			}
		})
	}
}

func TestSpecIDIsStableAndDistinct(t *testing.T) {
	a := wxqr.Spec{Kind: wxqr.KindWxaQRCode, AppID: "m", Path: "p"}
	b := a
	b.Width = wxqr.DefaultWidth
	if a.ID() != b.ID() {
		t.Errorf("default width and width %d give different ids", wxqr.DefaultWidth)
	}
	// A golden value: ids key every stored record, so they must never change.
	if got, want := a.ID(), "4da2471be7dcd50b6e4933680ff39eb8"; got != want {
		t.Errorf("ID() = %q, want %q", got, want)
	}
	distinct := []wxqr.Spec{
		{Kind: wxqr.KindOAPerm, AppID: "a", SceneID: 1},
		{Kind: wxqr.KindOATemp, AppID: "a", SceneID: 1},
		{Kind: wxqr.KindOAPerm, AppID: "b", SceneID: 1},
		{Kind: wxqr.KindOAPerm, AppID: "a", SceneStr: "1"},
		{Kind: wxqr.KindOAPerm, AppID: "a", SceneStr: "1;"},
		{Kind: wxqr.KindWxaQRCode, AppID: "a", Path: "1"},
		{Kind: wxqr.KindWxaQRCode, AppID: "a", Path: "1", Width: 500},
	}
	seen := map[string]wxqr.Spec{}
	for _, s := range distinct {
		if prev, ok := seen[s.ID()]; ok {
			t.Errorf("%+v and %+v share id %s", prev, s, s.ID())
		}
		seen[s.ID()] = s
	}
}

func TestSpecKey(t *testing.T) {
	tests := []struct {
		spec wxqr.Spec
		want string
	}{
		{wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: "wx1", SceneID: 42}, "wx1/oa_perm/i-42.jpg"},
		{wxqr.Spec{Kind: wxqr.KindOATemp, AppID: "wx1", SceneStr: "spring-2026"}, "wx1/oa_temp/s-spring-2026.jpg"},
		{wxqr.Spec{Kind: wxqr.KindOATemp, AppID: "wx1", SceneStr: "../../etc"}, "wx1/oa_temp/s-%2E%2E%2F%2E%2E%2Fetc.jpg"},
		{wxqr.Spec{Kind: wxqr.KindOATemp, AppID: "wx1", SceneStr: "Promo"}, "wx1/oa_temp/s-%50romo.jpg"},
		{wxqr.Spec{Kind: wxqr.KindWxaQRCode, AppID: "wxm", Path: "pages/a?id=1"}, "wxm/wxa_qrcode/pages%2Fa%3Fid%3D1_w430.jpg"},
		{wxqr.Spec{Kind: wxqr.KindWxaUnlimited, AppID: "wxm", Path: "pages/a", SceneStr: "x@y"}, "wxm/wxa_unlimited/pages%2Fa@x%40y_w430.jpg"},
		{wxqr.Spec{Kind: wxqr.KindWxaCode, AppID: "wxm", Path: strings.Repeat("p", 1024)},
			"wxm/wxa_code/" + strings.Repeat("p", 147) + "~" + wxqr.Spec{Kind: wxqr.KindWxaCode, AppID: "wxm", Path: strings.Repeat("p", 1024)}.ID() + "_w430.jpg"},
	}
	for _, tt := range tests {
		if got := tt.spec.Key(); got != tt.want {
			t.Errorf("%+v.Key() = %q, want %q", tt.spec, got, tt.want)
		}
	}
}

var escapes = regexp.MustCompile(`%[0-9A-F]{2}`)

// FuzzSpecKey checks that keys are safe for any scene and that two different
// codes never share one, whatever their case or bytes.
func FuzzSpecKey(f *testing.F) {
	f.Add("a", "A", "pages/x", "p")
	f.Add("../x", "..%2Fx", "a@b", "a%40b")
	f.Fuzz(func(t *testing.T, s1, s2, p1, p2 string) {
		specs := []wxqr.Spec{
			{Kind: wxqr.KindOATemp, AppID: "a", SceneStr: s1},
			{Kind: wxqr.KindOATemp, AppID: "a", SceneStr: s2},
			{Kind: wxqr.KindWxaUnlimited, AppID: "a", SceneStr: s1, Path: p1},
			{Kind: wxqr.KindWxaUnlimited, AppID: "a", SceneStr: s2, Path: p2},
			{Kind: wxqr.KindWxaUnlimited, AppID: "a", SceneStr: s1, Path: p1, LineColor: "#ff0000", IsHyaline: true, CheckPath: wxqr.BoolFalse},
			{Kind: wxqr.KindWxaUnlimited, AppID: "a", SceneStr: s2, Path: p2, LineColor: "#ff0000", IsHyaline: true, CheckPath: wxqr.BoolFalse},
		}
		for _, s := range specs {
			key := s.Key()
			for _, seg := range strings.Split(key, "/") {
				if seg == "" || seg == "." || seg == ".." {
					t.Fatalf("%+v.Key() = %q has segment %q", s, key, seg)
				}
			}
			if unescaped := escapes.ReplaceAllString(key, ""); strings.ToLower(unescaped) != unescaped {
				t.Fatalf("%+v.Key() = %q has upper case outside escapes", s, key)
			}
		}
		for _, s := range specs {
			if name := s.Key()[strings.LastIndex(s.Key(), "/")+1:]; len(name) > 255 {
				t.Fatalf("%+v.Key() has a %d-byte file name", s, len(name))
			}
		}
		for i := 0; i < len(specs); i += 2 {
			a, b := specs[i], specs[i+1]
			if a.ID() != b.ID() && strings.EqualFold(a.Key(), b.Key()) {
				t.Fatalf("different codes %+v and %+v share key %q (ignoring case)", a, b, a.Key())
			}
		}
	})
}
