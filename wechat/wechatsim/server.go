package wechatsim

import (
	"errors"
	"fmt"
	"maps"
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
)

// App is one WeChat account.
type App struct {
	// Secret is the appsecret that the token endpoints check. Required.
	Secret string
	// Type is OfficialAccount (may call qrcode/create) or MiniProgram (may
	// call the Mini Program code APIs); the others answer 48001. Required.
	Type AccountType
}

func (a App) validate(appID string) error {
	if appID == "" {
		return errors.New("empty appid")
	}
	if a.Secret == "" {
		return fmt.Errorf("app %s: empty secret", appID)
	}
	if a.Type != OfficialAccount && a.Type != MiniProgram {
		return fmt.Errorf("app %s: type %q is neither %q nor %q", appID, a.Type, OfficialAccount, MiniProgram)
	}
	return nil
}

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

// Limits are an app's quotas. Zero values take the defaults stated here.
type Limits struct {
	// PermCap is how many distinct permanent OA scenes the app may ever
	// create (45029 beyond). Default: 100,000. Negative: no cap.
	PermCap int
	// WxaCap is how many distinct (API, path, width) codes createwxaqrcode and
	// getwxacode may ever make together (45029 beyond). Default: 100,000.
	// Negative: no cap.
	WxaCap int
	// Daily is the number of calls per API per day (45009 beyond); days start
	// at 00:00 Asia/Shanghai. An API missing from the map takes the default:
	// qrcode/create 100,000, wxa/getwxacode 10,000, others unlimited. A value
	// <= 0 means unlimited.
	Daily map[string]int
	// PerSecond is the number of calls per API per clock second (45011
	// beyond). Missing or <= 0: unlimited, the default for every API.
	PerSecond map[string]int
	// PerMinute is the number of calls per API per clock minute (45011
	// beyond). Missing: the default, 5,000 for wxa/getwxacodeunlimit and
	// unlimited for the others. <= 0: unlimited.
	PerMinute map[string]int
}

// over returns l with its zero fields and missing map keys taken from d.
// The result shares no map with l or d.
func (l Limits) over(d Limits) Limits {
	merge := func(m, dm map[string]int) map[string]int {
		out := maps.Clone(dm)
		if out == nil {
			out = map[string]int{}
		}
		maps.Copy(out, m)
		return out
	}
	out := Limits{PermCap: l.PermCap, WxaCap: l.WxaCap}
	if out.PermCap == 0 {
		out.PermCap = d.PermCap
	}
	if out.WxaCap == 0 {
		out.WxaCap = d.WxaCap
	}
	out.Daily = merge(l.Daily, d.Daily)
	out.PerSecond = merge(l.PerSecond, d.PerSecond)
	out.PerMinute = merge(l.PerMinute, d.PerMinute)
	return out
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

	closing   chan struct{} // closed by Close: ends injected latency
	closeOnce sync.Once
	http      *httptest.Server // nil unless started by NewServer
	url       string

	mu        sync.Mutex
	apps      map[string]*appState
	limits    map[string]Limits // per-app overrides, already over base
	tokens    map[string]*token
	tickets   map[string]*oaCode
	sweep     int // temporary codes made since the last sweep of expired ones
	faultSeed uint64
	faults    map[string][]Fault
	dice      map[string]*faultDice // by API, from SetFaultRates
	faulted   map[apiFault]int
	calls     map[string]int
	byCode    map[apiCode]int
	made      map[CodeRequest]int
	cutShort  map[CodeRequest]int // the part of made whose answer was truncated
}

type apiCode struct {
	api  string
	code int
}

type apiFault struct {
	api  string
	kind FaultKind
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

// Close ends injected latencies and, for a Server from NewServer, stops it,
// waiting for the requests in flight. It may be called more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closing)
		if s.http == nil {
			return
		}
		s.http.Close()
	})
}

// AddApp adds an account, or replaces the secret and type of an existing one
// (its tokens, codes and counters stay). It panics if app is invalid.
func (s *Server) AddApp(appID string, app App) {
	if err := app.validate(appID); err != nil {
		panic(fmt.Sprintf("wechatsim: AddApp: %v", err))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.apps[appID]; ok {
		st.app = app
		return
	}
	s.apps[appID] = newAppState(appID, app)
}

// SetLimits replaces the limits of one app (known yet or not) from the next
// call on. Zero fields and missing map keys take the Server's Config.Limits.
// Counts already made stay: lowering a cap below the codes made refuses
// every new one.
func (s *Server) SetLimits(appID string, l Limits) {
	resolved := l.over(s.base)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limits[appID] = resolved
}

// InvalidateTokens kills every token of the app now, as a password reset
// or a force refresh elsewhere would: calls with them get 40001.
func (s *Server) InvalidateTokens(appID string) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.apps[appID]
	if !ok {
		return
	}
	for _, t := range st.classic {
		t.endBy(now)
	}
	for _, t := range st.stable {
		t.endBy(now)
	}
	st.classic, st.stable = nil, nil
}

// Calls returns how many requests the API received, from every app and
// with any outcome, faults included.
func (s *Server) Calls(api string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[api]
}

// CallsByErrcode returns how many calls of the API were answered with
// errcode code; 0 counts successes. showqrcode answers with HTTP statuses: it
// counts a 404 under 404. Injected HTTP 500s, resets and latency timeouts
// count in Calls only.
func (s *Server) CallsByErrcode(api string, code int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byCode[apiCode{api, code}]
}

