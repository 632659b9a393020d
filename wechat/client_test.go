package wechat

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestNewClientConfig(t *testing.T) {
	tokens := &fakeTokens{tokens: []string{"t"}}
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"defaults", Config{AppID: "wx1", Tokens: tokens}, ""},
		{"no appid", Config{Tokens: tokens}, "AppID is required"},
		{"no tokens", Config{AppID: "wx1"}, "Tokens is required"},
		{"relative base", Config{AppID: "wx1", Tokens: tokens, APIBaseURL: "api.weixin.qq.com"}, "APIBaseURL"},
		{"ftp base", Config{AppID: "wx1", Tokens: tokens, MPBaseURL: "ftp://mp.weixin.qq.com"}, "MPBaseURL"},
		{"base with query", Config{AppID: "wx1", Tokens: tokens, APIBaseURL: "https://h/?a=b"}, "query"},
		{"negative body limit", Config{AppID: "wx1", Tokens: tokens, MaxBodyBytes: -1}, "MaxBodyBytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewClient(tt.cfg)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("NewClient: %v", err)
				}
				if c.AppID() != tt.cfg.AppID {
					t.Errorf("AppID() = %q, want %q", c.AppID(), tt.cfg.AppID)
				}
				if got := c.apiBase.String(); got != DefaultAPIBaseURL+"/" {
					t.Errorf("API base = %q, want %q", got, DefaultAPIBaseURL+"/")
				}
				if got := c.mpBase.String(); got != DefaultMPBaseURL+"/" {
					t.Errorf("MP base = %q, want %q", got, DefaultMPBaseURL+"/")
				}
				if c.http.maxBody != DefaultMaxBodyBytes || c.http.hc.Timeout != DefaultHTTPTimeout {
					t.Errorf("maxBody %d, timeout %s; want the defaults", c.http.maxBody, c.http.hc.Timeout)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("NewClient error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// recorded is what a test API handler saw.
type recorded struct {
	path, token, contentType, body string
}

// recordingAPI answers every request with reply and records it.
func recordingAPI(t *testing.T, got *recorded, contentType string, reply []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read request body: %v", err)
		}
		if r.Method != http.MethodPost {
			t.Errorf("method = %s, want POST", r.Method)
		}
		*got = recorded{r.URL.Path, r.URL.Query().Get("access_token"), r.Header.Get("Content-Type"), strings.TrimSpace(string(b))}
		w.Header().Set("Content-Type", contentType)
		w.Write(reply) //nolint:errcheck
	})
}

