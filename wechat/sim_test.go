package wechat

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr/internal/qrdecode"
	"github.com/wxqr/wxqr/internal/testenv"
	"github.com/wxqr/wxqr/wechat/wechatsim"
)

// The apps every simulator knows.
const (
	oaApp    = "wx00000000000000a1"
	oaSecret = "oa-secret-5f1c2e9d"
	mpApp    = "wx00000000000000b2"
	mpSecret = "mp-secret-7a3b8c0e"
)

func secretOf(appID string) string {
	if appID == mpApp {
		return mpSecret
	}
	return oaSecret
}

// simNow is the simulators' clock: fixed, so that limit windows and quota
// days never turn over in the middle of a test.
func simNow() time.Time { return time.Date(2025, 3, 1, 12, 0, 30, 0, time.UTC) }

// startSim starts a simulator with the two apps.
func startSim(t *testing.T) *wechatsim.Server {
	t.Helper()
	sim := wechatsim.NewServer(wechatsim.Config{
		Apps: map[string]wechatsim.App{
			oaApp: {Secret: oaSecret, Type: wechatsim.OfficialAccount},
			mpApp: {Secret: mpSecret, Type: wechatsim.MiniProgram},
		},
		Now: simNow,
	})
	t.Cleanup(sim.Close)
	return sim
}

