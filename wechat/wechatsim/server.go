package wechatsim

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

// API names, as used by InjectFault, Calls, CallsByErrcode, Usage and the
// maps in Limits: short names of WeChat's endpoints, whose paths are in
// apiPaths.
const (
	APIToken               = "cgi-bin/token"
	APIStableToken         = "cgi-bin/stable_token"
	APICreateQRCode        = "qrcode/create"
	APIShowQRCode          = "showqrcode"
	APICreateWxaQRCode     = "wxaapp/createwxaqrcode"
	APIGetWxaCode          = "wxa/getwxacode"
	APIGetWxaCodeUnlimited = "wxa/getwxacodeunlimit"
	// APIQuotaGet is openapi/quota/get, which reports an app's daily quota
	// of one API.
	APIQuotaGet = "openapi/quota/get"
)

// Config configures a Server.
type Config struct {
	// Apps are the accounts that exist, by appid. More can be added with
	// AddApp. Default: none.
	Apps map[string]App
	// TokenTTL is the lifetime of an access token, and so its expires_in.
	// Default: 7200 s, WeChat's.
	TokenTTL time.Duration
	// TokenGrace is how long a cgi-bin/token token keeps working after its
	// successor is issued, and how long before expiry stable_token renews its
	// token (then at most half of TokenTTL, so that short test TTLs behave).
	// Default: 5 min. Negative: no grace, no overlap.
	TokenGrace time.Duration
	// Now is the clock for token and ticket expiry, limit windows and day
	// boundaries. Default: time.Now. Fault latency uses real time.
	Now func() time.Time
	// Limits are the limits of every app; zero fields take WeChat's values
	// (see Limits). SetLimits overrides them per app.
	Limits Limits
	// FaultSeed seeds the draws of SetFaultRates. Default: 0, itself a
	// fixed seed.
	FaultSeed uint64
}

const (
	defaultTokenTTL   = 7200 * time.Second
	defaultTokenGrace = 5 * time.Minute
)

// Server is a running simulator. Its methods are safe for concurrent use.
type Server struct {
	ttl, grace time.Duration
	now        func() time.Time
	base       Limits // Config.Limits over WeChat's
	handler    http.Handler
	pushes     *http.Client // PushScan's, its own so that Close can end its connections

	closing   chan struct{} // closed by Close: ends injected latency
	closeOnce sync.Once
	http      *httptest.Server // nil unless started by NewServer
	url       string

	mu        sync.Mutex
	apps      map[string]*appState
	limits    map[string]Limits // per-app overrides, already over base
	tokens    map[string]*token
	tickets   map[string]*oaCode
	ticketSeq uint64 // codes made so far, which numbers them
	sweep     int    // temporary codes made since the last sweep of expired ones
	faultSeed uint64
	faults    map[string][]Fault
	dice      map[string]*faultDice // by API, from SetFaultRates
	faulted   map[apiFault]int
	calls     map[string]int
	byCode    map[apiCode]int
	made      map[CodeRequest]int
	cutShort  map[CodeRequest]int // the part of made whose answer was truncated
}

// New returns a Server that is not listening: serve its Handler yourself.
// URL returns "" for it. It fails on an invalid Config.
func New(cfg Config) (*Server, error) {
	if cfg.TokenTTL < 0 {
		return nil, fmt.Errorf("wechatsim: negative TokenTTL %v", cfg.TokenTTL)
	}
	s := &Server{
		ttl:       cfg.TokenTTL,
		grace:     cfg.TokenGrace,
		now:       cfg.Now,
		base:      cfg.Limits.over(wechatLimits()),
		closing:   make(chan struct{}),
		apps:      map[string]*appState{},
		limits:    map[string]Limits{},
		tokens:    map[string]*token{},
		tickets:   map[string]*oaCode{},
		faultSeed: cfg.FaultSeed,
		faults:    map[string][]Fault{},
		dice:      map[string]*faultDice{},
		faulted:   map[apiFault]int{},
		calls:     map[string]int{},
		byCode:    map[apiCode]int{},
		made:      map[CodeRequest]int{},
		cutShort:  map[CodeRequest]int{},
	}
	if s.ttl == 0 {
		s.ttl = defaultTokenTTL
	}
	switch {
	case s.grace == 0:
		s.grace = defaultTokenGrace
	case s.grace < 0:
		s.grace = 0
	}
	if s.now == nil {
		s.now = time.Now
	}
	for id, app := range cfg.Apps {
		if err := app.validate(id); err != nil {
			return nil, fmt.Errorf("wechatsim: %w", err)
		}
		s.apps[id] = newAppState(id, app)
	}
	s.handler = s.routes()
	s.pushes = newPushClient()
	return s, nil
}

// NewServer starts a Server listening on 127.0.0.1 at a free port, like
// httptest.NewServer. It panics if cfg is invalid or it cannot listen.
func NewServer(cfg Config) *Server {
	s, err := New(cfg)
	if err != nil {
		panic(err)
	}
	// httptest's server listens on loopback and, on Close, drops idle
	// connections at once and waits only for requests in flight.
	s.http = httptest.NewServer(s.handler)
	s.url = s.http.URL
	return s
}

// Handler returns the HTTP handler that serves every simulated endpoint
// under the paths WeChat uses (/cgi-bin/..., /wxa/...).
func (s *Server) Handler() http.Handler { return s.handler }

// URL is the base URL of a Server started by NewServer, serving both the API
// host's paths and /cgi-bin/showqrcode: use it as both base URLs.
func (s *Server) URL() string { return s.url }

// Close ends injected latencies, closes PushScan's idle connections and,
// for a Server from NewServer, stops it, waiting for the requests in
// flight. It may be called more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.pushes.CloseIdleConnections()
		if s.http == nil {
			return
		}
		s.http.Close()
	})
}
