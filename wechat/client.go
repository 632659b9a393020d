package wechat

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/rs/zerolog"
)

// Defaults of Config.
const (
	DefaultAPIBaseURL   = "https://api.weixin.qq.com"
	DefaultMPBaseURL    = "https://mp.weixin.qq.com"
	DefaultMaxBodyBytes = 8 << 20 // 8 MiB: a code image is 30-300 KB
	DefaultHTTPTimeout  = 30 * time.Second
)

// Config configures a Client. The zero value of every field but AppID and
// Tokens is replaced by its default.
type Config struct {
	// AppID is the app (Official Account or Mini Program) the client calls
	// for. Required.
	AppID string
	// Tokens supplies the app's access tokens. Required; see
	// NewStableTokenSource.
	Tokens TokenSource
	// HTTPClient sends the requests. Default: an http.Client with a
	// DefaultHTTPTimeout (30 s) timeout.
	HTTPClient *http.Client
	// APIBaseURL is the API host, for every call but showqrcode. Default:
	// DefaultAPIBaseURL (https://api.weixin.qq.com). A path is kept as a
	// prefix, for a proxy.
	APIBaseURL string
	// MPBaseURL is the host of showqrcode. Default: DefaultMPBaseURL
	// (https://mp.weixin.qq.com).
	MPBaseURL string
	// MaxBodyBytes bounds every response body; a larger body is an error.
	// Default: DefaultMaxBodyBytes (8 MiB).
	MaxBodyBytes int64
	// Logger receives the client's few events (a rejected token being
	// replaced). Default: the zero zerolog.Logger, which logs nothing, like
	// zerolog.Nop().
	Logger zerolog.Logger
}

func (c Config) withDefaults() Config {
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	if c.APIBaseURL == "" {
		c.APIBaseURL = DefaultAPIBaseURL
	}
	if c.MPBaseURL == "" {
		c.MPBaseURL = DefaultMPBaseURL
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.AppID == "":
		return errors.New("AppID is required")
	case c.Tokens == nil:
		return errors.New("Tokens is required")
	case c.MaxBodyBytes < 0:
		return fmt.Errorf("MaxBodyBytes must be positive, got %d", c.MaxBodyBytes)
	}
	return nil
}

// Client calls the WeChat APIs that make QR codes, for one app. It is safe
// for concurrent use.
//
// Every method returns either a result or an error, never both and never
// neither: a WeChat errcode is an *APIError, and every error can be
// classified with errors.Is against the Err* sentinels or with ClassOf.
// Errors never contain the access token or the appsecret.
type Client struct {
	appID   string
	tokens  TokenSource
	http    requester
	apiBase *url.URL
	mpBase  *url.URL
	log     zerolog.Logger
}

// NewClient returns a client configured by cfg, with defaults applied. It
// fails if AppID or Tokens is missing or a base URL is not an absolute
// http(s) URL.
func NewClient(cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("wechat: new client: %w", err)
	}
	apiBase, err := parseBaseURL(cfg.APIBaseURL)
	if err != nil {
		return nil, fmt.Errorf("wechat: new client: APIBaseURL: %w", err)
	}
	mpBase, err := parseBaseURL(cfg.MPBaseURL)
	if err != nil {
		return nil, fmt.Errorf("wechat: new client: MPBaseURL: %w", err)
	}
	return &Client{
		appID:   cfg.AppID,
		tokens:  cfg.Tokens,
		http:    requester{hc: cfg.HTTPClient, maxBody: cfg.MaxBodyBytes},
		apiBase: apiBase,
		mpBase:  mpBase,
		log:     cfg.Logger.With().Str("app_id", cfg.AppID).Logger(),
	}, nil
}

// parseBaseURL parses an absolute http(s) URL and gives its path a trailing
// slash, so that endpoint paths resolve under it.
func parseBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an absolute http(s) URL", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%q must not have a query or fragment", raw)
	}
	if len(u.Path) == 0 || u.Path[len(u.Path)-1] != '/' {
		u.Path += "/"
		u.RawPath = ""
	}
	return u, nil
}

// AppID returns the app the client calls for.
func (c *Client) AppID() string { return c.appID }

// callAPI POSTs body as JSON to path on the API host with an access token
// and hands the response to decode. If WeChat rejects the token (ErrToken),
// it invalidates that token, gets a fresh one and sends the call once more;
// whatever the second attempt returns is final.
func (c *Client) callAPI(ctx context.Context, op, path string, body any, decode func(*response) error) error {
	send := func(token string) error {
		u := c.apiBase.ResolveReference(&url.URL{Path: path, RawQuery: url.Values{"access_token": {token}}.Encode()})
		req, err := newRequest(ctx, http.MethodPost, u, body)
		if err != nil {
			return fmt.Errorf("wechat: %s: encode request: %w", op, err)
		}
		rsp, err := c.http.do(ctx, op, req)
		if err == nil {
			err = decode(rsp)
		}
		return scrub(err, token)
	}
	token, err := c.token(ctx, op)
	if err != nil {
		return err
	}
	err = send(token)
	if !errors.Is(err, ErrToken) {
		return err
	}
	ev := c.log.Warn().Str("op", op)
	if ae := (*APIError)(nil); errors.As(err, &ae) {
		ev = ev.Int("errcode", ae.Code)
	}
	ev.Msg("access token rejected; fetching a new one and retrying once")
	if ierr := c.tokens.Invalidate(ctx, token); ierr != nil {
		return fmt.Errorf("%w (and dropping the rejected token failed: %w)", err, ierr)
	}
	if token, err = c.token(ctx, op); err != nil {
		return err
	}
	return send(token)
}

func (c *Client) token(ctx context.Context, op string) (string, error) {
	token, err := c.tokens.Token(ctx)
	if err != nil {
		return "", &failure{op: op, msg: "access token", err: err, notSent: true}
	}
	return token, nil
}

// invalidRequest is a request the client refuses to send because WeChat
// would reject it.
func invalidRequest(op, format string, args ...any) error {
	return &failure{op: op, class: ErrBadRequest, msg: "invalid request: " + fmt.Sprintf(format, args...)}
}
