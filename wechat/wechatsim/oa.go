package wechatsim

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// oaCode is an Official Account QR code, reachable by its ticket.
type oaCode struct {
	ticket  string
	url     string
	expires time.Time // zero for permanent codes
	appID   string
	scene   string // as scan events carry it: the scene_id in decimal, or the scene_str
	seq     uint64 // issue order, for Tickets
}

func (c *oaCode) expired(now time.Time) bool {
	return !c.expires.IsZero() && !now.Before(c.expires)
}

// ticketHeader encodes as "gQ+/": every ticket holds both of base64's
// URL-unsafe characters (and, by its length, padding), so a client that
// escapes tickets wrongly fails every time rather than now and then.
var ticketHeader = []byte{0x81, 0x0f, 0xbf}

// newTicket returns a ticket shaped like WeChat's: standard base64 ending
// in "==" of a blob that carries the code's url (WeChat's do: the url is
// its QR content) and random bytes that make it unique.
func newTicket(url string) string {
	b := append(slices.Clone(ticketHeader), url...)
	n := 8 // random bytes, at least, and so many that the base64 ends in "=="
	for (len(b)+n)%3 != 1 {
		n++
	}
	b = append(b, make([]byte, n)...)
	rand.Read(b[len(b)-n:])
	return base64.StdEncoding.EncodeToString(b)
}

// newCodeURL returns a QR content url shaped like WeChat's.
func newCodeURL() string {
	b := make([]byte, 16)
	rand.Read(b)
	return "http://weixin.qq.com/q/" + base64.RawURLEncoding.EncodeToString(b)
}

type qrCreateRequest struct {
	ExpireSeconds int64  `json:"expire_seconds"`
	ActionName    string `json:"action_name"`
	ActionInfo    struct {
		Scene struct {
			SceneID  int64  `json:"scene_id"`
			SceneStr string `json:"scene_str"`
		} `json:"scene"`
	} `json:"action_info"`
}

// scene validates the request's scene. For a permanent code it returns the
// key that identifies the scene; for a temporary one, "".
func (req *qrCreateRequest) scene() (permKey string, code int) {
	sc := req.ActionInfo.Scene
	validStr := func() bool {
		n := utf8.RuneCountInString(sc.SceneStr)
		return n >= 1 && n <= maxSceneStrLen
	}
	switch req.ActionName {
	case actionTempID:
		if sc.SceneID < 1 || sc.SceneID > maxTempSceneID {
			return "", errActionInfo
		}
		return "", 0
	case actionTempStr:
		if !validStr() {
			return "", errActionInfo
		}
		return "", 0
	case actionPermID:
		if sc.SceneID < 1 || sc.SceneID > maxPermSceneID {
			return "", errActionInfo
		}
		return "id:" + strconv.FormatInt(sc.SceneID, 10), 0
	case actionPermStr:
		if !validStr() {
			return "", errActionInfo
		}
		return "str:" + sc.SceneStr, 0
	}
	return "", errActionName
}

// sceneKey is the request's scene as scan events carry it in EventKey: the
// scene_id in decimal, or the scene_str.
func (req *qrCreateRequest) sceneKey() string {
	switch req.ActionName {
	case actionTempID, actionPermID:
		return strconv.FormatInt(req.ActionInfo.Scene.SceneID, 10)
	}
	return req.ActionInfo.Scene.SceneStr
}

// newCodeLocked returns a new code of the app for req, numbered in issue
// order; expires is zero for a permanent code. The caller holds s.mu.
func (s *Server) newCodeLocked(appID string, req *qrCreateRequest, expires time.Time) *oaCode {
	s.ticketSeq++
	url := newCodeURL()
	c := &oaCode{ticket: newTicket(url), url: url, expires: expires,
		appID: appID, scene: req.sceneKey(), seq: s.ticketSeq}
	s.tickets[c.ticket] = c
	return c
}

type qrCreateResponse struct {
	Ticket        string `json:"ticket"`
	ExpireSeconds int64  `json:"expire_seconds,omitempty"` // absent for permanent codes
	URL           string `json:"url"`
}

// sweepEvery is how many temporary codes are made between sweeps of the
// expired ones, which keeps a long-running simulator's memory bounded.
const sweepEvery = 1024

// createQRCode serves POST cgi-bin/qrcode/create.
func (s *Server) createQRCode(r *http.Request) reply {
	var req qrCreateRequest
	parsed := readJSON(r, &req)
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	st, code := s.authorizeLocked(r, APICreateQRCode, now)
	if code != 0 {
		return errReply(code)
	}
	if !parsed {
		return errReply(errDataFormat)
	}
	permKey, code := req.scene()
	if code != 0 {
		return errReply(code)
	}
	made := CodeRequest{AppID: st.appID, API: APICreateQRCode, Action: req.ActionName,
		SceneID: req.ActionInfo.Scene.SceneID, Scene: req.ActionInfo.Scene.SceneStr}
	if permKey != "" {
		c, ok := st.perm[permKey]
		if !ok {
			if limit := s.limitsLocked(st.appID).PermCap; limit >= 0 && len(st.perm) >= limit {
				return errReply(errTotalQuota)
			}
			c = s.newCodeLocked(st.appID, &req, time.Time{})
			st.perm[permKey] = c
			st.madeBy(APICreateQRCode).Capped++
		}
		rep := jsonReply(qrCreateResponse{Ticket: c.ticket, URL: c.url})
		rep.made = &made
		return rep
	}
	expire := req.ExpireSeconds
	switch {
	case expire <= 0:
		expire = defaultExpireSeconds
	case expire > maxExpireSeconds:
		expire = maxExpireSeconds
	}
	c := s.newCodeLocked(st.appID, &req, now.Add(time.Duration(expire)*time.Second))
	if s.sweep++; s.sweep >= sweepEvery {
		s.sweep = 0
		for t, c := range s.tickets {
			if c.expired(now) {
				delete(s.tickets, t)
			}
		}
	}
	rep := jsonReply(qrCreateResponse{Ticket: c.ticket, ExpireSeconds: expire, URL: c.url})
	rep.made = &made
	return rep
}

// showQRCodeWidth is the pixel width of showqrcode images, as WeChat's.
const showQRCodeWidth = 430

func notFoundReply() reply {
	return reply{
		status:      http.StatusNotFound,
		contentType: "text/html",
		body:        []byte("<html><head><title>404 Not Found</title></head><body><h1>404 Not Found</h1></body></html>"),
		errcode:     notFound,
	}
}

// showQRCode serves GET cgi-bin/showqrcode. The query is decoded once, as
// any server does: a ticket sent unescaped ("+" reads as a space) or escaped
// twice is not found.
func (s *Server) showQRCode(r *http.Request) reply {
	ticket := r.URL.Query().Get("ticket")
	now := s.now()
	s.mu.Lock()
	c, ok := s.tickets[ticket]
	s.mu.Unlock()
	if !ok || c.expired(now) {
		return notFoundReply()
	}
	img, err := renderJPEG(c.url, showQRCodeWidth)
	if err != nil {
		return errReply(errSystemBusy)
	}
	return reply{
		contentType: "image/jpg", // sic: WeChat's
		header:      map[string]string{"Cache-Control": "max-age=604800"},
		body:        img,
	}
}
