package wechat

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wxqr/wxqr/internal/testenv"
	"github.com/wxqr/wxqr/wechat/wechatsim"
)

// TestSecretsNeverLeak forces every kind of failure with a known secret and
// token and checks that neither appears in the error nor in the logs, the
// client's own and those of a caller logging the error.
func TestSecretsNeverLeak(t *testing.T) {
	const wrongSecret = "WRONG-secret-0d9c7b6a"
	rdb := testenv.Redis(t)
	logger, logs := captureLogs()
	var tokens []string // every token a client held

	type setup struct {
		sim    *wechatsim.Server
		client *Client
		token  string // the token the client holds, once it has one
	}
	// start returns a client of a fresh simulator whose token source is
	// kind, with secret, already holding a token if warm.
	start := func(t *testing.T, newSource func(TokenConfig) (TokenSource, error), secret string, warm bool) setup {
		t.Helper()
		sim := startSim(t)
		tokens, err := newSource(TokenConfig{AppID: oaApp, Secret: secret, Redis: rdb, APIBaseURL: sim.URL(),
			KeyPrefix: "redact:" + t.Name() + ":", Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		c, err := NewClient(Config{AppID: oaApp, Tokens: tokens, APIBaseURL: sim.URL(), MPBaseURL: sim.URL(), Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		s := setup{sim: sim, client: c}
		if warm {
			if _, err := c.CreateQRCode(t.Context(), &CreateQRCodeRequest{ActionName: QRScene, SceneID: 1}); err != nil {
				t.Fatalf("warm-up call: %v", err)
			}
			if s.token, err = tokens.Token(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		return s
	}
	create := func(t *testing.T, c *Client) error {
		_, err := c.CreateQRCode(t.Context(), &CreateQRCodeRequest{ActionName: QRStrScene, SceneStr: "x", ExpireSeconds: 60})
		return err
	}

	tests := []struct {
		name      string
		source    func(TokenConfig) (TokenSource, error)
		secret    string
		warm      bool
		fail      func(setup) // makes the next call fail
		wantClass Class
		wantText  string // in the error: proof that the secret was there to redact
	}{
		{"API call to a closed server", NewStableTokenSource, oaSecret, true,
			func(s setup) { s.sim.Close() }, ClassTransient, "access_token=REDACTED"},
		{"classic token fetch from a closed server", NewClassicTokenSource, oaSecret, false,
			func(s setup) { s.sim.Close() }, ClassTransient, "secret=REDACTED"},
		{"stable token fetch from a closed server", NewStableTokenSource, oaSecret, false,
			func(s setup) { s.sim.Close() }, ClassTransient, "cgi-bin/stable_token"},
		{"HTTP 500", NewStableTokenSource, oaSecret, true,
			func(s setup) {
				s.sim.InjectFault(wechatsim.APICreateQRCode, wechatsim.Fault{Kind: wechatsim.FaultHTTP500})
			}, ClassTransient, "HTTP 500"},
		{"connection reset", NewClassicTokenSource, oaSecret, true,
			func(s setup) {
				s.sim.InjectFault(wechatsim.APICreateQRCode, wechatsim.Fault{Kind: wechatsim.FaultReset})
			}, ClassTransient, "access_token=REDACTED"},
		{"token rejected twice", NewStableTokenSource, oaSecret, true,
			func(s setup) {
				s.sim.InjectFault(wechatsim.APICreateQRCode, wechatsim.Fault{Kind: wechatsim.FaultErrcode, Code: 40001, Count: 2})
			}, ClassToken, "errcode 40001"},
		{"token invalidated, then the token endpoint fails", NewClassicTokenSource, oaSecret, true,
			func(s setup) {
				s.sim.InvalidateTokens(oaApp)
				s.sim.InjectFault(wechatsim.APIToken, wechatsim.Fault{Kind: wechatsim.FaultHTTP500})
			}, ClassTransient, "cgi-bin/token"},
		{"wrong secret, stable", NewStableTokenSource, wrongSecret, false, func(setup) {}, ClassAccount, "errcode 40125"},
		{"wrong secret, classic", NewClassicTokenSource, wrongSecret, false, func(setup) {}, ClassAccount, "errcode 40125"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, tt.source, tt.secret, tt.warm)
			tt.fail(s)
			err := create(t, s.client)
			if got := ClassOf(err); got != tt.wantClass {
				t.Fatalf("ClassOf(%v) = %v, want %v", err, got, tt.wantClass)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q lacks %q", err, tt.wantText)
			}
			// A caller logs the error, as a worker does.
			logger.Error().Err(err).Str("app_id", oaApp).Msg("generate failed")
			secrets := []string{oaSecret, wrongSecret}
			if s.token != "" {
				secrets = append(secrets, s.token)
				tokens = append(tokens, s.token)
			}
			assertNoSecrets(t, "error", err.Error(), secrets...)
			var ue interface{ Unwrap() []error }
			if errors.As(err, &ue) {
				for _, e := range ue.Unwrap() {
					assertNoSecrets(t, "wrapped error", e.Error(), secrets...)
				}
			}
		})
	}
	assertNoSecrets(t, "logs", logs.String(), append(tokens, oaSecret, wrongSecret)...)
	if !strings.Contains(logs.String(), "generate failed") || !strings.Contains(logs.String(), "access token fetched") {
		t.Errorf("logs lack the expected events; the check above checked nothing:\n%s", logs)
	}
}

// TestEchoedSecretsAreRedacted: a front end that echoes the token or secret
// in errmsg does not get them into errors.
func TestEchoedSecretsAreRedacted(t *testing.T) {
	const token, secret = "TOKEN-echoed-11aa", "SECRET-echoed-22bb"
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"errcode": 40125, "errmsg": "rejected " + r.URL.RawQuery + " " + string(b)}) //nolint:errcheck
	})
	t.Run("token in an API error", func(t *testing.T) {
		c := newTestClient(t, echo, nil, &fakeTokens{tokens: []string{token}})
		_, err := c.GetWxaCode(t.Context(), &GetWxaCodeRequest{Path: "p"})
		if !errors.Is(err, ErrAccount) {
			t.Fatalf("error = %v, want ErrAccount", err)
		}
		assertNoSecrets(t, "error", err.Error(), token)
	})
	t.Run("secret in a token error", func(t *testing.T) {
		srv := httptest.NewServer(echo)
		t.Cleanup(srv.Close)
		rdb := testenv.Redis(t)
		for _, kind := range tokenSourceKinds {
			ts, err := kind.new(TokenConfig{AppID: oaApp, Secret: secret, Redis: rdb, APIBaseURL: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			_, err = ts.Token(t.Context())
			if !errors.Is(err, ErrAccount) {
				t.Fatalf("%s: error = %v, want ErrAccount", kind.name, err)
			}
			assertNoSecrets(t, kind.name+" error", err.Error(), secret)
		}
	})
}

func TestSanitizeURL(t *testing.T) {
	tests := []struct {
		raw       string
		hideQuery bool
		want      string
	}{
		{"https://api.weixin.qq.com/cgi-bin/qrcode/create?access_token=abc", false,
			"https://api.weixin.qq.com/cgi-bin/qrcode/create?access_token=REDACTED"},
		{"https://api.weixin.qq.com/cgi-bin/token?appid=wx1&grant_type=client_credential&secret=s3", false,
			"https://api.weixin.qq.com/cgi-bin/token?appid=wx1&grant_type=client_credential&secret=REDACTED"},
		{"https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket=gQ%2B", false,
			"https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket=gQ%2B"},
		{"https://tokens.internal/token?app=wx1&key=k3y", true, "https://tokens.internal/token?app=REDACTED&key=REDACTED"},
		{"https://user:pa55@tokens.internal/token", false, "https://user:REDACTED@tokens.internal/token"},
		{"://bad", false, "[unparsable URL]"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			if got := sanitizeURL(tt.raw, tt.hideQuery); got != tt.want {
				t.Errorf("sanitizeURL = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLogsAreSnakeCaseJSON(t *testing.T) {
	logger, logs := captureLogs()
	c := newTestClient(t, tokenCheckingAPI("tok-good-8e", new(atomic.Int32)), nil, &fakeTokens{tokens: []string{"tok-stale-9f", "tok-good-8e"}},
		func(cfg *Config) { cfg.Logger = logger })
	if _, err := c.CreateQRCode(t.Context(), &CreateQRCodeRequest{ActionName: QRScene, SceneID: 1}); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	for _, want := range []string{`"app_id":"wxtestapp"`, `"op":"qrcode/create"`, `"errcode":40001`, `"level":"warn"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log %s lacks %s", out, want)
		}
	}
	assertNoSecrets(t, "logs", out, "tok-stale-9f", "tok-good-8e")
}
