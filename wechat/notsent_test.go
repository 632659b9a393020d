package wechat

import (
	"errors"
	"net"
	"net/http"
	"testing"
)

// closedAddr returns a loopback address where nothing listens: a dial to it
// is refused.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// TestErrNotSent checks which failures say that WeChat never heard of the
// call (a budget may be refunded) and which may have reached it.
func TestErrNotSent(t *testing.T) {
	createReq := &CreateQRCodeRequest{ActionName: QRLimitScene, SceneID: 1}
	tests := []struct {
		name        string
		client      func(t *testing.T) *Client
		call        func(t *testing.T, c *Client) error
		wantNotSent bool
		wantClass   error
	}{
		{
			name: "dial refused",
			client: func(t *testing.T) *Client {
				base := "http://" + closedAddr(t)
				return newTestClient(t, nil, nil, nil, func(cfg *Config) {
					cfg.HTTPClient, cfg.APIBaseURL, cfg.MPBaseURL = &http.Client{}, base, base
				})
			},
			wantNotSent: true,
			wantClass:   ErrTransient,
		},
		{
			name: "showqrcode dial refused",
			client: func(t *testing.T) *Client {
				base := "http://" + closedAddr(t)
				return newTestClient(t, nil, nil, nil, func(cfg *Config) {
					cfg.HTTPClient, cfg.APIBaseURL, cfg.MPBaseURL = &http.Client{}, base, base
				})
			},
			call: func(t *testing.T, c *Client) error {
				_, err := c.ShowQRCode(t.Context(), "gQH47joAAAAAAAAAASx")
				return err
			},
			wantNotSent: true,
			wantClass:   ErrTransient,
		},
		{
			name: "access token unavailable",
			client: func(t *testing.T) *Client {
				tokens := &fakeTokens{tokens: []string{"t1"}, err: errors.New("token endpoint unreachable")}
				api := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
					t.Error("the API was called without an access token")
				})
				return newTestClient(t, api, nil, tokens)
			},
			wantNotSent: true,
		},
		{
			name: "HTTP 500",
			client: func(t *testing.T) *Client {
				return newTestClient(t, serve(http.StatusInternalServerError, "text/html", []byte("<html>500</html>")), nil, nil)
			},
			wantClass: ErrTransient,
		},
		{
			// The request was sent; WeChat may have made the code.
			name: "connection dropped before the answer",
			client: func(t *testing.T) *Client {
				api := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
					conn, _, err := http.NewResponseController(w).Hijack()
					if err != nil {
						t.Error(err)
						return
					}
					conn.Close()
				})
				return newTestClient(t, api, nil, nil)
			},
			wantClass: ErrTransient,
		},
		{
			name: "errcode -1",
			client: func(t *testing.T) *Client {
				return newTestClient(t, serve(http.StatusOK, "application/json", []byte(`{"errcode":-1,"errmsg":"system error"}`)), nil, nil)
			},
			wantClass: ErrTransient,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.client(t)
			call := tt.call
			if call == nil {
				call = func(t *testing.T, c *Client) error {
					_, err := c.CreateQRCode(t.Context(), createReq)
					return err
				}
			}
			err := call(t, c)
			if err == nil {
				t.Fatal("the call succeeded, want an error")
			}
			if got := errors.Is(err, ErrNotSent); got != tt.wantNotSent {
				t.Errorf("errors.Is(%v, ErrNotSent) = %v, want %v", err, got, tt.wantNotSent)
			}
			if tt.wantClass != nil && !errors.Is(err, tt.wantClass) {
				t.Errorf("err = %v, want it to match %v", err, tt.wantClass)
			}
		})
	}
}
