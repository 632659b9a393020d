// Package callback is the HTTP server WeChat pushes events to: the one wxqr
// server meant to face the internet (behind a TLS proxy), stateless, so that
// any number can run behind a load balancer.
//
// # Routes
//
//	GET  /wechat/{app_id}         WeChat's URL check: echostr when the signature is the app's
//	POST /wechat/{app_id}         a push (plain, compatible or safe mode): subscribe, SCAN and
//	                              unsubscribe are recorded, then answered "success" or, with
//	                              App.Forward, passed on to the account's own server
//	POST /wxa/{app_id}/launch     a Mini Program's report of a launch from a code (JSON)
//	GET  /healthz                 200 while the process runs
//
// # Answers
//
// A push is recorded before it is answered: when the Recorder fails, the
// answer is 503 and WeChat delivers the push again (it tries 3 times, 5 s
// apart). A bad signature is 403 and a message that does not open (not XML,
// bad padding, another app's) 400: neither is recorded nor forwarded. An app
// that is not configured, or has no token, is 404.
//
// An app with an AESKey takes encrypted pushes only (compatible or safe
// mode): a plain push is signed over its query, not its body, so a signed
// query seen once would carry any body; it is refused with 403.
//
// With App.Forward, every push that opens (recorded events, retries
// recorded before, and every other message: text, menu clicks...) is also
// sent to that URL with the query string and body as received, and the
// upstream's status, Content-Type and body are relayed: wxqr can stand in
// front of an account's existing server. The whole answer is due within
// Config.Budget of the push's arrival; an upstream too slow or unreachable
// gets "success" answered for it, and a log line.
//
// Launches are rate-limited per client and per app across the fleet (in
// Redis); over the limit the answer is 429 with Retry-After.
//
// No log line holds a token, a key, an openid or a ticket; events are
// logged by app, type and outcome.
//
// # What it does not do
//
// It does not attribute or count anything (the Recorder does), reply to
// users' messages (the forward upstream does), decrypt or check an
// upstream's reply, reject old timestamps (WeChat's retries carry the
// first delivery's signature; the Recorder deduplicates them), terminate
// TLS, or trust a client address header unless told to
// (Config.ClientIPHeader).
package callback

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/ratelimit"
	"github.com/wxqr/wxqr/scans"
	"github.com/wxqr/wxqr/wechat/push"
)

// Recorder records an event before it is answered (a *scans.Store). An
// error means nothing was recorded: the push is answered 503 so that WeChat
// delivers it again.
type Recorder interface {
	Record(ctx context.Context, ev scans.Event) (scans.Outcome, error)
}

var _ Recorder = (*scans.Store)(nil)

// App is one app the handler serves.
//
// Printing an App (any fmt verb) never shows its token or keys.
type App struct {
	// ID is WeChat's appid: the {app_id} of the routes. Required.
	ID string
	// Type is the account type. Only Mini Programs (wxqr.AppMP) take
	// launches. Required.
	Type wxqr.AppType
	// Token is the token of the account's server configuration at WeChat.
	// Empty (the default): the app takes no push (404).
	Token string
	// AESKey is the EncodingAESKey (43 letters and digits), for safe and
	// compatible modes; set, the app takes encrypted pushes only (see the
	// package doc). Empty (the default): plain pushes only.
	AESKey string
	// PreviousAESKey is the key AESKey replaced, tried after it. Optional;
	// needs AESKey.
	PreviousAESKey string
	// Forward is the http(s) URL of the account's existing server: every
	// push is passed on to it, with the query string as received added to
	// Forward's own, and its answer relayed. Empty (the default): pushes are
	// answered "success". Needs Token.
	Forward string
}

// String describes the app without its token or keys.
func (a App) String() string {
	return fmt.Sprintf("%s (%s, push: %t, aes: %t, forward: %t)", a.ID, a.Type, a.Token != "", a.AESKey != "", a.Forward != "")
}

// Format prints String for every verb, so that none falls back to the
// struct's fields.
func (a App) Format(f fmt.State, _ rune) { io.WriteString(f, a.String()) }

// Config configures a Handler. Every field states its default.
type Config struct {
	// Apps are the apps served. Required: at least one.
	Apps []App

	// Recorder records the events. Required.
	Recorder Recorder

	// Redis keeps the launches' rate limits, shared by every process that
	// shares it. Required when an app is a Mini Program.
	Redis redis.UniversalClient

	// Budget is how long after a push arrives its answer is due: recording
	// and forwarding must end by then, and an upstream that has not
	// answered by then is answered "success" for. Default 4.5 s: WeChat
	// gives up after 5 s, which leaves half a second for the way back.
	Budget time.Duration

	// HTTPClient forwards the pushes. Default: a client that follows no
	// redirect (an upstream's redirect is relayed as its status and body:
	// WeChat follows none, so no Location is passed on); Budget bounds
	// every request whatever the client's own timeout.
	HTTPClient *http.Client

	// ClientIPHeader names a header holding the client's address, set by a
	// proxy in front of the server (X-Real-IP, or X-Forwarded-For whose last
	// address is taken): launches are rate-limited per client address.
	// Only name one that the proxy always sets, since a client can send any
	// header. Default "": the connection's remote address.
	ClientIPHeader string

	// LaunchesPerClient limits the launches one client address (an IPv6
	// address's /64) may report. Default 60 a minute, 20 at once: users
	// behind one carrier NAT share an address.
	LaunchesPerClient ratelimit.Limit

	// LaunchesPerApp limits the launches reported for one app, whoever
	// reports them. Default 500 a second, 500 at once.
	LaunchesPerApp ratelimit.Limit

	// RateLimitPrefix starts the Redis keys of the launch limits. Default
	// "wxqr:rl:launch:".
	RateLimitPrefix string

	// Logger receives a line per push and launch, and the errors. Default:
	// a logger that discards everything.
	Logger zerolog.Logger

	// Now gives a launch's time. Default time.Now.
	Now func() time.Time
}

