package wechat

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/wxqr/wxqr/internal/testenv"
	"github.com/wxqr/wxqr/wechat/wechatsim"
)

func TestCGIPath(t *testing.T) {
	for api, want := range map[string]string{
		"qrcode/create":          "/cgi-bin/qrcode/create",
		"wxaapp/createwxaqrcode": "/cgi-bin/wxaapp/createwxaqrcode",
		"wxa/getwxacode":         "/wxa/getwxacode",
		"wxa/getwxacodeunlimit":  "/wxa/getwxacodeunlimit",
	} {
		if got, ok := CGIPath(api); !ok || got != want {
			t.Errorf("CGIPath(%q) = %q, %v; want %q", api, got, ok, want)
		}
	}
	for _, api := range []string{"openapi/quota/get", "showqrcode", "qrcode/make"} {
		if got, ok := CGIPath(api); ok {
			t.Errorf("CGIPath(%q) = %q, want none", api, got)
		}
	}
}

func TestSimQuotaGet(t *testing.T) {
	sim := startSim(t)
	rdb := testenv.Redis(t)
	oa := simClient(t, sim, rdb, oaApp, oaSecret)
	mp := simClient(t, sim, rdb, mpApp, mpSecret)
	for i := range 3 {
		if _, err := oa.CreateQRCode(t.Context(), &CreateQRCodeRequest{ActionName: QRScene, SceneID: int64(i + 1), ExpireSeconds: 60}); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("counts the day's calls", func(t *testing.T) {
		path, _ := CGIPath(opCreateQRCode)
		q, err := oa.QuotaGet(t.Context(), &QuotaGetRequest{CGIPath: path})
		if err != nil {
			t.Fatalf("QuotaGet: %v", err)
		}
		if want := (Quota{DailyLimit: 100000, Used: 3, Remain: 99997}); *q != want || !q.Limited() {
			t.Errorf("quota = %+v, want %+v, limited", *q, want)
		}
	})
	t.Run("no daily limit stated", func(t *testing.T) {
		path, _ := CGIPath(opGetWxaCodeUnlimited)
		q, err := mp.QuotaGet(t.Context(), &QuotaGetRequest{CGIPath: path})
		if err != nil {
			t.Fatalf("QuotaGet: %v", err)
		}
		if q.Limited() {
			t.Errorf("quota %+v is limited, want no limit stated", *q)
		}
	})
	t.Run("errors are classified", func(t *testing.T) {
		for _, tt := range []struct {
			name    string
			c       *Client
			path    string
			want    error
			errcode int
		}{
			{"another account type's API", oa, "/wxa/getwxacode", ErrAccount, 76022},
			{"unknown path", mp, "/wxa/makecode", ErrBadRequest, 76021},
		} {
			_, err := tt.c.QuotaGet(t.Context(), &QuotaGetRequest{CGIPath: tt.path})
			var ae *APIError
			if !errors.Is(err, tt.want) || !errors.As(err, &ae) || ae.Code != tt.errcode || ae.Op != opQuotaGet {
				t.Errorf("%s: err = %v, want errcode %d of class %v", tt.name, err, tt.errcode, tt.want)
			}
		}
	})
	t.Run("a path without its slash is refused without a call", func(t *testing.T) {
		before := sim.Calls(wechatsim.APIQuotaGet)
		for _, req := range []*QuotaGetRequest{nil, {}, {CGIPath: "cgi-bin/qrcode/create"}} {
			if _, err := oa.QuotaGet(t.Context(), req); !errors.Is(err, ErrBadRequest) {
				t.Errorf("QuotaGet(%+v): err = %v, want ErrBadRequest", req, err)
			}
		}
		if got := sim.Calls(wechatsim.APIQuotaGet); got != before {
			t.Errorf("%d calls reached WeChat, want none", got-before)
		}
	})
	t.Run("no secret in errors", func(t *testing.T) {
		sim.InjectFault(wechatsim.APIQuotaGet, wechatsim.Fault{Kind: wechatsim.FaultErrcode, Code: 48001})
		_, err := oa.QuotaGet(t.Context(), &QuotaGetRequest{CGIPath: "/cgi-bin/qrcode/create"})
		if !errors.Is(err, ErrAccount) {
			t.Fatalf("err = %v, want ErrAccount", err)
		}
		assertNoSecrets(t, "error", err.Error(), append(sim.Tokens(oaApp), oaSecret)...)
	})
}

func TestQuotaGetWire(t *testing.T) {
	var body map[string]string
	answer := `{"errcode":0,"errmsg":"ok","quota":{"daily_limit":10000,"used":25,"remain":9975}}`
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/cgi-bin/openapi/quota/get" || r.URL.Query().Get("access_token") != "t1" {
			t.Errorf("request %s %s, want POST /cgi-bin/openapi/quota/get with the token", r.Method, r.URL.Path)
		}
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &body); err != nil {
			t.Errorf("body %q is not JSON: %v", b, err)
		}
		w.Header().Set("Content-Type", "application/json; encoding=utf-8")
		io.WriteString(w, answer) //nolint:errcheck // the client sees what it sees
	})
	c := newTestClient(t, api, nil, nil)

	q, err := c.QuotaGet(t.Context(), &QuotaGetRequest{CGIPath: "/wxa/getwxacode"})
	if err != nil {
		t.Fatalf("QuotaGet: %v", err)
	}
	if want := (Quota{DailyLimit: 10000, Used: 25, Remain: 9975}); *q != want {
		t.Errorf("quota = %+v, want %+v", *q, want)
	}
	if body["cgi_path"] != "/wxa/getwxacode" {
		t.Errorf("body = %v, want cgi_path /wxa/getwxacode", body)
	}

	answer = `{"errcode":0,"errmsg":"ok"}`
	if q, err := c.QuotaGet(t.Context(), &QuotaGetRequest{CGIPath: "/wxa/getwxacode"}); err == nil {
		t.Errorf("an answer without quota: %+v, want an error", q)
	}
}
