package wechatsim_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wxqr/wxqr/internal/fakeclock"
	"github.com/wxqr/wxqr/wechat/wechatsim"
)

func TestCreateQRCode(t *testing.T) {
	sim := startSim(t, wechatsim.Config{})
	oa := classicToken(t, sim, oaID, oaSecret).AccessToken
	mp := classicToken(t, sim, mpID, mpSecret).AccessToken
	scene := func(action, scene string) string {
		return `{"action_name":"` + action + `","action_info":{"scene":{` + scene + `}}}`
	}
	noExpire := -1
	tests := []struct {
		name       string
		tok        string
		body       string
		want       int
		wantExpire int // -1: no expire_seconds in the answer
	}{
		{"temp default expiry", oa, scene("QR_SCENE", `"scene_id":123`), 0, 60},
		{"temp expiry", oa, `{"expire_seconds":604800,` + scene("QR_SCENE", `"scene_id":1`)[1:], 0, 604800},
		{"temp expiry capped", oa, `{"expire_seconds":99999999,` + scene("QR_SCENE", `"scene_id":1`)[1:], 0, 2592000},
		{"temp largest id", oa, scene("QR_SCENE", `"scene_id":4294967295`), 0, 60},
		{"temp id 0", oa, scene("QR_SCENE", `"scene_id":0`), 40053, 0},
		{"temp id negative", oa, scene("QR_SCENE", `"scene_id":-5`), 40053, 0},
		{"temp id over 32 bits", oa, scene("QR_SCENE", `"scene_id":4294967296`), 40053, 0},
		{"temp string", oa, scene("QR_STR_SCENE", `"scene_str":"spring"`), 0, 60},
		{"temp string of 64 runes", oa, scene("QR_STR_SCENE", `"scene_str":"`+strings.Repeat("码", 64)+`"`), 0, 60},
		{"temp string of 65 runes", oa, scene("QR_STR_SCENE", `"scene_str":"`+strings.Repeat("a", 65)+`"`), 40053, 0},
		{"temp string empty", oa, scene("QR_STR_SCENE", `"scene_id":3`), 40053, 0},
		{"perm id", oa, scene("QR_LIMIT_SCENE", `"scene_id":100000`), 0, noExpire},
		{"perm id over 100000", oa, scene("QR_LIMIT_SCENE", `"scene_id":100001`), 40053, 0},
		{"perm id 0", oa, scene("QR_LIMIT_SCENE", `"scene_id":0`), 40053, 0},
		{"perm string", oa, scene("QR_LIMIT_STR_SCENE", `"scene_str":"shop/1"`), 0, noExpire},
		{"perm string empty", oa, scene("QR_LIMIT_STR_SCENE", `"scene_str":""`), 40053, 0},
		{"no action info", oa, `{"action_name":"QR_SCENE"}`, 40053, 0},
		{"unknown action", oa, scene("QR_LIMITED_SCENE", `"scene_id":1`), 40052, 0},
		{"no action", oa, `{}`, 40052, 0},
		{"form body", oa, "action_name=QR_SCENE&scene_id=1", 47001, 0},
		{"empty body", oa, "", 47001, 0},
		{"scene id as a string", oa, scene("QR_SCENE", `"scene_id":"1"`), 47001, 0},
		{"mini program", mp, scene("QR_SCENE", `"scene_id":1`), 48001, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, sim, wechatsim.APICreateQRCode, tt.tok, tt.body)
			if r.status != http.StatusOK || r.contentType != "application/json; encoding=utf-8" {
				t.Errorf("status %d, Content-Type %q", r.status, r.contentType)
			}
			var a qrAnswer
			r.decode(t, &a)
			if a.Errcode != tt.want {
				t.Fatalf("errcode %d, want %d (%s)", a.Errcode, tt.want, r.body)
			}
			if tt.want != 0 {
				return
			}
			gotExpire := noExpire
			if a.ExpireSeconds != nil {
				gotExpire = *a.ExpireSeconds
			}
			if gotExpire != tt.wantExpire {
				t.Errorf("expire_seconds %d, want %d (-1: absent)", gotExpire, tt.wantExpire)
			}
			if a.Ticket == "" || !strings.HasPrefix(a.URL, "http://weixin.qq.com/q/") {
				t.Errorf("ticket %q, url %q", a.Ticket, a.URL)
			}
		})
	}
	if got := do(t, http.MethodGet, sim.URL()+"/cgi-bin/qrcode/create?access_token="+oa, "").errcode(t); got != 43002 {
		t.Errorf("GET qrcode/create: errcode %d, want 43002", got)
	}
}

