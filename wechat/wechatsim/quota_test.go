package wechatsim_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/wxqr/wxqr/internal/fakeclock"
	"github.com/wxqr/wxqr/wechat/wechatsim"
)

type quotaAnswer struct {
	Errcode int `json:"errcode"`
	Quota   struct {
		DailyLimit int `json:"daily_limit"`
		Used       int `json:"used"`
		Remain     int `json:"remain"`
	} `json:"quota"`
}

// quotaGet asks openapi/quota/get about cgiPath with token tok.
func quotaGet(t *testing.T, sim *wechatsim.Server, tok, body string) quotaAnswer {
	t.Helper()
	var a quotaAnswer
	do(t, http.MethodPost, sim.URL()+"/cgi-bin/openapi/quota/get?access_token="+url.QueryEscape(tok), body).decode(t, &a)
	return a
}

func TestQuotaGetCountsTodaysCalls(t *testing.T) {
	// One minute before midnight in Shanghai.
	clock := fakeclock.New(time.Date(2025, 1, 1, 23, 59, 0, 0, time.FixedZone("CST", 8*3600)))
	sim := startSim(t, wechatsim.Config{Now: clock.Now, Limits: wechatsim.Limits{Daily: map[string]int{wechatsim.APICreateQRCode: 3}}})
	tok := classicToken(t, sim, oaID, oaSecret).AccessToken
	ask := func() quotaAnswer {
		t.Helper()
		a := quotaGet(t, sim, tok, `{"cgi_path":"/cgi-bin/qrcode/create"}`)
		if a.Errcode != 0 {
			t.Fatalf("quota/get: errcode %d", a.Errcode)
		}
		return a
	}
	check := func(when string, limit, used, remain int) {
		t.Helper()
		a := ask()
		if a.Quota.DailyLimit != limit || a.Quota.Used != used || a.Quota.Remain != remain {
			t.Errorf("%s: quota %+v, want daily_limit %d, used %d, remain %d", when, a.Quota, limit, used, remain)
		}
	}

	check("before any call", 3, 0, 3)
	for range 4 { // the fourth is refused with 45009 and not counted
		createTemp(t, sim, tok)
	}
	check("after 4 calls", 3, 3, 0)
	if got := sim.CallsByErrcode(wechatsim.APICreateQRCode, 45009); got != 1 {
		t.Fatalf("45009 answered %d times, want 1", got)
	}
	sim.SetLimits(oaID, wechatsim.Limits{Daily: map[string]int{wechatsim.APICreateQRCode: 10}})
	check("after the limit was raised", 10, 3, 7)
	clock.Advance(time.Minute)
	check("after midnight in Shanghai", 10, 0, 10)
	if got := sim.Usage(oaID, wechatsim.APICreateQRCode).Made; got != 3 {
		t.Errorf("codes made: %d, want 3 (quota/get makes none)", got)
	}
}

func TestQuotaGetAnswers(t *testing.T) {
	sim := startSim(t, wechatsim.Config{})
	oaTok := classicToken(t, sim, oaID, oaSecret).AccessToken
	mpTok := classicToken(t, sim, mpID, mpSecret).AccessToken
	tests := []struct {
		name          string
		tok, body     string
		wantErrcode   int
		wantLimit     int
		wantRemaining int
	}{
		{"qrcode/create", oaTok, `{"cgi_path":"/cgi-bin/qrcode/create"}`, 0, 100000, 100000},
		{"getwxacode", mpTok, `{"cgi_path":"/wxa/getwxacode"}`, 0, 10000, 10000},
		{"no daily quota", mpTok, `{"cgi_path":"/wxa/getwxacodeunlimit"}`, 0, 0, 0},
		{"another account type's API", oaTok, `{"cgi_path":"/wxa/getwxacode"}`, 76022, 0, 0},
		{"unknown path", oaTok, `{"cgi_path":"/cgi-bin/qrcode/make"}`, 76021, 0, 0},
		{"no leading slash", oaTok, `{"cgi_path":"cgi-bin/qrcode/create"}`, 76003, 0, 0},
		{"with the host", oaTok, `{"cgi_path":"https://api.weixin.qq.com/cgi-bin/qrcode/create"}`, 76003, 0, 0},
		{"not JSON", oaTok, `cgi_path=/cgi-bin/qrcode/create`, 47001, 0, 0},
		{"no token", "", `{"cgi_path":"/cgi-bin/qrcode/create"}`, 41001, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := quotaGet(t, sim, tt.tok, tt.body)
			if a.Errcode != tt.wantErrcode || a.Quota.DailyLimit != tt.wantLimit || a.Quota.Remain != tt.wantRemaining {
				t.Errorf("errcode %d, quota %+v; want errcode %d, daily_limit %d, remain %d",
					a.Errcode, a.Quota, tt.wantErrcode, tt.wantLimit, tt.wantRemaining)
			}
		})
	}
	if got := sim.Calls(wechatsim.APIQuotaGet); got != len(tests) {
		t.Errorf("Calls(APIQuotaGet) = %d, want %d", got, len(tests))
	}
}

func TestQuotaGetTakesFaults(t *testing.T) {
	sim := startSim(t, wechatsim.Config{})
	tok := classicToken(t, sim, oaID, oaSecret).AccessToken
	sim.InjectFault(wechatsim.APIQuotaGet, wechatsim.Fault{Kind: wechatsim.FaultErrcode, Code: 48001})
	if a := quotaGet(t, sim, tok, `{"cgi_path":"/cgi-bin/qrcode/create"}`); a.Errcode != 48001 {
		t.Errorf("errcode %d, want the injected 48001", a.Errcode)
	}
	if a := quotaGet(t, sim, tok, `{"cgi_path":"/cgi-bin/qrcode/create"}`); a.Errcode != 0 {
		t.Errorf("after the fault: errcode %d, want 0", a.Errcode)
	}
}
