package wechatsim_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wxqr/wxqr/internal/fakeclock"
	"github.com/wxqr/wxqr/wechat/wechatsim"
)

func TestWxaValidation(t *testing.T) {
	sim := startSim(t, wechatsim.Config{})
	mp := classicToken(t, sim, mpID, mpSecret).AccessToken
	oa := classicToken(t, sim, oaID, oaSecret).AccessToken
	const (
		qr        = wechatsim.APICreateWxaQRCode
		code      = wechatsim.APIGetWxaCode
		unlimited = wechatsim.APIGetWxaCodeUnlimited
	)
	tests := []struct {
		name string
		api  string
		tok  string
		body string
		want int // 0: an image
	}{
		{"qrcode ok", qr, mp, `{"path":"pages/index/index","width":430}`, 0},
		{"qrcode path of 128 bytes", qr, mp, `{"path":"` + strings.Repeat("p", 128) + `"}`, 0},
		{"qrcode no path", qr, mp, `{"width":430}`, 40159},
		{"qrcode path of 129 bytes", qr, mp, `{"path":"` + strings.Repeat("p", 129) + `"}`, 40159},
		{"qrcode scancode_time", qr, mp, `{"path":"pages/a?scancode_time=1"}`, 85096},
		{"qrcode form body", qr, mp, `path=pages/index`, 47001},
		{"qrcode width as a string", qr, mp, `{"path":"pages/a","width":"430"}`, 47001},
		{"qrcode official account", qr, oa, `{"path":"pages/a"}`, 48001},
		{"code ok", code, mp, `{"path":"pages/a?x=1","auto_color":false,"line_color":{"r":0,"g":"10","b":255},"is_hyaline":true,"env_version":"trial"}`, 0},
		{"code path of 1024 bytes", code, mp, `{"path":"` + strings.Repeat("p", 1024) + `"}`, 0},
		{"code path of 1025 bytes", code, mp, `{"path":"` + strings.Repeat("p", 1025) + `"}`, 40159},
		{"code scancode_time", code, mp, `{"path":"pages/a?scancode_time=1"}`, 85096},
		{"code env_version", code, mp, `{"path":"pages/a","env_version":"beta"}`, 40097},
		{"code line_color out of range", code, mp, `{"path":"pages/a","line_color":{"r":256,"g":0,"b":0}}`, 40097},
		{"code empty body", code, mp, ``, 47001},
		{"code official account", code, oa, `{"path":"pages/a"}`, 48001},
		{"unlimited ok", unlimited, mp, `{"scene":"id=42&c=x","page":"pages/index/index","check_path":false,"env_version":"develop"}`, 0},
		{"unlimited every allowed character", unlimited, mp, `{"scene":"!#$&'()*+,/:;=?@-._~09azAZ"}`, 0},
		{"unlimited no scene", unlimited, mp, `{"page":"pages/index/index"}`, 40169},
		{"unlimited scene of 33", unlimited, mp, `{"scene":"` + strings.Repeat("s", 33) + `"}`, 40169},
		{"unlimited space in scene", unlimited, mp, `{"scene":"a b"}`, 40129},
		{"unlimited percent in scene", unlimited, mp, `{"scene":"a%20b"}`, 40129},
		{"unlimited non-ASCII scene", unlimited, mp, `{"scene":"码"}`, 40129},
		{"unlimited leading slash", unlimited, mp, `{"scene":"a","page":"/pages/index"}`, 41030},
		{"unlimited page query", unlimited, mp, `{"scene":"a","page":"pages/index?x=1"}`, 41030},
		{"unlimited env_version", unlimited, mp, `{"scene":"a","env_version":"prod"}`, 40097},
		{"unlimited official account", unlimited, oa, `{"scene":"a"}`, 48001},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, sim, tt.api, tt.tok, tt.body)
			if r.status != http.StatusOK {
				t.Errorf("status %d, want 200", r.status)
			}
			if tt.want == 0 {
				// A transparent code is a PNG; every other one a JPEG.
				wantType, magic := "image/jpeg", []byte{0xff, 0xd8, 0xff}
				if strings.Contains(tt.body, `"is_hyaline":true`) {
					wantType, magic = "image/png", []byte("\x89PNG")
				}
				if r.contentType != wantType || !bytes.HasPrefix(r.body, magic) {
					t.Errorf("Content-Type %q, body %.40q; want %s", r.contentType, r.body, wantType)
				}
				return
			}
			if r.contentType != "application/json; encoding=utf-8" {
				t.Errorf("Content-Type %q, want application/json; encoding=utf-8", r.contentType)
			}
			if got := r.errcode(t); got != tt.want {
				t.Errorf("errcode %d, want %d (%s)", got, tt.want, r.body)
			}
		})
	}
}

