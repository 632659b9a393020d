package wechatsim_test

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"testing"

	"github.com/wxqr/wxqr/wechat/wechatsim"
)

func TestWxaStyle(t *testing.T) {
	sim := startSim(t, wechatsim.Config{})
	tok := classicToken(t, sim, mpID, mpSecret).AccessToken
	blue := color.NRGBA{R: 0x1a, G: 0x5f, B: 0xb4, A: 0xff}
	black := color.NRGBA{A: 0xff}
	tests := []struct {
		name        string
		api         string
		body        map[string]any
		made        wechatsim.CodeRequest // what CodesMade records, AppID and API aside
		contentType string
		ink         color.NRGBA // the colour of the dark modules
	}{
		{"code, coloured", wechatsim.APIGetWxaCode,
			map[string]any{"path": "pages/a", "line_color": map[string]any{"r": 26, "g": "95", "b": 180}, "env_version": "trial"},
			wechatsim.CodeRequest{Path: "pages/a", Width: 430, LineColor: "#1a5fb4", EnvVersion: "trial"}, "image/jpeg", blue},
		{"code, transparent", wechatsim.APIGetWxaCode,
			map[string]any{"path": "pages/a", "is_hyaline": true, "width": 280},
			wechatsim.CodeRequest{Path: "pages/a", Width: 280, IsHyaline: true}, "image/png", black},
		{"code, auto colour overrides the line colour", wechatsim.APIGetWxaCode,
			map[string]any{"path": "pages/b", "auto_color": true, "line_color": map[string]any{"r": 255, "g": 0, "b": 0}},
			wechatsim.CodeRequest{Path: "pages/b", Width: 430, AutoColor: true, LineColor: "#ff0000"}, "image/jpeg", black},
		{"unlimited, every field", wechatsim.APIGetWxaCodeUnlimited,
			map[string]any{"scene": "u=1", "page": "pages/land", "line_color": map[string]any{"r": 26, "g": 95, "b": 180},
				"is_hyaline": true, "env_version": "develop", "check_path": false},
			wechatsim.CodeRequest{Scene: "u=1", Path: "pages/land", Width: 430, LineColor: "#1a5fb4", IsHyaline: true, EnvVersion: "develop", CheckPath: "false"},
			"image/png", blue},
		{"unlimited, defaults sent", wechatsim.APIGetWxaCodeUnlimited,
			map[string]any{"scene": "u=2", "env_version": "release", "check_path": true},
			wechatsim.CodeRequest{Scene: "u=2", Width: 430, EnvVersion: "release", CheckPath: "true"}, "image/jpeg", black},
		// createwxaqrcode documents no styling: it draws and records none.
		{"qrcode ignores styling", wechatsim.APICreateWxaQRCode,
			map[string]any{"path": "pages/q", "line_color": map[string]any{"r": 255}, "is_hyaline": true, "env_version": "trial"},
			wechatsim.CodeRequest{Path: "pages/q", Width: 430}, "image/jpeg", black},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, _ := json.Marshal(tt.body)
			r := call(t, sim, tt.api, tok, string(body))
			if r.contentType != tt.contentType {
				t.Fatalf("Content-Type %q (%.60q), want %s", r.contentType, r.body, tt.contentType)
			}
			want := tt.made
			want.AppID, want.API = mpID, tt.api
			if n := sim.CodesMade()[want]; n != 1 {
				t.Errorf("CodesMade()[%+v] = %d, want 1; made: %+v", want, n, sim.CodesMade())
			}
			if got, want := decodeQR(t, r.body), wechatsim.WxaContent(mpID, tt.api, want.Path, want.Scene); got != want {
				t.Errorf("QR content %q, want %q", got, want)
			}
			m, _, err := image.Decode(bytes.NewReader(r.body))
			if err != nil {
				t.Fatal(err)
			}
			corner := color.NRGBAModel.Convert(m.At(0, 0)).(color.NRGBA)
			if transparent := tt.contentType == "image/png"; transparent != (corner.A == 0) {
				t.Errorf("the background is %+v; want transparent: %v", corner, transparent)
			}
			if got := darkest(m); !near(got, tt.ink) {
				t.Errorf("the modules are drawn in %+v, want %+v", got, tt.ink)
			}
		})
	}
}

// darkest returns the opaque colour of least luminance in m: the colour
// its QR modules are drawn in.
func darkest(m image.Image) color.NRGBA {
	var best color.NRGBA
	bestY := 1 << 30
	for y := m.Bounds().Min.Y; y < m.Bounds().Max.Y; y++ {
		for x := m.Bounds().Min.X; x < m.Bounds().Max.X; x++ {
			c := color.NRGBAModel.Convert(m.At(x, y)).(color.NRGBA)
			if lum := 299*int(c.R) + 587*int(c.G) + 114*int(c.B); c.A == 0xff && lum < bestY {
				best, bestY = c, lum
			}
		}
	}
	return best
}

// near reports whether a and b are the same colour but for JPEG's error.
func near(a, b color.NRGBA) bool {
	d := func(x, y uint8) int { return max(int(x), int(y)) - min(int(x), int(y)) }
	return d(a.R, b.R) <= 24 && d(a.G, b.G) <= 24 && d(a.B, b.B) <= 24 && a.A == b.A
}

// TestWxaCapCountsEachLook: WeChat counts identical parameters once, and a
// code in another colour or version is other parameters, so it spends
// another of the 100,000.
func TestWxaCapCountsEachLook(t *testing.T) {
	sim := startSim(t, wechatsim.Config{})
	sim.SetLimits(mpID, wechatsim.Limits{WxaCap: 3})
	tok := classicToken(t, sim, mpID, mpSecret).AccessToken
	for i, st := range []struct {
		body string
		want int
	}{
		{`{"path":"a"}`, 0},
		{`{"path":"a","line_color":{"r":0,"g":0,"b":0},"env_version":"release"}`, 0}, // WeChat's defaults: the same code
		{`{"path":"a","line_color":{"r":255,"g":0,"b":0}}`, 0},
		{`{"path":"a","is_hyaline":true}`, 0},
		{`{"path":"a","is_hyaline":true}`, 0}, // the same code again
		{`{"path":"a","env_version":"trial"}`, 45029},
	} {
		r := call(t, sim, wechatsim.APIGetWxaCode, tok, st.body)
		got := 0
		if r.contentType != "image/jpeg" && r.contentType != "image/png" {
			got = r.errcode(t)
		}
		if got != st.want {
			t.Errorf("step %d (%s): errcode %d, want %d", i, st.body, got, st.want)
		}
	}
	if got, want := sim.Usage(mpID, wechatsim.APIGetWxaCode), (wechatsim.Usage{Made: 5, Capped: 3}); got != want {
		t.Errorf("Usage = %+v, want %+v", got, want)
	}
}
