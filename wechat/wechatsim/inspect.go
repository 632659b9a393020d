package wechatsim

import (
	"cmp"
	"maps"
	"slices"
	"time"
)

// apiCode and apiFault key the Server's counters of answers and faults.
type apiCode struct {
	api  string
	code int
}

type apiFault struct {
	api  string
	kind FaultKind
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
	// The look and version getwxacode and getwxacodeunlimit were asked for,
	// as sent: each is its zero value when the call left it out (and WeChat
	// drew black lines on white for the release version, checking the page).
	AutoColor bool
	// LineColor is line_color as "#rrggbb" (sent even with AutoColor,
	// which WeChat lets override it).
	LineColor string
	// IsHyaline is a transparent background: the image is a PNG.
	IsHyaline bool
	// EnvVersion is env_version: "release", "trial" or "develop".
	EnvVersion string
	// CheckPath is getwxacodeunlimit's check_path: "true" or "false".
	CheckPath string
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

// IssuedTicket is an Official Account code made by qrcode/create.
type IssuedTicket struct {
	Ticket string
	// Scene is the code's scene as scan events carry it in EventKey: the
	// scene_id in decimal, or the scene_str.
	Scene     string
	Permanent bool
	// ExpiresAt is when a temporary code stops scanning; zero for a
	// permanent one.
	ExpiresAt time.Time
}

// Tickets returns the app's Official Account codes that can still be
// scanned (not expired by the Server's clock), in the order they were made:
// what PushScan may push scans of.
func (s *Server) Tickets(appID string) []IssuedTicket {
	now := s.now()
	s.mu.Lock()
	var codes []*oaCode
	for _, c := range s.tickets {
		if c.appID == appID && !c.expired(now) {
			codes = append(codes, c)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(codes, func(a, b *oaCode) int { return cmp.Compare(a.seq, b.seq) })
	out := make([]IssuedTicket, len(codes))
	for i, c := range codes {
		out[i] = IssuedTicket{Ticket: c.ticket, Scene: c.scene, Permanent: c.expires.IsZero(), ExpiresAt: c.expires}
	}
	return out
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