func TestCreateQRCode(t *testing.T) {
	reply := `{"ticket":"gQH47joAAAAAAAAAASxodHRwOi8vd2VpeGlu+/==","expire_seconds":604800,"url":"http://weixin.qq.com/q/kZgfwMTm72WWPkovabbI"}`
	tests := []struct {
		name     string
		req      CreateQRCodeRequest
		wantBody string
	}{
		{"temporary int", CreateQRCodeRequest{ActionName: QRScene, SceneID: 123, ExpireSeconds: 604800},
			`{"expire_seconds":604800,"action_name":"QR_SCENE","action_info":{"scene":{"scene_id":123}}}`},
		{"temporary int, WeChat's default expiry", CreateQRCodeRequest{ActionName: QRScene, SceneID: -7},
			`{"action_name":"QR_SCENE","action_info":{"scene":{"scene_id":-7}}}`},
		{"temporary string", CreateQRCodeRequest{ActionName: QRStrScene, SceneStr: "a&b<c>", ExpireSeconds: 2592000},
			`{"expire_seconds":2592000,"action_name":"QR_STR_SCENE","action_info":{"scene":{"scene_str":"a&b<c>"}}}`},
		{"permanent int", CreateQRCodeRequest{ActionName: QRLimitScene, SceneID: 100000},
			`{"action_name":"QR_LIMIT_SCENE","action_info":{"scene":{"scene_id":100000}}}`},
		{"permanent string", CreateQRCodeRequest{ActionName: QRLimitStrScene, SceneStr: "campaign-7"},
			`{"action_name":"QR_LIMIT_STR_SCENE","action_info":{"scene":{"scene_str":"campaign-7"}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got recorded
			c := newTestClient(t, recordingAPI(t, &got, "application/json; encoding=utf-8", []byte(reply)), nil, nil)
			ticket, err := c.CreateQRCode(t.Context(), &tt.req)
			if err != nil {
				t.Fatalf("CreateQRCode: %v", err)
			}
			want := QRCodeTicket{Ticket: "gQH47joAAAAAAAAAASxodHRwOi8vd2VpeGlu+/==", ExpireSeconds: 604800, URL: "http://weixin.qq.com/q/kZgfwMTm72WWPkovabbI"}
			if *ticket != want {
				t.Errorf("ticket = %+v, want %+v", *ticket, want)
			}
			wantRec := recorded{"/cgi-bin/qrcode/create", "t1", "application/json", tt.wantBody}
			if got != wantRec {
				t.Errorf("request = %+v\nwant      %+v", got, wantRec)
			}
		})
	}
}

func TestCreateQRCodeRejectsBadRequests(t *testing.T) {
	tests := []struct {
		name string
		req  *CreateQRCodeRequest
	}{
		{"nil", nil},
		{"unknown action", &CreateQRCodeRequest{ActionName: "QR_FOREVER", SceneID: 1}},
		{"empty action", &CreateQRCodeRequest{SceneID: 1}},
		{"int action without scene", &CreateQRCodeRequest{ActionName: QRScene}},
		{"int action with string scene", &CreateQRCodeRequest{ActionName: QRLimitScene, SceneID: 1, SceneStr: "x"}},
		{"string action without scene", &CreateQRCodeRequest{ActionName: QRStrScene}},
		{"string action with int scene", &CreateQRCodeRequest{ActionName: QRLimitStrScene, SceneStr: "x", SceneID: 1}},
		{"negative expiry", &CreateQRCodeRequest{ActionName: QRScene, SceneID: 1, ExpireSeconds: -1}},
		{"expiry on a permanent code", &CreateQRCodeRequest{ActionName: QRLimitScene, SceneID: 1, ExpireSeconds: 60}},
	}
	var calls atomic.Int32
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) })
	c := newTestClient(t, api, nil, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.CreateQRCode(t.Context(), tt.req)
			if !errors.Is(err, ErrBadRequest) || got != nil {
				t.Errorf("CreateQRCode = %v, %v; want nil, ErrBadRequest", got, err)
			}
		})
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("%d requests reached WeChat, want 0", n)
	}
}

func TestWxaRequests(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		name     string
		call     func(*Client, context.Context) (*Image, error)
		wantPath string
		wantBody string
	}{
		{"createwxaqrcode",
			func(c *Client, ctx context.Context) (*Image, error) {
				return c.CreateWxaQRCode(ctx, &CreateWxaQRCodeRequest{Path: "page/index/index?id=1&x=<y>", Width: 430})
			},
			"/cgi-bin/wxaapp/createwxaqrcode", `{"path":"page/index/index?id=1&x=<y>","width":430}`},
		{"createwxaqrcode, WeChat's default width",
			func(c *Client, ctx context.Context) (*Image, error) {
				return c.CreateWxaQRCode(ctx, &CreateWxaQRCodeRequest{Path: "p"})
			},
			"/cgi-bin/wxaapp/createwxaqrcode", `{"path":"p"}`},
		{"getwxacode, every parameter",
			func(c *Client, ctx context.Context) (*Image, error) {
				return c.GetWxaCode(ctx, &GetWxaCodeRequest{Path: "pages/a?b=c", Width: 1280, AutoColor: true,
					LineColor: &Color{R: 255, G: 0, B: 16}, IsHyaline: true, EnvVersion: "trial"})
			},
			"/wxa/getwxacode", `{"path":"pages/a?b=c","width":1280,"auto_color":true,"line_color":{"r":255,"g":0,"b":16},"is_hyaline":true,"env_version":"trial"}`},
		{"getwxacode, path only",
			func(c *Client, ctx context.Context) (*Image, error) {
				return c.GetWxaCode(ctx, &GetWxaCodeRequest{Path: "pages/a"})
			},
			"/wxa/getwxacode", `{"path":"pages/a"}`},
		{"getwxacodeunlimit, every parameter",
			func(c *Client, ctx context.Context) (*Image, error) {
				return c.GetWxaCodeUnlimited(ctx, &GetWxaCodeUnlimitedRequest{Scene: "id=42&k=v", Page: "pages/index/index",
					CheckPath: &no, EnvVersion: "develop", Width: 280, AutoColor: false, LineColor: &Color{1, 2, 3}, IsHyaline: true})
			},
			"/wxa/getwxacodeunlimit", `{"scene":"id=42&k=v","page":"pages/index/index","check_path":false,"env_version":"develop","width":280,"line_color":{"r":1,"g":2,"b":3},"is_hyaline":true}`},
		{"getwxacodeunlimit, check_path true",
			func(c *Client, ctx context.Context) (*Image, error) {
				return c.GetWxaCodeUnlimited(ctx, &GetWxaCodeUnlimitedRequest{Scene: "s", CheckPath: &yes})
			},
			"/wxa/getwxacodeunlimit", `{"scene":"s","check_path":true}`},
		{"getwxacodeunlimit, scene only",
			func(c *Client, ctx context.Context) (*Image, error) {
				return c.GetWxaCodeUnlimited(ctx, &GetWxaCodeUnlimitedRequest{Scene: "s"})
			},
			"/wxa/getwxacodeunlimit", `{"scene":"s"}`},
	}
	jpg := testJPEG(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got recorded
			c := newTestClient(t, recordingAPI(t, &got, "image/jpeg", jpg), nil, nil)
			img, err := tt.call(c, t.Context())
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			if img.ContentType != "image/jpeg" || string(img.Data) != string(jpg) {
				t.Errorf("image = %s, %d bytes; want image/jpeg, %d bytes", img.ContentType, len(img.Data), len(jpg))
			}
			want := recorded{tt.wantPath, "t1", "application/json", tt.wantBody}
			if got != want {
				t.Errorf("request = %+v\nwant      %+v", got, want)
			}
		})
	}
}

func TestWxaRejectsBadRequests(t *testing.T) {
	var calls atomic.Int32
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) })
	c := newTestClient(t, api, nil, nil)
	tests := []struct {
		name string
		call func(context.Context) (*Image, error)
	}{
		{"createwxaqrcode nil", func(ctx context.Context) (*Image, error) { return c.CreateWxaQRCode(ctx, nil) }},
		{"createwxaqrcode no path", func(ctx context.Context) (*Image, error) {
			return c.CreateWxaQRCode(ctx, &CreateWxaQRCodeRequest{Width: 430})
		}},
		{"getwxacode nil", func(ctx context.Context) (*Image, error) { return c.GetWxaCode(ctx, nil) }},
		{"getwxacode no path", func(ctx context.Context) (*Image, error) { return c.GetWxaCode(ctx, &GetWxaCodeRequest{}) }},
		{"getwxacodeunlimit nil", func(ctx context.Context) (*Image, error) { return c.GetWxaCodeUnlimited(ctx, nil) }},
		{"getwxacodeunlimit no scene", func(ctx context.Context) (*Image, error) {
			return c.GetWxaCodeUnlimited(ctx, &GetWxaCodeUnlimitedRequest{Page: "pages/index"})
		}},
		{"showqrcode no ticket", func(ctx context.Context) (*Image, error) { return c.ShowQRCode(ctx, "") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, err := tt.call(t.Context())
			if !errors.Is(err, ErrBadRequest) || img != nil {
				t.Errorf("call = %v, %v; want nil, ErrBadRequest", img, err)
			}
		})
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("%d requests reached WeChat, want 0", n)
	}
}

func TestShowQRCodeEscapesTicketOnce(t *testing.T) {
	const ticket = "gQH+47jo/AAAA=="
	var rawQuery, method string
	mp := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rawQuery, method = r.URL.RawQuery, r.Method
		if r.URL.Path != "/cgi-bin/showqrcode" || r.URL.Query().Get("ticket") != ticket {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "image/jpg")
		w.Write(testJPEG(t)) //nolint:errcheck
	})
	c := newTestClient(t, nil, mp, nil)
	img, err := c.ShowQRCode(t.Context(), ticket)
	if err != nil {
		t.Fatalf("ShowQRCode: %v", err)
	}
	if img.ContentType != "image/jpeg" {
		t.Errorf("ContentType = %q, want image/jpeg (the bytes' type, not the header's image/jpg)", img.ContentType)
	}
	if want := "ticket=gQH%2B47jo%2FAAAA%3D%3D"; rawQuery != want || method != http.MethodGet {
		t.Errorf("request = %s ?%s, want GET ?%s", method, rawQuery, want)
	}
}

func TestShowQRCodeNotFound(t *testing.T) {
	const ticket = "gQHexpiredTicketThatIsLong+/=="
	c := newTestClient(t, nil, serve(http.StatusNotFound, "text/html", []byte("<html>404</html>")), nil)
	img, err := c.ShowQRCode(t.Context(), ticket)
	if !errors.Is(err, ErrTicketNotFound) || img != nil {
		t.Fatalf("ShowQRCode = %v, %v; want nil, ErrTicketNotFound", img, err)
	}
	if ClassOf(err) != ClassTicketNotFound {
		t.Errorf("ClassOf = %v, want %v", ClassOf(err), ClassTicketNotFound)
	}
	if !strings.Contains(err.Error(), "showqrcode") || !strings.Contains(err.Error(), ticket[:16]) {
		t.Errorf("error %q does not name the op and the ticket's start", err)
	}
}

// tokenCheckingAPI answers 40001 to requests whose token is not valid, and
// a ticket to the others, counting the requests.
func tokenCheckingAPI(valid string, calls *atomic.Int32) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("access_token") != valid {
			io.WriteString(w, `{"errcode":40001,"errmsg":"invalid credential, access_token is invalid or not latest"}`) //nolint:errcheck
			return
		}
		io.WriteString(w, `{"ticket":"tk","expire_seconds":60,"url":"http://weixin.qq.com/q/x"}`) //nolint:errcheck
	})
}

func TestTokenErrorRetriesOnce(t *testing.T) {
	req := &CreateQRCodeRequest{ActionName: QRScene, SceneID: 1}
	tests := []struct {
		name            string
		tokens          []string
		valid           string
		wantErr         error
		wantCalls       int32
		wantInvalidated []string
	}{
		{"first token valid", []string{"good"}, "good", nil, 1, nil},
		{"stale token replaced", []string{"stale", "good"}, "good", nil, 2, []string{"stale"}},
		{"fresh token rejected too", []string{"stale", "also-bad", "good"}, "good", ErrToken, 2, []string{"stale"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			tokens := &fakeTokens{tokens: tt.tokens}
			c := newTestClient(t, tokenCheckingAPI(tt.valid, &calls), nil, tokens)
			ticket, err := c.CreateQRCode(t.Context(), req)
			if !errors.Is(err, tt.wantErr) || (err == nil) == (ticket == nil) {
				t.Errorf("CreateQRCode = %v, %v; want error %v", ticket, err, tt.wantErr)
			}
			if n := calls.Load(); n != tt.wantCalls {
				t.Errorf("%d calls, want %d", n, tt.wantCalls)
			}
			if got := tokens.Invalidated(); strings.Join(got, ",") != strings.Join(tt.wantInvalidated, ",") {
				t.Errorf("invalidated %q, want %q", got, tt.wantInvalidated)
			}
		})
	}
}

func TestTokenSourceErrorIsReturned(t *testing.T) {
	var calls atomic.Int32
	tokErr := &APIError{Op: opStableToken, Code: 40125, Msg: "invalid appsecret"}
	c := newTestClient(t, tokenCheckingAPI("good", &calls), nil, &fakeTokens{err: tokErr})
	_, err := c.CreateQRCode(t.Context(), &CreateQRCodeRequest{ActionName: QRScene, SceneID: 1})
	if !errors.Is(err, ErrAccount) || !strings.Contains(err.Error(), "qrcode/create") {
		t.Errorf("error = %v, want ErrAccount naming qrcode/create", err)
	}
	if calls.Load() != 0 {
		t.Errorf("the API was called without a token")
	}
}

func TestCallsHonourContext(t *testing.T) {
	hang := hangingHandler(t)
	c := newTestClient(t, hang, hang, nil)
	tests := []struct {
		name string
		call func(context.Context) error
	}{
		{"qrcode/create", func(ctx context.Context) error {
			_, err := c.CreateQRCode(ctx, &CreateQRCodeRequest{ActionName: QRScene, SceneID: 1})
			return err
		}},
		{"showqrcode", func(ctx context.Context) error { _, err := c.ShowQRCode(ctx, "t"); return err }},
		{"getwxacodeunlimit", func(ctx context.Context) error {
			_, err := c.GetWxaCodeUnlimited(ctx, &GetWxaCodeUnlimitedRequest{Scene: "s"})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
			defer cancel()
			err := tt.call(ctx)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("error = %v, want context.DeadlineExceeded", err)
			}
			// The caller's own deadline is its decision, not WeChat's state.
			if ClassOf(err) != ClassUnknown {
				t.Errorf("ClassOf = %v, want %v", ClassOf(err), ClassUnknown)
			}
		})
	}
}

func TestHTTPClientTimeoutIsTransient(t *testing.T) {
	hang := hangingHandler(t)
	c := newTestClient(t, hang, nil, nil, func(cfg *Config) {
		cfg.HTTPClient = &http.Client{Timeout: 50 * time.Millisecond}
	})
	_, err := c.GetWxaCode(t.Context(), &GetWxaCodeRequest{Path: "p"})
	if !errors.Is(err, ErrTransient) {
		t.Errorf("error = %v, want ErrTransient", err)
	}
}

// hangingHandler returns a handler that answers nothing until the client
// goes away or the test ends.
func hangingHandler(t *testing.T) http.Handler {
	t.Helper()
	release := make(chan struct{})
	// Registered before the server's Close, so it runs after it: Close waits
	// for handlers, which must not be blocked by then; the client going away
	// releases them first.
	t.Cleanup(func() { close(release) })
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The server notices a client going away only once the body is read.
		io.Copy(io.Discard, r.Body) //nolint:errcheck
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
}

func TestCreateQRCodeResponses(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		body      string
		wantClass Class
	}{
		{"ok", 200, `{"ticket":"t","expire_seconds":60,"url":"http://weixin.qq.com/q/x"}`, ClassNone},
		{"errcode", 200, `{"errcode":45009,"errmsg":"reach max api daily quota limit"}`, ClassDailyQuota},
		{"unknown errcode", 200, `{"errcode":99999,"errmsg":"something new"}`, ClassUnknown},
		{"no ticket", 200, `{"errcode":0,"errmsg":"ok"}`, ClassUnknown},
		{"truncated", 200, `{"ticket":"t","expire_sec`, ClassTransient},
		{"empty", 200, ``, ClassTransient},
		{"not JSON", 200, `<html>hello</html>`, ClassUnknown},
		{"HTTP 502", 502, `<html>bad gateway</html>`, ClassTransient},
		{"HTTP 403", 403, `forbidden`, ClassUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestClient(t, serve(tt.status, "application/json", []byte(tt.body)), nil, nil)
			ticket, err := c.CreateQRCode(t.Context(), &CreateQRCodeRequest{ActionName: QRScene, SceneID: 1})
			if got := ClassOf(err); got != tt.wantClass {
				t.Errorf("ClassOf(%v) = %v, want %v", err, got, tt.wantClass)
			}
			if (err == nil) == (ticket == nil) {
				t.Errorf("CreateQRCode = %v, %v: want exactly one of a ticket and an error", ticket, err)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "wechat: qrcode/create: ") {
				t.Errorf("error %q does not name the op", err)
			}
		})
	}
}

func TestRequestBodyIsJSON(t *testing.T) {
	// WeChat answers 47001 to anything but a JSON body.
	var got recorded
	c := newTestClient(t, recordingAPI(t, &got, "application/json", []byte(`{"ticket":"t","url":"u"}`)), nil, nil)
	if _, err := c.CreateQRCode(t.Context(), &CreateQRCodeRequest{ActionName: QRStrScene, SceneStr: "ü\"x"}); err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(got.body), &v); err != nil {
		t.Errorf("body %q is not JSON: %v", got.body, err)
	}
}