func TestTicketsAreStandardBase64(t *testing.T) {
	sim := startSim(t, wechatsim.Config{})
	tok := classicToken(t, sim, oaID, oaSecret).AccessToken
	seen := map[string]bool{}
	for range 20 {
		ticket := createQR(t, sim, tok, tempBody).Ticket
		if !strings.ContainsAny(ticket, "+") || !strings.ContainsAny(ticket, "/") || !strings.HasSuffix(ticket, "=") {
			t.Errorf("ticket %q lacks one of + / =", ticket)
		}
		if _, err := base64.StdEncoding.DecodeString(ticket); err != nil {
			t.Errorf("ticket %q is not standard base64: %v", ticket, err)
		}
		if seen[ticket] {
			t.Errorf("ticket %q issued twice", ticket)
		}
		seen[ticket] = true
	}
}

func TestShowQRCode(t *testing.T) {
	clock := fakeclock.New(time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC))
	sim := startSim(t, wechatsim.Config{Now: clock.Now})
	tok := classicToken(t, sim, oaID, oaSecret).AccessToken
	temp := createQR(t, sim, tok, `{"expire_seconds":120,"action_name":"QR_STR_SCENE","action_info":{"scene":{"scene_str":"t"}}}`)
	perm := createQR(t, sim, tok, `{"action_name":"QR_LIMIT_SCENE","action_info":{"scene":{"scene_id":9}}}`)

	tests := []struct {
		name     string
		method   string
		param    string
		wantURL  string // "" when 404 is expected
		advance  time.Duration
		wantCode int
	}{
		{"escaped once", http.MethodGet, url.QueryEscape(temp.Ticket), temp.URL, 0, 0},
		{"permanent", http.MethodGet, url.QueryEscape(perm.Ticket), perm.URL, 0, 0},
		{"not escaped", http.MethodGet, temp.Ticket, "", 0, 404},
		{"escaped twice", http.MethodGet, url.QueryEscape(url.QueryEscape(temp.Ticket)), "", 0, 404},
		{"unknown", http.MethodGet, url.QueryEscape(base64.StdEncoding.EncodeToString([]byte("no such ticket!"))), "", 0, 404},
		{"empty", http.MethodGet, "", "", 0, 404},
		{"POST", http.MethodPost, url.QueryEscape(temp.Ticket), "", 0, 404},
		{"temporary one second before expiry", http.MethodGet, url.QueryEscape(temp.Ticket), temp.URL, 119 * time.Second, 0},
		{"temporary expired", http.MethodGet, url.QueryEscape(temp.Ticket), "", time.Second, 404},
		{"permanent a year later", http.MethodGet, url.QueryEscape(perm.Ticket), perm.URL, 365 * 24 * time.Hour, 0},
	}
	var wantNotFound int
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock.Advance(tt.advance)
			r := do(t, tt.method, showURL(sim, tt.param), "")
			if tt.wantURL == "" {
				wantNotFound++
				if r.status != http.StatusNotFound {
					t.Errorf("status %d, want 404", r.status)
				}
				return
			}
			if r.status != http.StatusOK || r.contentType != "image/jpg" {
				t.Fatalf("status %d, Content-Type %q; want 200, image/jpg", r.status, r.contentType)
			}
			if w, h := imageSize(t, r.body); w != 430 || h != 430 {
				t.Errorf("image is %dx%d, want 430x430", w, h)
			}
			if got := decodeQR(t, r.body); got != tt.wantURL {
				t.Errorf("QR content %q, want %q", got, tt.wantURL)
			}
		})
	}
	if got := sim.CallsByErrcode(wechatsim.APIShowQRCode, 404); got != wantNotFound {
		t.Errorf("CallsByErrcode(showqrcode, 404) = %d, want %d", got, wantNotFound)
	}
	if got := sim.Calls(wechatsim.APIShowQRCode); got != len(tests) {
		t.Errorf("Calls(showqrcode) = %d, want %d", got, len(tests))
	}
}

