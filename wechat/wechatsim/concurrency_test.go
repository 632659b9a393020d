package wechatsim_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/wxqr/wxqr/wechat/wechatsim"
)

// TestConcurrentUse runs every kind of call at once; under -race it checks
// that the Server is safe for concurrent use, and the totals check that no
// call was lost.
func TestConcurrentUse(t *testing.T) {
	sim := startSim(t, wechatsim.Config{})
	const workers, perWorker = 4, 5

	// Helpers that call t.Fatal must stay on the test goroutine: tokens are
	// fetched here, and the workers report with t.Errorf.
	oaTok := stableToken(t, sim, oaID, oaSecret, false).AccessToken
	post := func(api, tok, body string) (response, bool) {
		r, err := send(t.Context(), http.MethodPost, sim.URL()+apiPaths[api]+"?access_token="+url.QueryEscape(tok), body)
		if err != nil {
			t.Errorf("%s: %v", api, err)
		}
		return r, err == nil
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				body := fmt.Sprintf(`{"action_name":"QR_LIMIT_SCENE","action_info":{"scene":{"scene_id":%d}}}`, 1+(w*perWorker+i)%3)
				if i%2 == 0 {
					body = tempBody
				}
				r, ok := post(wechatsim.APICreateQRCode, oaTok, body)
				var a qrAnswer
				if !ok || json.Unmarshal(r.body, &a) != nil || a.Ticket == "" {
					t.Errorf("qrcode/create: %s", r.body)
					continue
				}
				r, err := send(t.Context(), http.MethodGet, showURL(sim, url.QueryEscape(a.Ticket)), "")
				if err != nil || r.status != http.StatusOK {
					t.Errorf("showqrcode: %v, status %d", err, r.status)
				}
			}
		})
		mpTok := classicToken(t, sim, mpID, mpSecret).AccessToken
		wg.Go(func() {
			for i := range perWorker {
				r, ok := post(wechatsim.APIGetWxaCodeUnlimited, mpTok, fmt.Sprintf(`{"scene":"w%di%d"}`, w, i))
				if ok && r.contentType != "image/jpeg" {
					t.Errorf("getwxacodeunlimit: %s", r.body)
				}
			}
		})
		wg.Go(func() {
			app := fmt.Sprintf("wx00000000000000d%d", w)
			sim.AddApp(app, wechatsim.App{Secret: "s", Type: wechatsim.OfficialAccount})
			for i := range perWorker {
				sim.SetLimits(app, wechatsim.Limits{PermCap: i + 1})
				sim.InvalidateTokens(app)
				sim.InjectFault(wechatsim.APIToken, wechatsim.Fault{Kind: wechatsim.FaultLatency})
				_ = sim.Calls(wechatsim.APICreateQRCode) + sim.CallsByErrcode(wechatsim.APIShowQRCode, 0) +
					sim.TokensIssued(oaID) + sim.Usage(oaID, wechatsim.APICreateQRCode).Made
			}
		})
	}
	wg.Wait()

	total := workers * perWorker
	checks := []struct {
		name      string
		got, want int
	}{
		{"Calls(qrcode/create)", sim.Calls(wechatsim.APICreateQRCode), total},
		{"CallsByErrcode(showqrcode, 0)", sim.CallsByErrcode(wechatsim.APIShowQRCode, 0), total},
		{"CallsByErrcode(getwxacodeunlimit, 0)", sim.CallsByErrcode(wechatsim.APIGetWxaCodeUnlimited, 0), total},
		{"Usage(qrcode/create).Made", sim.Usage(oaID, wechatsim.APICreateQRCode).Made, total},
		{"Usage(qrcode/create).Temporary", sim.Usage(oaID, wechatsim.APICreateQRCode).Temporary, (perWorker + 1) / 2 * workers},
		{"Usage(qrcode/create).Capped", sim.Usage(oaID, wechatsim.APICreateQRCode).Capped, 3},
		{"Usage(getwxacodeunlimit).Made", sim.Usage(mpID, wechatsim.APIGetWxaCodeUnlimited).Made, total},
		{"TokensIssued(oa)", sim.TokensIssued(oaID), 1},
		{"TokensIssued(mp)", sim.TokensIssued(mpID), workers},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
}
