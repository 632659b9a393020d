package wechatsim_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/wxqr/wxqr/wechat/wechatsim"
)

// outcome is how a call went, as a client sees it: a fault kind's name, or
// "ok".
type outcome string

// fresh makes every request on a new connection: Go's transport replays a
// GET whose reused connection fails before any answer, which would hide a
// reset from the test.
var fresh = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

// get makes one GET and says how it went.
func get(t *testing.T, rawURL string) outcome {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := fresh.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ECONNRESET) {
			return outcome(wechatsim.FaultReset.String())
		}
		t.Fatalf("GET: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return outcome(wechatsim.FaultTruncate.String())
	case err != nil:
		t.Fatalf("read: %v", err)
	case resp.StatusCode == http.StatusInternalServerError:
		return outcome(wechatsim.FaultHTTP500.String())
	}
	var e struct {
		Errcode int `json:"errcode"`
	}
	if json.Unmarshal(body, &e) == nil && e.Errcode == -1 {
		return outcome(wechatsim.FaultSystemBusy.String())
	}
	return "ok"
}

// chaosRates are the rates the tests set: every kind that a client can tell
// apart, and latency.
var chaosRates = []wechatsim.FaultRate{
	{Kind: wechatsim.FaultSystemBusy, P: 0.1},
	{Kind: wechatsim.FaultHTTP500, P: 0.1},
	{Kind: wechatsim.FaultReset, P: 0.1},
	{Kind: wechatsim.FaultTruncate, P: 0.1},
	{Kind: wechatsim.FaultLatency, P: 0.1, Delay: time.Millisecond, MaxDelay: 3 * time.Millisecond},
}

// showQRCodeURL makes a permanent code and returns the url of its image.
func showQRCodeURL(t *testing.T, sim *wechatsim.Server) string {
	t.Helper()
	tok := classicToken(t, sim, oaID, oaSecret).AccessToken
	a := createQR(t, sim, tok, `{"action_name":"QR_LIMIT_SCENE","action_info":{"scene":{"scene_id":1}}}`)
	return showURL(sim, url.QueryEscape(a.Ticket))
}

func TestFaultRates(t *testing.T) {
	sim := startSim(t, wechatsim.Config{FaultSeed: 7})
	target := showQRCodeURL(t, sim)
	if err := sim.SetFaultRates(wechatsim.APIShowQRCode, chaosRates...); err != nil {
		t.Fatal(err)
	}
	const n = 400
	seen := map[outcome]int{}
	for range n {
		seen[get(t, target)]++
	}

	if got := sim.Calls(wechatsim.APIShowQRCode); got != n {
		t.Errorf("Calls = %d, want %d", got, n)
	}
	for _, r := range chaosRates {
		got := sim.Faults(wechatsim.APIShowQRCode, r.Kind)
		// Four standard deviations: a correct simulator fails about once
		// in 16,000 seeds, and this seed is fixed.
		mean := n * r.P
		if slack := 4 * math.Sqrt(mean*(1-r.P)); math.Abs(float64(got)-mean) > slack {
			t.Errorf("Faults(%v) = %d, want %v ± %.0f", r.Kind, got, mean, slack)
		}
		if r.Kind != wechatsim.FaultLatency && seen[outcome(r.Kind.String())] != got {
			t.Errorf("clients saw %d calls fail with %v, Faults counts %d", seen[outcome(r.Kind.String())], r.Kind, got)
		}
	}
	latency := sim.Faults(wechatsim.APIShowQRCode, wechatsim.FaultLatency)
	if want := n - seen["reset"] - seen["truncate"] - seen["http_500"] - seen["system_busy"]; seen["ok"] != want || latency == 0 {
		t.Errorf("%d calls answered normally, want %d (with %d delayed)", seen["ok"], want, latency)
	}
	// Other APIs are untouched.
	if got := sim.Faults(wechatsim.APIToken, wechatsim.FaultReset); got != 0 {
		t.Errorf("cgi-bin/token suffered %d resets, want none", got)
	}
}

