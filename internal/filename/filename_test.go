package filename_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/internal/filename"
)

func TestSafe(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "Store 12 - entrance", "Store 12 - entrance"},
		{"unicode", "门店 12 · 入口 🎉", "门店 12 · 入口 🎉"},
		{"slashes", `north/south\east`, "north_south_east"},
		{"parent", "../../etc/passwd", "_.._etc_passwd"},
		{"dots only", "..", ""},
		{"hidden", ".profile", "profile"},
		{"spaces around", "  Store 12 \t", "Store 12"},
		{"control characters", "Store\n12\x00\x7f", "Store_12__"},
		{"windows forbidden", `a<b>c:d"e|f?g*h`, "a_b_c_d_e_f_g_h"},
		{"trailing dots", "Store 12...", "Store 12"},
		{"dots and spaces", " . Store . ", "Store"},
		{"empty", "", ""},
		{"blank", "   ", ""},
		{"device", "CON", "CON_"},
		{"device, any case", "nul", "nul_"},
		{"device with a dot", "com1.backup", "com1.backup_"},
		{"not a device", "CONSOLE", "CONSOLE"},
		{"not a device either", "COM0", "COM0"},
		{"invalid UTF-8", "Store \xff", "Store _"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := filename.Safe(tt.in); got != tt.want {
				t.Errorf("Safe(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestSafeCapsLength(t *testing.T) {
	for _, tt := range []struct{ name, in string }{
		{"ASCII", strings.Repeat("n", 300)},
		{"three-byte characters", strings.Repeat("门", 100)},
		{"four-byte characters", strings.Repeat("🎉", 100)},
		{"spaces at the cut", strings.Repeat("n", 199) + "   x"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := filename.Safe(tt.in)
			if len(got) > 200 || len(got) < 190 || !utf8.ValidString(got) || !strings.HasPrefix(tt.in, got) || strings.HasSuffix(got, " ") {
				t.Errorf("Safe of %d bytes = %d bytes (valid UTF-8: %v), want a prefix of 190..200 bytes, whole characters, no trailing space",
					len(tt.in), len(got), utf8.ValidString(got))
			}
		})
	}
}

func TestSetCode(t *testing.T) {
	code := func(sceneID int64, name string) *wxqr.Record {
		return &wxqr.Record{Spec: wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: "wx1234", SceneID: sceneID}, Name: name}
	}
	mini := &wxqr.Record{Spec: wxqr.Spec{Kind: wxqr.KindWxaQRCode, AppID: "wxmini", Path: "pages/a"}, Name: "Store 12"}
	var s filename.Set
	tests := []struct {
		rec  *wxqr.Record
		want string
	}{
		{code(1, "Store 12"), "Store 12.jpg"},
		{code(2, "Store 12"), "Store 12 (2).jpg"},
		{code(3, "store 12"), "store 12 (3).jpg"}, // one file on Windows and macOS
		{code(4, " Store 12 "), "Store 12 (4).jpg"},
		{code(5, "Store 12 (2)"), "Store 12 (2) (2).jpg"},
		{code(6, ""), "wx1234/oa_perm/i-6.jpg"},      // no name: the storage key
		{code(7, " ... "), "wx1234/oa_perm/i-7.jpg"}, // nothing left of the name
		{code(8, "a/b"), "a_b.jpg"},
		{code(9, "a\\b"), "a_b (2).jpg"},
		{mini, "Store 12 (5).jpg"},
		{code(10, "Store 12"), "Store 12 (6).jpg"},
	}
	for _, tt := range tests {
		if got := s.Code(tt.rec); got != tt.want {
			t.Errorf("Code(%d, %q) = %q, want %q", tt.rec.SceneID, tt.rec.Name, got, tt.want)
		}
	}
}

func TestSetCodeManyOfOneName(t *testing.T) {
	var s filename.Set
	seen := map[string]bool{}
	for i := range 10_000 {
		rec := &wxqr.Record{Spec: wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: "wx1234", SceneID: int64(i + 1)}, Name: "Entrance"}
		name := s.Code(rec)
		if seen[name] {
			t.Fatalf("%q given out twice", name)
		}
		seen[name] = true
	}
	if !seen["Entrance (10000).jpg"] {
		t.Error("the 10,000th code of one name is not Entrance (10000).jpg")
	}
}

func TestSetLabel(t *testing.T) {
	// Labels of print sheets: the code's name, else its scene or path.
	var names filename.Set
	tests := []struct{ label, want string }{
		{"Store 12 - entrance", "Store 12 - entrance"},
		{"store 12 - ENTRANCE", "store 12 - ENTRANCE (2)"}, // one file on a case-insensitive disk
		{"Store 12 - entrance", "Store 12 - entrance (3)"},
		{"Lobby (2)", "Lobby (2)"},
		{"Lobby", "Lobby"},
		{"Lobby", "Lobby (3)"}, // "Lobby (2)" is taken by its own label
		{"a/b\\c:d*e?f\"g<h>i|j", "a_b_c_d_e_f_g_h_i_j"},
		{"../../etc/passwd", "_.._etc_passwd"},
		{" .hidden. ", "hidden"},
		{"...", ""}, // nothing left: the caller names it otherwise
		{"CON", "CON_"},
		{"门店12 - 入口", "门店12 - 入口"},
		{strings.Repeat("长", 100), strings.Repeat("长", 66)}, // 3 bytes a character, cut whole
	}
	for _, tt := range tests {
		if got := names.Label(tt.label, ""); got != tt.want {
			t.Errorf("name(%q) = %q, want %q", tt.label, got, tt.want)
		}
	}
}