// simClient returns a client of sim for appID whose stable tokens are kept
// in rdb under a prefix of the test's own, with cfg tweaked by tweak.
func simClient(t *testing.T, sim *wechatsim.Server, rdb redis.UniversalClient, appID, secret string, tweak ...func(*TokenConfig, *Config)) *Client {
	t.Helper()
	tcfg := TokenConfig{AppID: appID, Secret: secret, Redis: rdb, APIBaseURL: sim.URL(), KeyPrefix: "wxqr:token:" + t.Name() + ":"}
	cfg := Config{AppID: appID, APIBaseURL: sim.URL(), MPBaseURL: sim.URL()}
	for _, f := range tweak {
		f(&tcfg, &cfg)
	}
	tokens, err := NewStableTokenSource(tcfg)
	if err != nil {
		t.Fatalf("NewStableTokenSource: %v", err)
	}
	cfg.Tokens = tokens
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

// decodeQR returns the text img's QR code holds.
func decodeQR(t *testing.T, img *Image) string {
	t.Helper()
	text, err := qrdecode.Decode(img.Data)
	if err != nil {
		t.Fatalf("decode %s image: %v", img.ContentType, err)
	}
	return text
}

func TestSimOfficialAccountCodes(t *testing.T) {
	sim := startSim(t)
	c := simClient(t, sim, testenv.Redis(t), oaApp, oaSecret)
	tests := []struct {
		name       string
		req        CreateQRCodeRequest
		wantExpire int
	}{
		{"temporary int", CreateQRCodeRequest{ActionName: QRScene, SceneID: 4294967295, ExpireSeconds: 3600}, 3600},
		{"temporary int, default expiry", CreateQRCodeRequest{ActionName: QRScene, SceneID: 1}, 60},
		{"temporary string", CreateQRCodeRequest{ActionName: QRStrScene, SceneStr: strings.Repeat("s", 64), ExpireSeconds: 2592000}, 2592000},
		{"permanent int", CreateQRCodeRequest{ActionName: QRLimitScene, SceneID: 100000}, 0},
		{"permanent string", CreateQRCodeRequest{ActionName: QRLimitStrScene, SceneStr: "spring/sale+2025"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ticket, err := c.CreateQRCode(t.Context(), &tt.req)
			if err != nil {
				t.Fatalf("CreateQRCode: %v", err)
			}
			if ticket.Ticket == "" || !strings.HasPrefix(ticket.URL, "http://weixin.qq.com/q/") || ticket.ExpireSeconds != tt.wantExpire {
				t.Errorf("ticket = %+v, want a ticket, a weixin.qq.com url and expire_seconds %d", ticket, tt.wantExpire)
			}
			img, err := c.ShowQRCode(t.Context(), ticket.Ticket)
			if err != nil {
				t.Fatalf("ShowQRCode: %v", err)
			}
			if img.ContentType != "image/jpeg" {
				t.Errorf("ContentType = %q, want image/jpeg", img.ContentType)
			}
			if got := decodeQR(t, img); got != ticket.URL {
				t.Errorf("image encodes %q, want the url %q", got, ticket.URL)
			}
		})
	}
	if got := sim.Usage(oaApp, wechatsim.APICreateQRCode).Capped; got != 2 {
		t.Errorf("%d permanent codes made, want 2", got)
	}
}

func TestSimShowQRCodeTicketWithPlusAndSlash(t *testing.T) {
	sim := startSim(t)
	c := simClient(t, sim, testenv.Redis(t), oaApp, oaSecret)
	// Tickets are random base64; make codes until one has both characters
	// that break an unescaped (or twice-escaped) ticket.
	var ticket *QRCodeTicket
	for i := int64(1); i <= 200 && ticket == nil; i++ {
		tk, err := c.CreateQRCode(t.Context(), &CreateQRCodeRequest{ActionName: QRScene, SceneID: i, ExpireSeconds: 600})
		if err != nil {
			t.Fatalf("CreateQRCode: %v", err)
		}
		if strings.Contains(tk.Ticket, "+") && strings.Contains(tk.Ticket, "/") {
			ticket = tk
		}
	}
	if ticket == nil {
		t.Fatal("no ticket with both + and / in 200 codes")
	}
	img, err := c.ShowQRCode(t.Context(), ticket.Ticket)
	if err != nil {
		t.Fatalf("ShowQRCode(%q): %v", ticket.Ticket, err)
	}
	if got := decodeQR(t, img); got != ticket.URL {
		t.Errorf("image encodes %q, want %q", got, ticket.URL)
	}
}

func TestSimMiniProgramCodes(t *testing.T) {
	sim := startSim(t)
	c := simClient(t, sim, testenv.Redis(t), mpApp, mpSecret)
	no := false
	tests := []struct {
		name        string
		call        func(context.Context) (*Image, error)
		wantContent string
		wantType    string
	}{
		{"createwxaqrcode", func(ctx context.Context) (*Image, error) {
			return c.CreateWxaQRCode(ctx, &CreateWxaQRCodeRequest{Path: "pages/index/index?id=7&from=qr", Width: 280})
		}, wechatsim.WxaContent(mpApp, wechatsim.APICreateWxaQRCode, "pages/index/index?id=7&from=qr", ""), "image/jpeg"},
		{"getwxacode", func(ctx context.Context) (*Image, error) {
			return c.GetWxaCode(ctx, &GetWxaCodeRequest{Path: "pages/shop?sku=42", Width: 430, LineColor: &Color{R: 10, G: 20, B: 30}, EnvVersion: "trial"})
		}, wechatsim.WxaContent(mpApp, wechatsim.APIGetWxaCode, "pages/shop?sku=42", ""), "image/jpeg"},
		{"getwxacodeunlimit", func(ctx context.Context) (*Image, error) {
			return c.GetWxaCodeUnlimited(ctx, &GetWxaCodeUnlimitedRequest{Scene: "id=42&k=a+b/c", Page: "pages/index/index", CheckPath: &no, EnvVersion: "release", AutoColor: true})
		}, wechatsim.WxaContent(mpApp, wechatsim.APIGetWxaCodeUnlimited, "pages/index/index", "id=42&k=a+b/c"), "image/jpeg"},
		// A transparent code is a PNG, recognised whole by its IEND chunk.
		{"getwxacodeunlimit, transparent", func(ctx context.Context) (*Image, error) {
			return c.GetWxaCodeUnlimited(ctx, &GetWxaCodeUnlimitedRequest{Scene: "t=1", LineColor: &Color{R: 26, G: 95, B: 180}, IsHyaline: true})
		}, wechatsim.WxaContent(mpApp, wechatsim.APIGetWxaCodeUnlimited, "", "t=1"), "image/png"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, err := tt.call(t.Context())
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			if img.ContentType != tt.wantType {
				t.Errorf("ContentType = %q, want %s", img.ContentType, tt.wantType)
			}
			if got := decodeQR(t, img); got != tt.wantContent {
				t.Errorf("image encodes %q, want %q", got, tt.wantContent)
			}
		})
	}
	for _, api := range []string{wechatsim.APICreateWxaQRCode, wechatsim.APIGetWxaCode} {
		if got := sim.Usage(mpApp, api).Capped; got != 1 {
			t.Errorf("%d %s codes count against the lifetime cap, want 1", got, api)
		}
	}
}