func TestWxaImage(t *testing.T) {
	sim := startSim(t, wechatsim.Config{})
	tok := classicToken(t, sim, mpID, mpSecret).AccessToken
	longPath := "pages/detail?id=" + strings.Repeat("9", 1000)
	tests := []struct {
		name       string
		api        string
		body       map[string]any
		pathOrPage string
		scene      string
		wantWidth  int
	}{
		{"qrcode default width", wechatsim.APICreateWxaQRCode, map[string]any{"path": "pages/index/index"}, "pages/index/index", "", 430},
		{"qrcode minimum width", wechatsim.APICreateWxaQRCode, map[string]any{"path": "pages/a?b=c&d=e", "width": 280}, "pages/a?b=c&d=e", "", 280},
		{"qrcode maximum width", wechatsim.APICreateWxaQRCode, map[string]any{"path": "p", "width": 1280}, "p", "", 1280},
		{"qrcode width below the minimum", wechatsim.APICreateWxaQRCode, map[string]any{"path": "p", "width": 100}, "p", "", 280},
		{"qrcode width above the maximum", wechatsim.APICreateWxaQRCode, map[string]any{"path": "p", "width": 5000}, "p", "", 1280},
		{"code", wechatsim.APIGetWxaCode, map[string]any{"path": "pages/x?utm=a", "width": 500}, "pages/x?utm=a", "", 500},
		{"code long path at the minimum width", wechatsim.APIGetWxaCode, map[string]any{"path": longPath, "width": 280}, longPath, "", 280},
		{"unlimited", wechatsim.APIGetWxaCodeUnlimited, map[string]any{"scene": "id=7", "page": "pages/p/p", "width": 640}, "pages/p/p", "id=7", 640},
		{"unlimited home page", wechatsim.APIGetWxaCodeUnlimited, map[string]any{"scene": "a"}, "", "a", 430},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, _ := json.Marshal(tt.body)
			r := call(t, sim, tt.api, tok, string(body))
			if r.contentType != "image/jpeg" {
				t.Fatalf("Content-Type %q (%s), want image/jpeg", r.contentType, r.body)
			}
			if w, h := imageSize(t, r.body); w != tt.wantWidth || h != tt.wantWidth {
				t.Errorf("image is %dx%d, want %dx%[3]d", w, h, tt.wantWidth)
			}
			want := wechatsim.WxaContent(mpID, tt.api, tt.pathOrPage, tt.scene)
			if got := decodeQR(t, r.body); got != want {
				t.Errorf("QR content %q, want %q", got, want)
			}
			if again := call(t, sim, tt.api, tok, string(body)); !bytes.Equal(again.body, r.body) {
				t.Errorf("the same request made a different image")
			}
		})
	}
}

func TestWxaContent(t *testing.T) {
	long := strings.Repeat("x", 300)
	tests := []struct {
		name                    string
		appID, api, path, scene string
		want                    string // "" when only the shape is checked
	}{
		{"readable path", "wx1", wechatsim.APIGetWxaCode, "pages/a?b=1", "", "https://wxasim.invalid/wxa/getwxacode?appid=wx1&path=pages%2Fa%3Fb%3D1"},
		{"readable page and scene", "wx1", wechatsim.APIGetWxaCodeUnlimited, "pages/a", "k=v", "https://wxasim.invalid/wxa/getwxacodeunlimit?appid=wx1&path=pages%2Fa&scene=k%3Dv"},
		{"hashed when long", "wx1", wechatsim.APIGetWxaCode, long, "", ""},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := wechatsim.WxaContent(tt.appID, tt.api, tt.path, tt.scene)
			if tt.want != "" && got != tt.want {
				t.Errorf("WxaContent = %q, want %q", got, tt.want)
			}
			if len(got) > 256 || !strings.HasPrefix(got, "https://wxasim.invalid/"+tt.api+"?appid="+tt.appID) {
				t.Errorf("WxaContent = %q: too long or wrongly shaped", got)
			}
			if other, ok := seen[got]; ok {
				t.Errorf("same content as %q", other)
			}
			seen[got] = tt.name
		})
	}
	if a, b := wechatsim.WxaContent("wx1", wechatsim.APIGetWxaCode, long, ""), wechatsim.WxaContent("wx1", wechatsim.APIGetWxaCode, long+"y", ""); a == b {
		t.Errorf("two long paths share the content %q", a)
	}
	if a, b := wechatsim.WxaContent("wx1", wechatsim.APIGetWxaCodeUnlimited, "a", "b"), wechatsim.WxaContent("wx1", wechatsim.APIGetWxaCodeUnlimited, "b", "a"); a == b {
		t.Errorf("swapped page and scene share the content %q", a)
	}
}

