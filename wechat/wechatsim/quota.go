package wechatsim

import (
	"net/http"
	"strings"
	"time"
)

type quotaGetRequest struct {
	CGIPath string `json:"cgi_path"`
}

// quotaDetail is the quota object of openapi/quota/get's answer.
type quotaDetail struct {
	DailyLimit int `json:"daily_limit"`
	Used       int `json:"used"`
	Remain     int `json:"remain"`
}

type quotaGetResponse struct {
	Errcode int         `json:"errcode"`
	Errmsg  string      `json:"errmsg"`
	Quota   quotaDetail `json:"quota"`
}

// quotaGet serves POST cgi-bin/openapi/quota/get: the app's daily quota of
// one code-making API, its calls today and what remains, from the same
// counters and Limits that refuse calls with 45009. It spends no quota of
// its own (see documented.go for what it answers, and what not).
func (s *Server) quotaGet(r *http.Request) reply {
	var req quotaGetRequest
	parsed := readJSON(r, &req)
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	st, code := s.tokenAppLocked(r, now)
	if code != 0 {
		return errReply(code)
	}
	if !parsed {
		return errReply(errDataFormat)
	}
	api, code := quotaAPI(req.CGIPath, st.app.Type)
	if code != 0 {
		return errReply(code)
	}
	limit := max(s.limitsLocked(st.appID).Daily[api], 0)
	used := st.usedToday(api, now)
	return jsonReply(quotaGetResponse{Errmsg: "ok", Quota: quotaDetail{
		DailyLimit: limit, Used: used, Remain: max(limit-used, 0),
	}})
}

// quotaAPI returns the code-making API served at cgiPath, or the errcode
// refusing the path: 76003 unless it is a path from the host's root, 76021
// when no code-making API is served there, 76022 when an account of type
// typ may not call it.
func quotaAPI(cgiPath string, typ AccountType) (string, int) {
	if !strings.HasPrefix(cgiPath, "/") {
		return "", errCGIPathFormat
	}
	for api, caller := range callers {
		if apiPaths[api] != cgiPath {
			continue
		}
		if caller != typ {
			return "", errCGIPathDenied
		}
		return api, 0
	}
	return "", errCGIPathUnknown
}

// usedToday is how many calls of api the app made in the current quota day.
func (st *appState) usedToday(api string, now time.Time) int {
	u, ok := st.usage[api]
	if !ok || u.day != quotaDay(now) {
		return 0
	}
	return u.daily
}
