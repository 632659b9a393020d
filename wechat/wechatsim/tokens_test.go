package wechatsim_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wxqr/wxqr/internal/fakeclock"
	"github.com/wxqr/wxqr/wechat/wechatsim"
)

func TestClassicTokenCredentials(t *testing.T) {
	sim := startSim(t, wechatsim.Config{})
	tests := []struct {
		name   string
		method string
		query  url.Values
		want   int
	}{
		{"ok", http.MethodGet, url.Values{"grant_type": {"client_credential"}, "appid": {oaID}, "secret": {oaSecret}}, 0},
		{"mini program", http.MethodGet, url.Values{"grant_type": {"client_credential"}, "appid": {mpID}, "secret": {mpSecret}}, 0},
		{"wrong grant type", http.MethodGet, url.Values{"grant_type": {"password"}, "appid": {oaID}, "secret": {oaSecret}}, 40002},
		{"no appid", http.MethodGet, url.Values{"grant_type": {"client_credential"}, "secret": {oaSecret}}, 41002},
		{"unknown appid", http.MethodGet, url.Values{"grant_type": {"client_credential"}, "appid": {"wxnobody"}, "secret": {oaSecret}}, 40013},
		{"no secret", http.MethodGet, url.Values{"grant_type": {"client_credential"}, "appid": {oaID}}, 41004},
		{"wrong secret", http.MethodGet, url.Values{"grant_type": {"client_credential"}, "appid": {oaID}, "secret": {mpSecret}}, 40125},
		{"POST", http.MethodPost, url.Values{"grant_type": {"client_credential"}, "appid": {oaID}, "secret": {oaSecret}}, 43001},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, tt.method, sim.URL()+"/cgi-bin/token?"+tt.query.Encode(), "")
			if r.status != http.StatusOK || r.contentType != "application/json; encoding=utf-8" {
				t.Errorf("status %d, Content-Type %q; want 200, application/json; encoding=utf-8", r.status, r.contentType)
			}
			var a tokenAnswer
			r.decode(t, &a)
			if a.Errcode != tt.want {
				t.Errorf("errcode %d, want %d (%s)", a.Errcode, tt.want, r.body)
			}
			if tt.want == 0 && (a.AccessToken == "" || a.ExpiresIn != 7200) {
				t.Errorf("got token %q expiring in %d, want a token expiring in 7200", a.AccessToken, a.ExpiresIn)
			}
			if tt.want != 0 && strings.Contains(string(r.body), oaSecret) {
				t.Errorf("error %s echoes the secret", r.body)
			}
		})
	}
	if got, want := sim.CallsByErrcode(wechatsim.APIToken, 0), 2; got != want {
		t.Errorf("CallsByErrcode(token, 0) = %d, want %d", got, want)
	}
	if got, want := sim.Calls(wechatsim.APIToken), len(tests); got != want {
		t.Errorf("Calls(token) = %d, want %d", got, want)
	}
}

func TestClassicTokenSupersedesPrevious(t *testing.T) {
	clock := fakeclock.New(time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC))
	sim := startSim(t, wechatsim.Config{Now: clock.Now, TokenTTL: time.Hour, TokenGrace: 5 * time.Minute})

	first := classicToken(t, sim, oaID, oaSecret).AccessToken
	second := classicToken(t, sim, oaID, oaSecret).AccessToken
	if first == second {
		t.Fatalf("two cgi-bin/token calls returned the same token")
	}
	steps := []struct {
		advance time.Duration
		tok     string
		want    int
	}{
		{0, first, 0},
		{5*time.Minute - time.Second, first, 0}, // still in its grace
		{time.Second, first, 40001},             // grace over
		{0, second, 0},
		{55 * time.Minute, second, 42001}, // the new one's TTL is over too
	}
	for i, st := range steps {
		clock.Advance(st.advance)
		if got := createTemp(t, sim, st.tok); got != st.want {
			t.Errorf("step %d: errcode %d, want %d", i, got, st.want)
		}
	}
	if got := sim.TokensIssued(oaID); got != 2 {
		t.Errorf("TokensIssued = %d, want 2", got)
	}
}

