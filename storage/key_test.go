package storage

import (
	"errors"
	"testing"

	"github.com/wxqr/wxqr"
)

// Every key that wxqr derives from a code is one that the stores accept,
// however hostile the scene or path.
func TestSpecKeysAreValid(t *testing.T) {
	hostile := []string{"../../etc/passwd", ".", "..", "/abs", `a\b`, "a//b", "x.meta.json", "\x00\n", "春节", "%2e%2e", ""}
	for _, v := range hostile {
		specs := []wxqr.Spec{
			{Kind: wxqr.KindOATemp, AppID: v, SceneStr: v},
			{Kind: wxqr.KindOAPerm, AppID: "wx1", SceneID: 7},
			{Kind: wxqr.KindWxaQRCode, AppID: "wx1", Path: v},
			{Kind: wxqr.KindWxaCode, AppID: "wx1", Path: v, Width: 1280},
			{Kind: wxqr.KindWxaUnlimited, AppID: "wx1", Path: v, SceneStr: v},
		}
		for _, s := range specs {
			key := s.Key()
			for _, k := range []string{key, key + ".json"} {
				if err := checkKey(k); err != nil {
					t.Errorf("spec %+v: key %q: %v", s, k, err)
				}
			}
		}
	}
}

func TestMetaValueEncoding(t *testing.T) {
	tests := []struct{ value, encoded string }{
		{"", ""},
		{"plain-value_1.2", "plain-value_1.2"},
		{"a b", "a%20b"},
		{"100%", "100%25"},
		{"%41", "%2541"},
		{"春", "%E6%98%A5"},
		{"a+b=c&d/e?f", "a+b=c&d/e?f"},
		{"tab\there\n", "tab%09here%0A"},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			got := encodeMetaValue(tt.value)
			if got != tt.encoded {
				t.Errorf("encodeMetaValue(%q) = %q, want %q", tt.value, got, tt.encoded)
			}
			for _, c := range []byte(got) {
				if c <= ' ' || c >= 0x7f {
					t.Errorf("encoded %q holds byte %#x, which a header cannot carry", got, c)
				}
			}
			if back := decodeMetaValue(got); back != tt.value {
				t.Errorf("decodeMetaValue(%q) = %q, want %q", got, back, tt.value)
			}
		})
	}
}

// Values set by other tools come back as they were when they are not our
// encoding.
func TestDecodeForeignMetaValue(t *testing.T) {
	for _, v := range []string{"50%", "%zz", "%E"} {
		if got := decodeMetaValue(v); got != v {
			t.Errorf("decodeMetaValue(%q) = %q, want it unchanged", v, got)
		}
	}
}

func TestCheckKeyReasons(t *testing.T) {
	err := checkKey("a/../b")
	if !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("checkKey = %v, want ErrInvalidKey", err)
	}
	if got, want := opError("put", "a/../b", err).Error(), `storage: put "a/../b": invalid key: segment ".." starts with "."`; got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
}
