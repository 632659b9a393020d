package metrics

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wxqr/wxqr/wechat"
)

// staticToken is a token source that never changes.
type staticToken struct{}

func (staticToken) Token(context.Context) (string, error)    { return "test-token", nil }
func (staticToken) Invalidate(context.Context, string) error { return nil }

// TestErrcodeLabel labels the errors the real WeChat client returns, so a
// change in how the client reports failures shows up here.
func TestErrcodeLabel(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The first path segment picks the answer.
		c, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		switch c {
		case "ok":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"ticket":"t","expire_seconds":60,"url":"http://weixin.qq.com/q/x"}`)
		case "errcode":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"errcode":45009,"errmsg":"reach max api daily quota limit"}`)
		case "5xx":
			http.Error(w, "bad gateway", http.StatusBadGateway)
		case "cut":
			// Promise more than is sent: the body ends early.
			w.Header().Set("Content-Length", "1000")
			fmt.Fprint(w, `{"ticket":`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	client := func(t *testing.T, c string, base string) *wechat.Client {
		t.Helper()
		cl, err := wechat.NewClient(wechat.Config{
			AppID: "wx1", Tokens: staticToken{},
			APIBaseURL: base + "/" + c + "/", MPBaseURL: base + "/" + c + "/",
		})
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	create := func(ctx context.Context, cl *wechat.Client) error {
		_, err := cl.CreateQRCode(ctx, &wechat.CreateQRCodeRequest{ActionName: wechat.QRScene, SceneID: 1, ExpireSeconds: 60})
		return err
	}
	canceled, cancel := context.WithCancel(t.Context())
	cancel()

	tests := []struct {
		name string
		call func(t *testing.T) error
		want string
	}{
		{"success", func(t *testing.T) error { return create(t.Context(), client(t, "ok", srv.URL)) }, "0"},
		{"errcode", func(t *testing.T) error { return create(t.Context(), client(t, "errcode", srv.URL)) }, "45009"},
		{"http 5xx", func(t *testing.T) error { return create(t.Context(), client(t, "5xx", srv.URL)) }, "http_5xx"},
		{"body cut short", func(t *testing.T) error { return create(t.Context(), client(t, "cut", srv.URL)) }, "transport"},
		{"connection refused", func(t *testing.T) error { return create(t.Context(), client(t, "ok", closed.URL)) }, "transport"},
		{"caller canceled", func(t *testing.T) error { return create(canceled, client(t, "ok", srv.URL)) }, "canceled"},
		{"unknown ticket", func(t *testing.T) error {
			_, err := client(t, "missing", srv.URL).ShowQRCode(t.Context(), "no-such-ticket")
			return err
		}, "http_404"},
		{"wrapped errcode", func(t *testing.T) error {
			return fmt.Errorf("generate: %w", &wechat.APIError{Op: "qrcode/create", Code: 45029})
		}, "45029"},
		{"anything else", func(t *testing.T) error { return errors.New("disk full") }, "other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(t)
			if got := ErrcodeLabel(err); got != tt.want {
				t.Errorf("ErrcodeLabel(%v) = %q, want %q", err, got, tt.want)
			}
		})
	}
}