func TestClassicTokenNegativeGraceKillsAtOnce(t *testing.T) {
	sim := startSim(t, wechatsim.Config{TokenGrace: -1})
	first := classicToken(t, sim, oaID, oaSecret).AccessToken
	classicToken(t, sim, oaID, oaSecret)
	if got := createTemp(t, sim, first); got != 40001 {
		t.Errorf("superseded token: errcode %d, want 40001", got)
	}
}

func TestStableTokenIsSharedAndRenewed(t *testing.T) {
	clock := fakeclock.New(time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC))
	// A 10 s TTL: the renewal window is half of it, not the 5 min grace.
	sim := startSim(t, wechatsim.Config{Now: clock.Now, TokenTTL: 10 * time.Second})

	s1 := stableToken(t, sim, oaID, oaSecret, false)
	if s1.Errcode != 0 || s1.ExpiresIn != 10 {
		t.Fatalf("first stable token: errcode %d, expires_in %d; want 0, 10", s1.Errcode, s1.ExpiresIn)
	}
	clock.Advance(3 * time.Second)
	again := stableToken(t, sim, oaID, oaSecret, false)
	if again.AccessToken != s1.AccessToken || again.ExpiresIn != 7 {
		t.Errorf("3 s later: same token %v, expires_in %d; want the same token, 7", again.AccessToken == s1.AccessToken, again.ExpiresIn)
	}
	clock.Advance(2 * time.Second) // 5 s left: inside the renewal window
	s2 := stableToken(t, sim, oaID, oaSecret, false)
	if s2.AccessToken == s1.AccessToken || s2.ExpiresIn != 10 {
		t.Errorf("in the renewal window: renewed %v, expires_in %d; want a new token, 10", s2.AccessToken != s1.AccessToken, s2.ExpiresIn)
	}
	if got := createTemp(t, sim, s1.AccessToken); got != 0 {
		t.Errorf("old token during the overlap: errcode %d, want 0", got)
	}
	clock.Advance(5 * time.Second)
	if got := createTemp(t, sim, s1.AccessToken); got != 42001 {
		t.Errorf("old token after its TTL: errcode %d, want 42001", got)
	}
	if got := createTemp(t, sim, s2.AccessToken); got != 0 {
		t.Errorf("new token: errcode %d, want 0", got)
	}
	if got := sim.TokensIssued(oaID); got != 2 {
		t.Errorf("TokensIssued = %d, want 2", got)
	}
}

func TestStableTokenForceRefresh(t *testing.T) {
	clock := fakeclock.New(time.Date(2025, 3, 1, 10, 0, 0, 0, time.FixedZone("CST", 8*3600)))
	sim := startSim(t, wechatsim.Config{Now: clock.Now})

	old := stableToken(t, sim, oaID, oaSecret, false).AccessToken
	forced := stableToken(t, sim, oaID, oaSecret, true)
	if forced.Errcode != 0 || forced.AccessToken == old {
		t.Fatalf("force_refresh: errcode %d, new token %v", forced.Errcode, forced.AccessToken != old)
	}
	if got := createTemp(t, sim, old); got != 40001 {
		t.Errorf("token replaced by force_refresh: errcode %d, want 40001", got)
	}
	if got := stableToken(t, sim, oaID, oaSecret, false).AccessToken; got != forced.AccessToken {
		t.Errorf("normal call after force_refresh returned another token")
	}
	if got := stableToken(t, sim, oaID, oaSecret, true).Errcode; got != 45011 {
		t.Errorf("second force_refresh at once: errcode %d, want 45011", got)
	}
	for i := 2; i <= 20; i++ {
		clock.Advance(30 * time.Second)
		if got := stableToken(t, sim, oaID, oaSecret, true).Errcode; got != 0 {
			t.Fatalf("force_refresh %d, 30 s after the last: errcode %d, want 0", i, got)
		}
	}
	clock.Advance(30 * time.Second)
	if got := stableToken(t, sim, oaID, oaSecret, true).Errcode; got != 45009 {
		t.Errorf("force_refresh 21: errcode %d, want 45009", got)
	}
	clock.Advance(14 * time.Hour) // past 00:00 in Shanghai
	if got := stableToken(t, sim, oaID, oaSecret, true).Errcode; got != 0 {
		t.Errorf("force_refresh the next day: errcode %d, want 0", got)
	}
}