// Defaults for zero Config fields.
const (
	DefaultBudget          = 4500 * time.Millisecond
	DefaultRateLimitPrefix = "wxqr:rl:launch:"
)

// Default launch limits; see Config.
var (
	DefaultLaunchesPerClient = ratelimit.Limit{Rate: 60, Per: time.Minute, Burst: 20}
	DefaultLaunchesPerApp    = ratelimit.Limit{Rate: 500, Per: time.Second, Burst: 500}
)

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.Budget == 0 {
		c.Budget = DefaultBudget
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if c.LaunchesPerClient == (ratelimit.Limit{}) {
		c.LaunchesPerClient = DefaultLaunchesPerClient
	}
	if c.LaunchesPerApp == (ratelimit.Limit{}) {
		c.LaunchesPerApp = DefaultLaunchesPerApp
	}
	if c.RateLimitPrefix == "" {
		c.RateLimitPrefix = DefaultRateLimitPrefix
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (c Config) validate() error {
	switch {
	case len(c.Apps) == 0:
		return errors.New("callback: no apps")
	case c.Recorder == nil:
		return errors.New("callback: Recorder is required")
	case c.Budget < 0:
		return fmt.Errorf("callback: Budget must be positive, got %s", c.Budget)
	case c.LaunchesPerClient.Rate < 1 || c.LaunchesPerClient.Per <= 0:
		return fmt.Errorf("callback: LaunchesPerClient: want a rate of at least 1 per positive period, got %s", c.LaunchesPerClient)
	case c.LaunchesPerApp.Rate < 1 || c.LaunchesPerApp.Per <= 0:
		return fmt.Errorf("callback: LaunchesPerApp: want a rate of at least 1 per positive period, got %s", c.LaunchesPerApp)
	}
	for _, a := range c.Apps {
		if a.Type == wxqr.AppMP && c.Redis == nil {
			return fmt.Errorf("callback: app %s: Redis is required to rate-limit a Mini Program's launches", a.ID)
		}
	}
	return nil
}

// Handler serves the routes of the package doc. It is safe for concurrent
// use.
type Handler struct {
	cfg     Config
	log     zerolog.Logger
	apps    map[string]*app
	limiter *ratelimit.Limiter // nil without Mini Programs
	mux     *http.ServeMux
}

var _ http.Handler = (*Handler)(nil)

// app is an App ready to serve.
type app struct {
	App
	codec   *push.Codec // nil: no token, no pushes
	forward *url.URL    // nil: none
}

// New checks cfg, applies its defaults and returns the Handler. Its errors
// name the app at fault and quote no token, key or URL.
func New(cfg Config) (*Handler, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	h := &Handler{cfg: cfg, log: cfg.Logger, apps: make(map[string]*app, len(cfg.Apps))}
	for _, a := range cfg.Apps {
		ready, err := newApp(a)
		if err != nil {
			return nil, err
		}
		if _, dup := h.apps[a.ID]; dup {
			return nil, fmt.Errorf("callback: app %s is configured twice", a.ID)
		}
		h.apps[a.ID] = ready
	}
	if cfg.Redis != nil {
		h.limiter = ratelimit.NewLimiter(cfg.Redis, ratelimit.Config{
			KeyPrefix: cfg.RateLimitPrefix,
			Limits:    h.launchLimits,
			MaxWait:   -1, // a client over its limit is told to come back, never held
		})
	}
	h.mux = http.NewServeMux()
	h.mux.HandleFunc("GET /wechat/{app_id}", h.verifyURL)
	h.mux.HandleFunc("POST /wechat/{app_id}", h.push)
	h.mux.HandleFunc("POST /wxa/{app_id}/launch", h.launch)
	h.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { writeText(w, http.StatusOK, "ok\n") })
	return h, nil
}

func newApp(a App) (*app, error) {
	if a.ID == "" {
		return nil, errors.New("callback: an app has no ID")
	}
	if a.Type != wxqr.AppOA && a.Type != wxqr.AppMP {
		return nil, fmt.Errorf("callback: app %s: Type: want %s or %s", a.ID, wxqr.AppOA, wxqr.AppMP)
	}
	ready := &app{App: a}
	if a.Token == "" {
		if a.AESKey != "" || a.PreviousAESKey != "" || a.Forward != "" {
			return nil, fmt.Errorf("callback: app %s: AESKey, PreviousAESKey and Forward need a Token", a.ID)
		}
		return ready, nil
	}
	codec, err := push.New(push.Config{AppID: a.ID, Token: a.Token, AESKey: a.AESKey, PreviousAESKey: a.PreviousAESKey})
	if err != nil {
		// push's errors name the field, never the value.
		return nil, fmt.Errorf("callback: app %s: %w", a.ID, err)
	}
	ready.codec = codec
	if a.Forward != "" {
		u, err := url.Parse(a.Forward)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("callback: app %s: Forward: want an http(s) URL", a.ID)
		}
		ready.forward = u
	}
	return ready, nil
}

// ServeHTTP serves the routes of the package doc.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	h.mux.ServeHTTP(w, r)
}

// writeText answers status with a plain-text body.
func writeText(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	io.WriteString(w, body) //nolint:errcheck // the client hung up: nothing to do
}