func TestPermanentCodesSpendPermCapOnce(t *testing.T) {
	sim := startSim(t, wechatsim.Config{})
	sim.SetLimits(oaID, wechatsim.Limits{PermCap: 2})
	tok := classicToken(t, sim, oaID, oaSecret).AccessToken
	permID := func(id string) string {
		return `{"action_name":"QR_LIMIT_SCENE","action_info":{"scene":{"scene_id":` + id + `}}}`
	}

	first := createQR(t, sim, tok, permID("1"))
	again := createQR(t, sim, tok, permID("1"))
	if again.Ticket != first.Ticket || again.URL != first.URL {
		t.Errorf("the same scene again got another ticket or url")
	}
	createQR(t, sim, tok, `{"action_name":"QR_LIMIT_STR_SCENE","action_info":{"scene":{"scene_str":"1"}}}`)
	if got := call(t, sim, wechatsim.APICreateQRCode, tok, permID("2")).errcode(t); got != 45029 {
		t.Errorf("third distinct scene: errcode %d, want 45029", got)
	}
	if got := createQR(t, sim, tok, permID("1")); got.Ticket != first.Ticket {
		t.Errorf("an old scene after the cap: another ticket")
	}
	if got := createTemp(t, sim, tok); got != 0 {
		t.Errorf("temporary code after the permanent cap: errcode %d, want 0", got)
	}
	// Five codes made: three for scene 1, one for "1", one temporary.
	want := wechatsim.Usage{Made: 5, Temporary: 1, Capped: 2}
	if got := sim.Usage(oaID, wechatsim.APICreateQRCode); got != want {
		t.Errorf("Usage(qrcode/create) = %+v, want %+v", got, want)
	}
}

func TestDailyQuotaResetsAtShanghaiMidnight(t *testing.T) {
	tests := []struct {
		name      string
		start     time.Time // one minute before a midnight
		wantReset bool
	}{
		{"Shanghai midnight", time.Date(2025, 1, 1, 23, 59, 0, 0, time.FixedZone("CST", 8*3600)), true},
		{"UTC midnight", time.Date(2025, 1, 1, 23, 59, 0, 0, time.UTC), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := fakeclock.New(tt.start)
			sim := startSim(t, wechatsim.Config{Now: clock.Now, Limits: wechatsim.Limits{Daily: map[string]int{wechatsim.APICreateQRCode: 2}}})
			tok := classicToken(t, sim, oaID, oaSecret).AccessToken
			for i, want := range []int{0, 0, 45009} {
				if got := createTemp(t, sim, tok); got != want {
					t.Errorf("call %d: errcode %d, want %d", i+1, got, want)
				}
			}
			clock.Advance(59 * time.Second)
			if got := createTemp(t, sim, tok); got != 45009 {
				t.Errorf("at 23:59:59: errcode %d, want 45009", got)
			}
			clock.Advance(time.Second)
			want := 45009
			if tt.wantReset {
				want = 0
			}
			if got := createTemp(t, sim, tok); got != want {
				t.Errorf("at 00:00:00: errcode %d, want %d", got, want)
			}
		})
	}
}

func TestRateLimits(t *testing.T) {
	clock := fakeclock.New(time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC))
	const otherOA = "wx00000000000000c3"
	apps := testApps()
	apps[otherOA] = apps[oaID]
	sim := startSim(t, wechatsim.Config{Now: clock.Now, Apps: apps})
	tok := classicToken(t, sim, oaID, oaSecret).AccessToken
	other := classicToken(t, sim, otherOA, oaSecret).AccessToken

	if got := createTemp(t, sim, tok); got != 0 {
		t.Fatalf("before SetLimits: errcode %d", got)
	}
	sim.SetLimits(oaID, wechatsim.Limits{
		PerSecond: map[string]int{wechatsim.APICreateQRCode: 2},
		PerMinute: map[string]int{wechatsim.APICreateQRCode: 4},
	})
	// The call before SetLimits counts too: 1 of 2 this second, 1 of 4
	// this minute.
	steps := []struct {
		advance time.Duration
		want    int
	}{
		{0, 0},                // 10:00:00, 2 of 2 this second
		{0, 45011},            // per second
		{time.Second, 0},      // 10:00:01, 3 of 4 this minute
		{0, 0},                // 4 of 4
		{time.Second, 45011},  // 10:00:02: per minute
		{58 * time.Second, 0}, // 10:01:00
	}
	for i, st := range steps {
		clock.Advance(st.advance)
		if got := createTemp(t, sim, tok); got != st.want {
			t.Errorf("step %d: errcode %d, want %d", i, got, st.want)
		}
	}
	for i := range 5 {
		if got := createTemp(t, sim, other); got != 0 {
			t.Errorf("other app, call %d: errcode %d, want 0", i, got)
		}
	}
}