// simCall is one client call in TestSimErrorClasses.
type simCall func(context.Context, *Client) error

func createTemp(sceneID int64) simCall {
	return func(ctx context.Context, c *Client) error {
		ticket, err := c.CreateQRCode(ctx, &CreateQRCodeRequest{ActionName: QRScene, SceneID: sceneID, ExpireSeconds: 600})
		return resultErr(ticket, err)
	}
}

func createPerm(sceneID int64) simCall {
	return func(ctx context.Context, c *Client) error {
		ticket, err := c.CreateQRCode(ctx, &CreateQRCodeRequest{ActionName: QRLimitScene, SceneID: sceneID})
		return resultErr(ticket, err)
	}
}

func wxaQRCode(path string) simCall {
	return func(ctx context.Context, c *Client) error {
		img, err := c.CreateWxaQRCode(ctx, &CreateWxaQRCodeRequest{Path: path})
		return resultErr(img, err)
	}
}

func wxaCode(req GetWxaCodeRequest) simCall {
	return func(ctx context.Context, c *Client) error {
		img, err := c.GetWxaCode(ctx, &req)
		return resultErr(img, err)
	}
}

func unlimited(req GetWxaCodeUnlimitedRequest) simCall {
	return func(ctx context.Context, c *Client) error {
		img, err := c.GetWxaCodeUnlimited(ctx, &req)
		return resultErr(img, err)
	}
}

func showTicket(ticket string) simCall {
	return func(ctx context.Context, c *Client) error {
		img, err := c.ShowQRCode(ctx, ticket)
		return resultErr(img, err)
	}
}

// resultErr returns err, or an error if the call returned both or neither
// of a result and an error.
func resultErr[T any](v *T, err error) error {
	if (v == nil) == (err == nil) {
		return errors.New("call returned both or neither of a result and an error")
	}
	return err
}

// inSequence makes the calls one after the other; every call but the last
// must succeed, and the last one's error is returned.
func inSequence(calls ...simCall) simCall {
	return func(ctx context.Context, c *Client) error {
		for i, call := range calls[:len(calls)-1] {
			if err := call(ctx, c); err != nil {
				return errors.New("call " + string(rune('1'+i)) + " before the last failed: " + err.Error())
			}
		}
		return calls[len(calls)-1](ctx, c)
	}
}

// wantCalls checks that api was called n times.
func wantCalls(api string, n int) func(*testing.T, *wechatsim.Server) {
	return func(t *testing.T, sim *wechatsim.Server) {
		t.Helper()
		if got := sim.Calls(api); got != n {
			t.Errorf("%s called %d times, want %d", api, got, n)
		}
	}
}