// TestFaultRatesOnTokenEndpoints: the token endpoints fail like the others,
// and a truncated answer still issued its token.
func TestFaultRatesOnTokenEndpoints(t *testing.T) {
	sim := startSim(t, wechatsim.Config{})
	for _, api := range []string{wechatsim.APIToken, wechatsim.APIStableToken} {
		if err := sim.SetFaultRates(api, wechatsim.FaultRate{Kind: wechatsim.FaultTruncate, P: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if got := get(t, classicTokenURL(sim, oaID, oaSecret)); got != "truncate" {
		t.Errorf("cgi-bin/token: %s, want truncate", got)
	}
	if _, err := send(t.Context(), http.MethodPost, sim.URL()+"/cgi-bin/stable_token",
		`{"grant_type":"client_credential","appid":"`+oaID+`","secret":"`+oaSecret+`"}`); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("stable_token: %v, want a truncated answer", err)
	}
	if got := len(sim.Tokens(oaID)); got != 2 || sim.TokensIssued(oaID) != 2 {
		t.Errorf("Tokens lists %d tokens and TokensIssued says %d, want both 2 (truncated answers issue tokens)", got, sim.TokensIssued(oaID))
	}
	if got := sim.Faults(wechatsim.APIStableToken, wechatsim.FaultTruncate); got != 1 {
		t.Errorf("Faults(stable_token, truncate) = %d, want 1", got)
	}
}

// TestFaultRatesAreReproducible: the same seed gives the same faults to the
// same sequence of calls; another seed, others.
func TestFaultRatesAreReproducible(t *testing.T) {
	run := func(seed uint64) []outcome {
		sim := startSim(t, wechatsim.Config{FaultSeed: seed})
		target := classicTokenURL(sim, oaID, oaSecret)
		// Calls of another API in between shift nothing.
		if err := sim.SetFaultRates(wechatsim.APIStableToken, wechatsim.FaultRate{Kind: wechatsim.FaultSystemBusy, P: 0.5}); err != nil {
			t.Fatal(err)
		}
		if err := sim.SetFaultRates(wechatsim.APIToken, chaosRates...); err != nil {
			t.Fatal(err)
		}
		var got []outcome
		for i := range 100 {
			if i%3 == 0 && seed == 1 {
				stableToken(t, sim, oaID, oaSecret, false)
			}
			got = append(got, get(t, target))
		}
		return got
	}
	first, again, other := run(1), run(1), run(2)
	if !slices.Equal(first, again) {
		t.Errorf("seed 1 twice gave different faults:\n%v\n%v", first, again)
	}
	if slices.Equal(first, other) {
		t.Errorf("seeds 1 and 2 gave the same faults: %v", first)
	}
}

// TestInjectedFaultsComeFirst: a queued fault wins over the rates, and both
// are counted.
func TestInjectedFaultsComeFirst(t *testing.T) {
	sim := startSim(t, wechatsim.Config{})
	if err := sim.SetFaultRates(wechatsim.APIToken, wechatsim.FaultRate{Kind: wechatsim.FaultHTTP500, P: 1}); err != nil {
		t.Fatal(err)
	}
	sim.InjectFault(wechatsim.APIToken, wechatsim.Fault{Kind: wechatsim.FaultSystemBusy})
	target := classicTokenURL(sim, oaID, oaSecret)
	if got := []outcome{get(t, target), get(t, target)}; !slices.Equal(got, []outcome{"system_busy", "http_500"}) {
		t.Errorf("calls went %v, want the injected fault, then the rate's", got)
	}
	if busy, http500 := sim.Faults(wechatsim.APIToken, wechatsim.FaultSystemBusy), sim.Faults(wechatsim.APIToken, wechatsim.FaultHTTP500); busy != 1 || http500 != 1 {
		t.Errorf("Faults: system_busy %d, http_500 %d; want 1 and 1", busy, http500)
	}
	// No rates: no more faults.
	if err := sim.SetFaultRates(wechatsim.APIToken); err != nil {
		t.Fatal(err)
	}
	if got := get(t, target); got != "ok" {
		t.Errorf("after the rates were cleared: %s, want ok", got)
	}
}

func TestSetFaultRatesRejectsNonsense(t *testing.T) {
	sim := startSim(t, wechatsim.Config{})
	for name, rates := range map[string][]wechatsim.FaultRate{
		"unknown kind":      {{Kind: 0, P: 0.1}},
		"negative":          {{Kind: wechatsim.FaultReset, P: -0.1}},
		"above 1":           {{Kind: wechatsim.FaultReset, P: 1.5}},
		"NaN":               {{Kind: wechatsim.FaultReset, P: math.NaN()}},
		"adding up above 1": {{Kind: wechatsim.FaultReset, P: 0.6}, {Kind: wechatsim.FaultHTTP500, P: 0.6}},
		"negative delay":    {{Kind: wechatsim.FaultLatency, P: 0.1, Delay: -time.Second}},
	} {
		if err := sim.SetFaultRates(wechatsim.APIToken, rates...); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestParseFaultKind(t *testing.T) {
	for _, k := range []wechatsim.FaultKind{wechatsim.FaultSystemBusy, wechatsim.FaultHTTP500, wechatsim.FaultReset,
		wechatsim.FaultTruncate, wechatsim.FaultLatency, wechatsim.FaultJSONContentType, wechatsim.FaultErrcode} {
		if got, err := wechatsim.ParseFaultKind(k.String()); err != nil || got != k {
			t.Errorf("ParseFaultKind(%q) = %v, %v", k.String(), got, err)
		}
	}
	if _, err := wechatsim.ParseFaultKind("gremlins"); err == nil {
		t.Error("ParseFaultKind accepted an unknown name")
	}
}

// TestCodesMade counts successful code-making calls per code: a permanent
// scene made twice counts twice (WeChat heard it twice), a refused call not
// at all, a truncated answer once; Usage counts them by API.
func TestCodesMade(t *testing.T) {
	sim := startSim(t, wechatsim.Config{})
	oaTok := classicToken(t, sim, oaID, oaSecret).AccessToken
	mpTok := classicToken(t, sim, mpID, mpSecret).AccessToken
	perm := `{"action_name":"QR_LIMIT_STR_SCENE","action_info":{"scene":{"scene_str":"a"}}}`
	createQR(t, sim, oaTok, perm)
	createQR(t, sim, oaTok, perm)
	createQR(t, sim, oaTok, tempBody)
	if got := call(t, sim, wechatsim.APICreateQRCode, "not-a-token", tempBody).errcode(t); got == 0 {
		t.Fatal("a call without a valid token succeeded")
	}
	sim.InjectFault(wechatsim.APIGetWxaCodeUnlimited, wechatsim.Fault{Kind: wechatsim.FaultTruncate})
	q := url.Values{"access_token": {mpTok}}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := send(ctx, http.MethodPost, sim.URL()+"/wxa/getwxacodeunlimit?"+q.Encode(), `{"page":"pages/p","scene":"x=1","width":300}`); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated call: %v", err)
	}
	call(t, sim, wechatsim.APICreateWxaQRCode, mpTok, `{"path":"pages/a?id=1"}`)

	want := map[wechatsim.CodeRequest]int{
		{AppID: oaID, API: wechatsim.APICreateQRCode, Action: "QR_LIMIT_STR_SCENE", Scene: "a"}:         2,
		{AppID: oaID, API: wechatsim.APICreateQRCode, Action: "QR_SCENE", SceneID: 7}:                   1,
		{AppID: mpID, API: wechatsim.APIGetWxaCodeUnlimited, Path: "pages/p", Scene: "x=1", Width: 300}: 1,
		{AppID: mpID, API: wechatsim.APICreateWxaQRCode, Path: "pages/a?id=1", Width: 430}:              1,
	}
	if got, want := sim.CodesCutShort(), map[wechatsim.CodeRequest]int{
		{AppID: mpID, API: wechatsim.APIGetWxaCodeUnlimited, Path: "pages/p", Scene: "x=1", Width: 300}: 1,
	}; !maps.Equal(got, want) {
		t.Errorf("CodesCutShort = %v, want %v", got, want)
	}
	got := sim.CodesMade()
	if len(got) != len(want) {
		t.Errorf("CodesMade = %v, want %v", got, want)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("CodesMade[%+v] = %d, want %d", k, got[k], n)
		}
	}
	// Usage sums the same calls by app and API.
	for _, u := range []struct {
		app, api string
		want     wechatsim.Usage
	}{
		{oaID, wechatsim.APICreateQRCode, wechatsim.Usage{Made: 3, Temporary: 1, Capped: 1}},
		{mpID, wechatsim.APIGetWxaCodeUnlimited, wechatsim.Usage{Made: 1}},
		{mpID, wechatsim.APICreateWxaQRCode, wechatsim.Usage{Made: 1, Capped: 1}},
		{mpID, wechatsim.APIGetWxaCode, wechatsim.Usage{}},
		{oaID, wechatsim.APIGetWxaCodeUnlimited, wechatsim.Usage{}},
	} {
		if got := sim.Usage(u.app, u.api); got != u.want {
			t.Errorf("Usage(%s, %s) = %+v, want %+v", u.app, u.api, got, u.want)
		}
	}
}
