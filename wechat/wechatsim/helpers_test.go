package wechatsim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	_ "image/jpeg" // decode the simulator's images
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/wxqr/wxqr/internal/qrdecode"
	"github.com/wxqr/wxqr/wechat/wechatsim"
)

// The apps every test server knows, unless the test says otherwise.
const (
	oaID     = "wx00000000000000a1"
	oaSecret = "oa-secret"
	mpID     = "wx00000000000000b2"
	mpSecret = "mp-secret"
)

func testApps() map[string]wechatsim.App {
	return map[string]wechatsim.App{
		oaID: {Secret: oaSecret, Type: wechatsim.OfficialAccount},
		mpID: {Secret: mpSecret, Type: wechatsim.MiniProgram},
	}
}

// startSim starts a simulator for the test, with testApps unless cfg has
// apps.
func startSim(t *testing.T, cfg wechatsim.Config) *wechatsim.Server {
	t.Helper()
	if cfg.Apps == nil {
		cfg.Apps = testApps()
	}
	sim := wechatsim.NewServer(cfg)
	t.Cleanup(sim.Close)
	return sim
}

// response is what a request got back.
type response struct {
	status      int
	contentType string
	header      http.Header
	body        []byte
}

// send makes one request; body "" sends none.
func send(ctx context.Context, method, rawURL, body string) (response, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, rd)
	if err != nil {
		return response{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	r := response{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), header: resp.Header, body: b}
	return r, err
}

// do is send that fails the test on a transport error.
func do(t *testing.T, method, rawURL, body string) response {
	t.Helper()
	r, err := send(t.Context(), method, rawURL, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	return r
}

// errcode is the errcode of a JSON answer: 0 when it has none.
func (r response) errcode(t *testing.T) int {
	t.Helper()
	var v struct {
		Errcode int `json:"errcode"`
	}
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("answer is not JSON (%s, %d bytes): %v", r.contentType, len(r.body), err)
	}
	return v.Errcode
}

func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("answer %q is not JSON: %v", r.body, err)
	}
}

type tokenAnswer struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int    `json:"expires_in"`
	Errcode     int    `json:"errcode"`
}

func classicTokenURL(sim *wechatsim.Server, appID, secret string) string {
	q := url.Values{"grant_type": {"client_credential"}, "appid": {appID}, "secret": {secret}}
	return sim.URL() + "/cgi-bin/token?" + q.Encode()
}

// classicToken gets a cgi-bin/token token, failing the test if it cannot.
func classicToken(t *testing.T, sim *wechatsim.Server, appID, secret string) tokenAnswer {
	t.Helper()
	var a tokenAnswer
	do(t, http.MethodGet, classicTokenURL(sim, appID, secret), "").decode(t, &a)
	if a.Errcode != 0 || a.AccessToken == "" {
		t.Fatalf("cgi-bin/token for %s: errcode %d, token %q", appID, a.Errcode, a.AccessToken)
	}
	return a
}

// stableToken calls stable_token and returns its answer as is.
func stableToken(t *testing.T, sim *wechatsim.Server, appID, secret string, force bool) tokenAnswer {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"grant_type": "client_credential", "appid": appID, "secret": secret, "force_refresh": force})
	var a tokenAnswer
	do(t, http.MethodPost, sim.URL()+"/cgi-bin/stable_token", string(body)).decode(t, &a)
	return a
}

// paths of the POST APIs, by API name.
var apiPaths = map[string]string{
	wechatsim.APICreateQRCode:        "/cgi-bin/qrcode/create",
	wechatsim.APICreateWxaQRCode:     "/cgi-bin/wxaapp/createwxaqrcode",
	wechatsim.APIGetWxaCode:          "/wxa/getwxacode",
	wechatsim.APIGetWxaCodeUnlimited: "/wxa/getwxacodeunlimit",
}

// call POSTs body to api with token tok.
func call(t *testing.T, sim *wechatsim.Server, api, tok, body string) response {
	t.Helper()
	path, ok := apiPaths[api]
	if !ok {
		t.Fatalf("no path for %s", api)
	}
	return do(t, http.MethodPost, sim.URL()+path+"?access_token="+url.QueryEscape(tok), body)
}

const tempBody = `{"expire_seconds":600,"action_name":"QR_SCENE","action_info":{"scene":{"scene_id":7}}}`

// createTemp makes a temporary OA code and returns the errcode.
func createTemp(t *testing.T, sim *wechatsim.Server, tok string) int {
	t.Helper()
	return call(t, sim, wechatsim.APICreateQRCode, tok, tempBody).errcode(t)
}

type qrAnswer struct {
	Ticket        string `json:"ticket"`
	ExpireSeconds *int   `json:"expire_seconds"`
	URL           string `json:"url"`
	Errcode       int    `json:"errcode"`
}

// createQR makes an OA code, failing the test unless it succeeds.
func createQR(t *testing.T, sim *wechatsim.Server, tok, body string) qrAnswer {
	t.Helper()
	var a qrAnswer
	call(t, sim, wechatsim.APICreateQRCode, tok, body).decode(t, &a)
	if a.Errcode != 0 {
		t.Fatalf("qrcode/create %s: errcode %d", body, a.Errcode)
	}
	return a
}

func showURL(sim *wechatsim.Server, ticketParam string) string {
	return sim.URL() + "/cgi-bin/showqrcode?ticket=" + ticketParam
}

// decodeQR reads the QR code in an image.
func decodeQR(t *testing.T, data []byte) string {
	t.Helper()
	text, err := qrdecode.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	return text
}

// imageSize returns an image's pixel size.
func imageSize(t *testing.T, data []byte) (int, int) {
	t.Helper()
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("decode image config: %v", err)
	}
	return cfg.Width, cfg.Height
}