func TestSimErrorClasses(t *testing.T) {
	rdb := testenv.Redis(t)
	ok := unlimited(GetWxaCodeUnlimitedRequest{Scene: "ok"})
	tests := []struct {
		name     string
		app      string
		secret   string // default: the app's
		setup    func(*wechatsim.Server)
		tweak    func(*TokenConfig, *Config)
		call     simCall
		want     Class
		wantCode int // the *APIError's errcode; 0: not an *APIError
		wantOp   string
		check    func(*testing.T, *wechatsim.Server) // more checks, if any
	}{
		{name: "success", app: mpApp, call: ok, want: ClassNone},

		{name: "system busy", app: oaApp, want: ClassTransient, wantCode: -1, wantOp: "qrcode/create",
			setup: func(s *wechatsim.Server) {
				s.InjectFault(wechatsim.APICreateQRCode, wechatsim.Fault{Kind: wechatsim.FaultSystemBusy})
			},
			call: createTemp(1)},
		{name: "HTTP 500", app: mpApp, want: ClassTransient, wantOp: "wxa/getwxacodeunlimit",
			setup: func(s *wechatsim.Server) {
				s.InjectFault(wechatsim.APIGetWxaCodeUnlimited, wechatsim.Fault{Kind: wechatsim.FaultHTTP500})
			},
			call: ok},
		{name: "connection reset", app: mpApp, want: ClassTransient, wantOp: "wxa/getwxacode",
			setup: func(s *wechatsim.Server) {
				s.InjectFault(wechatsim.APIGetWxaCode, wechatsim.Fault{Kind: wechatsim.FaultReset})
			},
			call: wxaCode(GetWxaCodeRequest{Path: "pages/a"})},
		{name: "truncated image", app: mpApp, want: ClassTransient, wantOp: "wxaapp/createwxaqrcode",
			setup: func(s *wechatsim.Server) {
				s.InjectFault(wechatsim.APICreateWxaQRCode, wechatsim.Fault{Kind: wechatsim.FaultTruncate})
			},
			call: wxaQRCode("pages/a")},
		{name: "truncated JSON", app: oaApp, want: ClassTransient, wantOp: "qrcode/create",
			setup: func(s *wechatsim.Server) {
				s.InjectFault(wechatsim.APICreateQRCode, wechatsim.Fault{Kind: wechatsim.FaultTruncate})
			},
			call: createTemp(1)},
		{name: "truncated showqrcode image", app: oaApp, want: ClassTransient, wantOp: "showqrcode",
			setup: func(s *wechatsim.Server) {
				s.InjectFault(wechatsim.APIShowQRCode, wechatsim.Fault{Kind: wechatsim.FaultTruncate})
			},
			call: func(ctx context.Context, c *Client) error {
				ticket, err := c.CreateQRCode(ctx, &CreateQRCodeRequest{ActionName: QRScene, SceneID: 9})
				if err != nil {
					return err
				}
				return showTicket(ticket.Ticket)(ctx, c)
			}},
		{name: "slower than the HTTP client's timeout", app: mpApp, want: ClassTransient, wantOp: "wxa/getwxacodeunlimit",
			setup: func(s *wechatsim.Server) {
				s.InjectFault(wechatsim.APIGetWxaCodeUnlimited, wechatsim.Fault{Kind: wechatsim.FaultLatency, Delay: time.Minute})
			},
			tweak: func(_ *TokenConfig, c *Config) { c.HTTPClient = &http.Client{Timeout: 100 * time.Millisecond} },
			call:  ok},
		{name: "JSON error as text/plain", app: mpApp, want: ClassTransient, wantCode: -1, wantOp: "wxa/getwxacodeunlimit",
			setup: func(s *wechatsim.Server) {
				s.InjectFault(wechatsim.APIGetWxaCodeUnlimited, wechatsim.Fault{Kind: wechatsim.FaultJSONContentType})
			},
			call: ok},
		{name: "quota error as text/plain", app: mpApp, want: ClassTotalQuota, wantCode: 45029, wantOp: "wxaapp/createwxaqrcode",
			setup: func(s *wechatsim.Server) {
				s.InjectFault(wechatsim.APICreateWxaQRCode, wechatsim.Fault{Kind: wechatsim.FaultJSONContentType, Code: 45029})
			},
			call: wxaQRCode("pages/a")},
		{name: "token endpoint busy", app: oaApp, want: ClassTransient, wantCode: -1, wantOp: "cgi-bin/stable_token",
			setup: func(s *wechatsim.Server) {
				s.InjectFault(wechatsim.APIStableToken, wechatsim.Fault{Kind: wechatsim.FaultSystemBusy})
			},
			call: createTemp(1)},

		{name: "token rejected once, then accepted", app: oaApp, want: ClassNone,
			setup: func(s *wechatsim.Server) {
				s.InjectFault(wechatsim.APICreateQRCode, wechatsim.Fault{Kind: wechatsim.FaultErrcode, Code: 40001})
			},
			call: createTemp(1), check: wantCalls(wechatsim.APICreateQRCode, 2)},
		{name: "token rejected twice", app: oaApp, want: ClassToken, wantCode: 40001, wantOp: "qrcode/create",
			setup: func(s *wechatsim.Server) {
				s.InjectFault(wechatsim.APICreateQRCode, wechatsim.Fault{Kind: wechatsim.FaultErrcode, Code: 40001, Count: 5})
			},
			call: createTemp(1), check: wantCalls(wechatsim.APICreateQRCode, 2)},
		{name: "token expired twice", app: mpApp, want: ClassToken, wantCode: 42001, wantOp: "wxa/getwxacodeunlimit",
			setup: func(s *wechatsim.Server) {
				s.InjectFault(wechatsim.APIGetWxaCodeUnlimited, wechatsim.Fault{Kind: wechatsim.FaultErrcode, Code: 42001, Count: 2})
			},
			call: ok},
		{name: "token malformed twice", app: mpApp, want: ClassToken, wantCode: 40014, wantOp: "wxa/getwxacode",
			setup: func(s *wechatsim.Server) {
				s.InjectFault(wechatsim.APIGetWxaCode, wechatsim.Fault{Kind: wechatsim.FaultErrcode, Code: 40014, Count: 2})
			},
			call: wxaCode(GetWxaCodeRequest{Path: "p"})},

		{name: "per-minute limit", app: mpApp, want: ClassMinuteLimit, wantCode: 45011, wantOp: "wxa/getwxacodeunlimit",
			setup: func(s *wechatsim.Server) {
				s.SetLimits(mpApp, wechatsim.Limits{PerMinute: map[string]int{wechatsim.APIGetWxaCodeUnlimited: 1}})
			},
			call: inSequence(ok, ok)},
		{name: "daily quota of qrcode/create", app: oaApp, want: ClassDailyQuota, wantCode: 45009, wantOp: "qrcode/create",
			setup: func(s *wechatsim.Server) {
				s.SetLimits(oaApp, wechatsim.Limits{Daily: map[string]int{wechatsim.APICreateQRCode: 1}})
			},
			call: inSequence(createTemp(1), createTemp(2))},
		{name: "daily quota of getwxacode", app: mpApp, want: ClassDailyQuota, wantCode: 45009, wantOp: "wxa/getwxacode",
			setup: func(s *wechatsim.Server) {
				s.SetLimits(mpApp, wechatsim.Limits{Daily: map[string]int{wechatsim.APIGetWxaCode: 1}})
			},
			call: inSequence(wxaCode(GetWxaCodeRequest{Path: "a"}), wxaCode(GetWxaCodeRequest{Path: "b"}))},
		{name: "permanent codes spent", app: oaApp, want: ClassTotalQuota, wantCode: 45029, wantOp: "qrcode/create",
			setup: func(s *wechatsim.Server) { s.SetLimits(oaApp, wechatsim.Limits{PermCap: 1}) },
			call:  inSequence(createPerm(1), createPerm(1), createPerm(2))},
		{name: "Mini Program codes spent", app: mpApp, want: ClassTotalQuota, wantCode: 45029, wantOp: "wxa/getwxacode",
			setup: func(s *wechatsim.Server) { s.SetLimits(mpApp, wechatsim.Limits{WxaCap: 1}) },
			call:  inSequence(wxaQRCode("pages/a"), wxaCode(GetWxaCodeRequest{Path: "pages/b"}))},

		{name: "permanent scene out of range", app: oaApp, want: ClassBadRequest, wantCode: 40053, wantOp: "qrcode/create",
			call: createPerm(100001)},
		{name: "scene_str too long", app: oaApp, want: ClassBadRequest, wantCode: 40053, wantOp: "qrcode/create",
			call: func(ctx context.Context, c *Client) error {
				ticket, err := c.CreateQRCode(ctx, &CreateQRCodeRequest{ActionName: QRStrScene, SceneStr: strings.Repeat("x", 65)})
				return resultErr(ticket, err)
			}},
		{name: "path too long", app: mpApp, want: ClassBadRequest, wantCode: 40159, wantOp: "wxaapp/createwxaqrcode",
			call: wxaQRCode(strings.Repeat("p", 129))},
		{name: "scancode_time in path", app: mpApp, want: ClassBadRequest, wantCode: 85096, wantOp: "wxa/getwxacode",
			call: wxaCode(GetWxaCodeRequest{Path: "pages/a?scancode_time=1"})},
		{name: "bad env_version", app: mpApp, want: ClassBadRequest, wantCode: 40097, wantOp: "wxa/getwxacode",
			call: wxaCode(GetWxaCodeRequest{Path: "pages/a", EnvVersion: "beta"})},
		{name: "bad scene characters", app: mpApp, want: ClassBadRequest, wantCode: 40129, wantOp: "wxa/getwxacodeunlimit",
			call: unlimited(GetWxaCodeUnlimitedRequest{Scene: "a b"})},
		{name: "scene too long", app: mpApp, want: ClassBadRequest, wantCode: 40169, wantOp: "wxa/getwxacodeunlimit",
			call: unlimited(GetWxaCodeUnlimitedRequest{Scene: strings.Repeat("s", 33)})},
		{name: "page with a leading slash", app: mpApp, want: ClassBadRequest, wantCode: 41030, wantOp: "wxa/getwxacodeunlimit",
			call: unlimited(GetWxaCodeUnlimitedRequest{Scene: "s", Page: "/pages/index"})},
		{name: "body not JSON", app: oaApp, want: ClassBadRequest, wantCode: 47001, wantOp: "qrcode/create",
			setup: func(s *wechatsim.Server) {
				s.InjectFault(wechatsim.APICreateQRCode, wechatsim.Fault{Kind: wechatsim.FaultErrcode, Code: 47001})
			},
			call: createTemp(1)},

		{name: "wrong secret", app: oaApp, secret: "not-the-secret", want: ClassAccount, wantCode: 40125, wantOp: "cgi-bin/stable_token",
			call: createTemp(1), check: func(t *testing.T, s *wechatsim.Server) {
				wantCalls(wechatsim.APIStableToken, 1)(t, s)
				wantCalls(wechatsim.APICreateQRCode, 0)(t, s)
			}},
		{name: "unknown appid", app: "wx00000000000000ff", secret: "x", want: ClassAccount, wantCode: 40013, wantOp: "cgi-bin/stable_token",
			call: createTemp(1)},
		{name: "caller IP not allow-listed", app: mpApp, want: ClassAccount, wantCode: 40164, wantOp: "cgi-bin/stable_token",
			setup: func(s *wechatsim.Server) {
				s.InjectFault(wechatsim.APIStableToken, wechatsim.Fault{Kind: wechatsim.FaultErrcode, Code: 40164})
			},
			call: ok},
		{name: "Official Account calls a Mini Program API", app: oaApp, want: ClassAccount, wantCode: 48001, wantOp: "wxa/getwxacodeunlimit",
			call: ok},
		{name: "Mini Program calls qrcode/create", app: mpApp, want: ClassAccount, wantCode: 48001, wantOp: "qrcode/create",
			call: createTemp(1)},

		{name: "unknown ticket", app: oaApp, want: ClassTicketNotFound, wantOp: "showqrcode",
			call: showTicket("gQH47joAAAAAAAAAASxodHRw+/unknown==")},

		{name: "unknown errcode", app: mpApp, want: ClassUnknown, wantCode: 40002, wantOp: "wxa/getwxacodeunlimit",
			setup: func(s *wechatsim.Server) {
				s.InjectFault(wechatsim.APIGetWxaCodeUnlimited, wechatsim.Fault{Kind: wechatsim.FaultErrcode, Code: 40002})
			},
			call: ok},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim := startSim(t)
			if tt.setup != nil {
				tt.setup(sim)
			}
			secret := tt.secret
			if secret == "" {
				secret = secretOf(tt.app)
			}
			var tweaks []func(*TokenConfig, *Config)
			if tt.tweak != nil {
				tweaks = append(tweaks, tt.tweak)
			}
			c := simClient(t, sim, rdb, tt.app, secret, tweaks...)
			err := tt.call(t.Context(), c)
			if tt.check != nil {
				tt.check(t, sim)
			}
			if got := ClassOf(err); got != tt.want {
				t.Fatalf("ClassOf(%v) = %v, want %v", err, got, tt.want)
			}
			if err == nil {
				return
			}
			var ae *APIError
			switch {
			case tt.wantCode != 0 && !errors.As(err, &ae):
				t.Errorf("error %v is not an *APIError", err)
			case tt.wantCode != 0 && (ae.Code != tt.wantCode || ae.Op != tt.wantOp):
				t.Errorf("APIError = %+v, want errcode %d from %s", ae, tt.wantCode, tt.wantOp)
			case tt.wantCode == 0 && errors.As(err, &ae):
				t.Errorf("error %v is an *APIError, want another error", err)
			}
			if !strings.HasPrefix(err.Error(), "wechat: ") || !strings.Contains(err.Error(), tt.wantOp) {
				t.Errorf("error %q does not name the operation %s", err, tt.wantOp)
			}
		})
	}
}