func TestTokenSetsAreSeparate(t *testing.T) {
	clock := fakeclock.New(time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC))
	sim := startSim(t, wechatsim.Config{Now: clock.Now})

	stable := stableToken(t, sim, oaID, oaSecret, false).AccessToken
	classic := classicToken(t, sim, oaID, oaSecret).AccessToken
	classicToken(t, sim, oaID, oaSecret)
	clock.Advance(10 * time.Minute)
	if got := createTemp(t, sim, stable); got != 0 {
		t.Errorf("stable token after classic refreshes: errcode %d, want 0", got)
	}
	latest := classicToken(t, sim, oaID, oaSecret).AccessToken
	stableToken(t, sim, oaID, oaSecret, true)
	if got := createTemp(t, sim, latest); got != 0 {
		t.Errorf("classic token after a stable force_refresh: errcode %d, want 0", got)
	}
	if got := createTemp(t, sim, classic); got != 40001 {
		t.Errorf("superseded classic token: errcode %d, want 40001", got)
	}
}

func TestStableTokenErrors(t *testing.T) {
	sim := startSim(t, wechatsim.Config{})
	tests := []struct {
		name   string
		method string
		body   string
		want   int
	}{
		{"ok", http.MethodPost, `{"grant_type":"client_credential","appid":"` + oaID + `","secret":"` + oaSecret + `"}`, 0},
		{"form body", http.MethodPost, "grant_type=client_credential&appid=" + oaID, 47001},
		{"empty body", http.MethodPost, "", 47001},
		{"GET", http.MethodGet, "", 43002},
		{"wrong grant type", http.MethodPost, `{"grant_type":"x","appid":"` + oaID + `","secret":"` + oaSecret + `"}`, 40002},
		{"unknown appid", http.MethodPost, `{"grant_type":"client_credential","appid":"wxnobody","secret":"` + oaSecret + `"}`, 40013},
		{"wrong secret", http.MethodPost, `{"grant_type":"client_credential","appid":"` + oaID + `","secret":"nope"}`, 40125},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := do(t, tt.method, sim.URL()+"/cgi-bin/stable_token", tt.body).errcode(t); got != tt.want {
				t.Errorf("errcode %d, want %d", got, tt.want)
			}
		})
	}
}

func TestAPICallTokenErrors(t *testing.T) {
	clock := fakeclock.New(time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC))
	sim := startSim(t, wechatsim.Config{Now: clock.Now})

	expired := classicToken(t, sim, mpID, mpSecret).AccessToken
	clock.Advance(2 * time.Hour)
	invalidated := stableToken(t, sim, oaID, oaSecret, false).AccessToken
	valid := stableToken(t, sim, mpID, mpSecret, false).AccessToken
	sim.InvalidateTokens(oaID)

	tests := []struct {
		name string
		tok  string
		want int
	}{
		{"missing", "", 41001},
		{"malformed", "not a token!", 40014},
		{"unknown", strings.Repeat("A", 100), 40001},
		{"invalidated", invalidated, 40001},
		{"expired", expired, 42001},
		{"valid", valid, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, sim, wechatsim.APIGetWxaCodeUnlimited, tt.tok, `{"scene":"a=1"}`)
			if tt.want == 0 {
				if r.contentType != "image/jpeg" {
					t.Errorf("Content-Type %q, want image/jpeg", r.contentType)
				}
				return
			}
			if got := r.errcode(t); got != tt.want {
				t.Errorf("errcode %d, want %d", got, tt.want)
			}
		})
	}
	if got := stableToken(t, sim, oaID, oaSecret, false).AccessToken; got == invalidated || got == "" {
		t.Errorf("stable_token after InvalidateTokens did not issue a new token")
	}
}