// Faults returns how many calls of the API suffered a fault of the kind,
// injected by InjectFault or drawn from SetFaultRates.
func (s *Server) Faults(api string, kind FaultKind) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faulted[apiFault{api, kind}]
}

// CodeRequest is what a code-making call asked for: the fields that tell one
// code from another.
type CodeRequest struct {
	AppID string
	API   string
	// Action is qrcode/create's action_name (QR_SCENE, QR_STR_SCENE,
	// QR_LIMIT_SCENE or QR_LIMIT_STR_SCENE).
	Action  string
	SceneID int64
	// Scene is qrcode/create's scene_str or getwxacodeunlimit's scene.
	Scene string
	// Path is the Mini Program path, or getwxacodeunlimit's page.
	Path string
	// Width is the width of a Mini Program code, as drawn.
	Width int
}

// CodesMade returns how many times each code was made: the calls of the
// code-making APIs that succeeded, by what they asked for. A call whose
// answer was cut short (FaultTruncate) counts: WeChat made the code. The
// map is a copy.
func (s *Server) CodesMade() map[CodeRequest]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.made)
}

// CodesCutShort returns the part of CodesMade whose answer the client never
// read whole (FaultTruncate): calls that a client cannot help making again.
// The map is a copy.
func (s *Server) CodesCutShort() map[CodeRequest]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.cutShort)
}

// Tokens returns every access token issued to the app by either token
// endpoint, alive or not, in no particular order: tests look for them where
// they must never appear (logs, errors, storage).
func (s *Server) Tokens(appID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for v, t := range s.tokens {
		if t.appID == appID {
			out = append(out, v)
		}
	}
	return out
}

// TokensIssued returns how many access tokens the app was given, by both
// token endpoints (a stable_token call that returns the current token
// issues none).
func (s *Server) TokensIssued(appID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.apps[appID]; ok {
		return st.issued
	}
	return 0
}

// Usage is what one app has made with one code-making API.
type Usage struct {
	// Made is how many calls made a code: the successful ones, those whose
	// answer was cut short (FaultTruncate) included. It is the sum of
	// CodesMade over the app and API.
	Made int
	// Temporary is the part of Made that made temporary codes: qrcode/create
	// with QR_SCENE or QR_STR_SCENE.
	Temporary int
	// Capped is how many distinct codes of the API count against a lifetime
	// cap: permanent scenes for qrcode/create (Limits.PermCap), (path, width)
	// pairs for createwxaqrcode and for getwxacode (whose sum is what
	// Limits.WxaCap bounds). 0 for APIs without a cap.
	Capped int
}

// Usage returns what the app has made with the API (one of the
// APICreate.../APIGet... names); the zero Usage for any other.
func (s *Server) Usage(appID, api string) Usage {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.apps[appID]; ok {
		if u, ok := st.made[api]; ok {
			return *u
		}
	}
	return Usage{}
}

// appState is everything the Server keeps about one app.
type appState struct {
	appID   string
	app     App
	classic []*token // cgi-bin/token tokens still alive, oldest first
	stable  []*token // stable tokens still alive, the current one last
	issued  int

	forceDay   string // Shanghai day of forceCount
	forceCount int
	lastForce  time.Time

	usage map[string]*usage // by API: calls in the current limit windows
	made  map[string]*Usage // by API

	perm map[string]*oaCode  // permanent codes by scene key
	wxa  map[wxaKey]struct{} // codes spending WxaCap
}

func newAppState(appID string, app App) *appState {
	return &appState{
		appID: appID,
		app:   app,
		usage: map[string]*usage{},
		made:  map[string]*Usage{},
		perm:  map[string]*oaCode{},
		wxa:   map[wxaKey]struct{}{},
	}
}

// usage counts an app's calls of one API in the current day, second and
// minute.
type usage struct {
	day            string
	second, minute int64
	daily, perSec  int
	perMin         int
}

// shanghai is China Standard Time: UTC+8 all year, so a fixed zone is exact
// and needs no tz database.
var shanghai = time.FixedZone("CST", 8*60*60)

// quotaDay names the quota day t falls in.
func quotaDay(t time.Time) string { return t.In(shanghai).Format(time.DateOnly) }

// limitsLocked returns the limits of the app.
func (s *Server) limitsLocked(appID string) Limits {
	if l, ok := s.limits[appID]; ok {
		return l
	}
	return s.base
}

// admitLocked counts a call of api by the app against its limits, unless a
// limit refuses it: then it returns that errcode and counts nothing.
func (s *Server) admitLocked(st *appState, api string, now time.Time) int {
	l := s.limitsLocked(st.appID)
	u, ok := st.usage[api]
	if !ok {
		u = &usage{}
		st.usage[api] = u
	}
	if day := quotaDay(now); u.day != day {
		u.day, u.daily = day, 0
	}
	if sec := now.Unix(); u.second != sec {
		u.second, u.perSec = sec, 0
	}
	if min := now.Truncate(time.Minute).Unix(); u.minute != min {
		u.minute, u.perMin = min, 0
	}
	if max := l.Daily[api]; max > 0 && u.daily >= max {
		return errDailyQuota
	}
	if max := l.PerSecond[api]; max > 0 && u.perSec >= max {
		return errRateLimit
	}
	if max := l.PerMinute[api]; max > 0 && u.perMin >= max {
		return errRateLimit
	}
	u.daily++
	u.perSec++
	u.perMin++
	return 0
}

// madeBy returns the app's Usage of api, to be updated under s.mu.
func (st *appState) madeBy(api string) *Usage {
	u, ok := st.made[api]
	if !ok {
		u = &Usage{}
		st.made[api] = u
	}
	return u
}
