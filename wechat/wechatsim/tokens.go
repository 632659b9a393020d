package wechatsim

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"time"
)

// token is an issued access token.
type token struct {
	value   string
	appID   string
	expires time.Time // natural end: 42001 from then on
	end     time.Time // end of validity, <= expires: 40001 between end and expires
}

func (t *token) alive(now time.Time) bool { return now.Before(t.end) }

// endBy makes t die at the latest at at.
func (t *token) endBy(at time.Time) {
	if t.end.After(at) {
		t.end = at
	}
}

// expiresIn is the truthful expires_in of t: whole seconds left, at least 1.
func (t *token) expiresIn(now time.Time) int {
	return max(int(t.end.Sub(now)/time.Second), 1)
}

// Force refresh limits of stable_token.
const (
	forceRefreshPerDay = 20
	forceRefreshGap    = 30 * time.Second
)

// newTokenValue returns a token shaped like WeChat's: a number, an
// underscore and 128 base64url characters.
func newTokenValue() string {
	b := make([]byte, 96)
	rand.Read(b)
	return "93_" + base64.RawURLEncoding.EncodeToString(b)
}

// wellFormedToken reports whether v could be a token at all; the others get
// 40014 rather than 40001.
func wellFormedToken(v string) bool {
	if len(v) < 32 || len(v) > 512 {
		return false
	}
	for _, c := range []byte(v) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// issueLocked makes a new token for the app.
func (s *Server) issueLocked(st *appState, now time.Time) *token {
	t := &token{value: newTokenValue(), appID: st.appID, expires: now.Add(s.ttl)}
	t.end = t.expires
	s.tokens[t.value] = t
	st.issued++
	return t
}

// alive returns the tokens of ts still alive at now.
func alive(ts []*token, now time.Time) []*token {
	out := ts[:0]
	for _, t := range ts {
		if t.alive(now) {
			out = append(out, t)
		}
	}
	return out
}

// credentialsLocked checks a token request's credentials, returning the app
// or the errcode that refuses it.
func (s *Server) credentialsLocked(grantType, appID, secret string) (*appState, int) {
	switch {
	case grantType != "client_credential":
		return nil, errGrantType
	case appID == "":
		return nil, errNoAppID
	}
	st, ok := s.apps[appID]
	switch {
	case !ok:
		return nil, errBadAppID
	case secret == "":
		return nil, errNoSecret
	case secret != st.app.Secret:
		return nil, errBadSecret
	}
	return st, 0
}

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int    `json:"expires_in"`
}

// classicToken serves GET cgi-bin/token: every call issues a new token, and
// the app's older ones die TokenGrace later.
func (s *Server) classicToken(r *http.Request) reply {
	q := r.URL.Query()
	appID := q.Get("appid")
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	st, code := s.credentialsLocked(q.Get("grant_type"), appID, q.Get("secret"))
	if code == 0 {
		code = s.admitLocked(st, APIToken, now)
	}
	if code != 0 {
		return errReply(code)
	}
	st.classic = alive(st.classic, now)
	for _, old := range st.classic {
		old.endBy(now.Add(s.grace))
	}
	t := s.issueLocked(st, now)
	st.classic = append(st.classic, t)
	return jsonReply(tokenResponse{t.value, t.expiresIn(now)})
}

// stableToken serves POST cgi-bin/stable_token.
func (s *Server) stableToken(r *http.Request) reply {
	var req struct {
		GrantType    string `json:"grant_type"`
		AppID        string `json:"appid"`
		Secret       string `json:"secret"`
		ForceRefresh bool   `json:"force_refresh"`
	}
	if !readJSON(r, &req) {
		return errReply(errDataFormat)
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	st, code := s.credentialsLocked(req.GrantType, req.AppID, req.Secret)
	if code == 0 {
		code = s.admitLocked(st, APIStableToken, now)
	}
	if code != 0 {
		return errReply(code)
	}
	st.stable = alive(st.stable, now)
	if req.ForceRefresh {
		if code := st.forceRefresh(now); code != 0 {
			return errReply(code)
		}
		for _, old := range st.stable {
			old.endBy(now)
		}
		st.stable = nil
	}
	if n := len(st.stable); n > 0 && st.stable[n-1].end.Sub(now) > s.renewWindow() {
		cur := st.stable[n-1]
		return jsonReply(tokenResponse{cur.value, cur.expiresIn(now)})
	}
	// Renew: the old token keeps its remaining time, overlapping the new one.
	t := s.issueLocked(st, now)
	st.stable = append(st.stable, t)
	return jsonReply(tokenResponse{t.value, t.expiresIn(now)})
}

// forceRefresh counts a force refresh, or returns the errcode refusing it.
func (st *appState) forceRefresh(now time.Time) int {
	if day := quotaDay(now); st.forceDay != day {
		st.forceDay, st.forceCount = day, 0
	}
	switch {
	case !st.lastForce.IsZero() && now.Sub(st.lastForce) < forceRefreshGap:
		return errRateLimit
	case st.forceCount >= forceRefreshPerDay:
		return errDailyQuota
	}
	st.forceCount++
	st.lastForce = now
	return 0
}

// renewWindow is how long before its end stable_token replaces its token:
// TokenGrace, but at most half the TTL so a fresh token is not renewed at
// once.
func (s *Server) renewWindow() time.Duration { return min(s.grace, s.ttl/2) }

// authorizeLocked resolves the access_token of a call of a code-making API
// to its app, checks the app's type may call api, and admits the call against
// the app's limits. It returns the app, or the errcode that refuses the call.
func (s *Server) authorizeLocked(r *http.Request, api string, now time.Time) (*appState, int) {
	st, code := s.tokenAppLocked(r, now)
	if code != 0 {
		return nil, code
	}
	if st.app.Type != callers[api] {
		return nil, errUnauthorized
	}
	if code := s.admitLocked(st, api, now); code != 0 {
		return nil, code
	}
	return st, 0
}

// tokenAppLocked resolves the access_token of a call to its app, or returns
// the errcode that refuses the token.
func (s *Server) tokenAppLocked(r *http.Request, now time.Time) (*appState, int) {
	v := r.URL.Query().Get("access_token")
	if v == "" {
		return nil, errNoToken
	}
	t, ok := s.tokens[v]
	switch {
	case !ok && !wellFormedToken(v):
		return nil, errMalformedToken
	case !ok:
		return nil, errInvalidToken
	case !now.Before(t.expires):
		return nil, errTokenExpired
	case !t.alive(now):
		return nil, errInvalidToken
	}
	return s.apps[t.appID], 0
}