func TestWxaCapIsSharedAndCountsDistinctCodes(t *testing.T) {
	sim := startSim(t, wechatsim.Config{})
	sim.SetLimits(mpID, wechatsim.Limits{WxaCap: 2})
	tok := classicToken(t, sim, mpID, mpSecret).AccessToken
	steps := []struct {
		api     string
		body    string
		want    int
		numUsed string
	}{
		{wechatsim.APICreateWxaQRCode, `{"path":"a"}`, 0, "1"},
		{wechatsim.APIGetWxaCode, `{"path":"b"}`, 0, "2"},
		{wechatsim.APICreateWxaQRCode, `{"path":"a","width":430}`, 0, "2"}, // the same code again
		{wechatsim.APICreateWxaQRCode, `{"path":"a","width":500}`, 45029, ""},
		{wechatsim.APIGetWxaCode, `{"path":"a"}`, 45029, ""}, // another API: another code
		{wechatsim.APIGetWxaCodeUnlimited, `{"scene":"a"}`, 0, ""},
	}
	for i, st := range steps {
		r := call(t, sim, st.api, tok, st.body)
		if st.want != 0 {
			if got := r.errcode(t); got != st.want {
				t.Errorf("step %d: errcode %d, want %d", i, got, st.want)
			}
			continue
		}
		if r.contentType != "image/jpeg" {
			t.Errorf("step %d: %s, want an image", i, r.body)
		}
		if got := r.header.Get("Num-Used"); got != st.numUsed {
			t.Errorf("step %d: Num-Used %q, want %q", i, got, st.numUsed)
		}
	}
	for api, want := range map[string]wechatsim.Usage{
		wechatsim.APICreateWxaQRCode:     {Made: 2, Capped: 1}, // "a" twice
		wechatsim.APIGetWxaCode:          {Made: 1, Capped: 1},
		wechatsim.APIGetWxaCodeUnlimited: {Made: 1},
	} {
		if got := sim.Usage(mpID, api); got != want {
			t.Errorf("Usage(%s) = %+v, want %+v", api, got, want)
		}
	}
	if got := sim.CallsByErrcode(wechatsim.APICreateWxaQRCode, 45029); got != 1 {
		t.Errorf("CallsByErrcode(createwxaqrcode, 45029) = %d, want 1", got)
	}
}

func TestWxaDailyAndMinuteLimits(t *testing.T) {
	clock := fakeclock.New(time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC))
	sim := startSim(t, wechatsim.Config{Now: clock.Now})
	sim.SetLimits(mpID, wechatsim.Limits{
		Daily:     map[string]int{wechatsim.APIGetWxaCode: 1},
		PerMinute: map[string]int{wechatsim.APIGetWxaCodeUnlimited: 2},
	})
	tok := classicToken(t, sim, mpID, mpSecret).AccessToken
	steps := []struct {
		advance time.Duration
		api     string
		body    string
		want    int
	}{
		{0, wechatsim.APIGetWxaCode, `{"path":"a"}`, 0},
		{0, wechatsim.APIGetWxaCode, `{"path":"a"}`, 45009}, // a repeat still is a call
		{0, wechatsim.APIGetWxaCodeUnlimited, `{"scene":"1"}`, 0},
		{0, wechatsim.APIGetWxaCodeUnlimited, `{"scene":"2"}`, 0},
		{59 * time.Second, wechatsim.APIGetWxaCodeUnlimited, `{"scene":"3"}`, 45011},
		{time.Second, wechatsim.APIGetWxaCodeUnlimited, `{"scene":"3"}`, 0},
		{0, wechatsim.APICreateWxaQRCode, `{"path":"a"}`, 0}, // its own daily quota
	}
	for i, st := range steps {
		clock.Advance(st.advance)
		r := call(t, sim, st.api, tok, st.body)
		got := 0
		if r.contentType != "image/jpeg" {
			got = r.errcode(t)
		}
		if got != st.want {
			t.Errorf("step %d (%s): errcode %d, want %d", i, st.api, got, st.want)
		}
	}
}
