package wechatsim

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// wxaContentBase starts every Mini Program code's content. The .invalid
// domain never resolves, so a simulated code cannot lead anywhere real.
const wxaContentBase = "https://wxasim.invalid/"

// maxReadableWxaContent bounds the readable form of WxaContent, which keeps
// a QR module at 3 pixels or more at the minimum width.
const maxReadableWxaContent = 256

// WxaContent returns the text that the QR code of a simulated Mini Program
// image encodes: the API, the appid and, for getwxacodeunlimit, the page and
// scene (for the others, the path, and scene ""). It is readable, like
// "https://wxasim.invalid/wxa/getwxacode?appid=wx1&path=pages%2Fa", unless
// that would be longer than 256 bytes: then the path and scene are replaced
// by a SHA-256 of them. Different inputs give different contents either way.
func WxaContent(appID, api, pathOrPage, scene string) string {
	q := url.Values{"appid": {appID}}
	if pathOrPage != "" {
		q.Set("path", pathOrPage)
	}
	if scene != "" {
		q.Set("scene", scene)
	}
	if s := wxaContentBase + api + "?" + q.Encode(); len(s) <= maxReadableWxaContent {
		return s
	}
	h := sha256.New()
	for _, f := range []string{pathOrPage, scene} {
		fmt.Fprintf(h, "%d:%s;", len(f), f) // length-prefixed: no two inputs collide
	}
	q = url.Values{"appid": {appID}, "sha256": {hex.EncodeToString(h.Sum(nil))}}
	return wxaContentBase + api + "?" + q.Encode()
}

// wxaRequest holds the fields of all three Mini Program code APIs.
type wxaRequest struct {
	Path       string    `json:"path"`
	Page       string    `json:"page"`
	Scene      string    `json:"scene"`
	Width      int       `json:"width"`
	AutoColor  bool      `json:"auto_color"`
	LineColor  *rgbColor `json:"line_color"`
	IsHyaline  bool      `json:"is_hyaline"`
	EnvVersion string    `json:"env_version"`
	CheckPath  *bool     `json:"check_path"`
}

// rgbColor takes numbers or numeric strings: SDKs send both. A component
// left out is 0.
type rgbColor struct {
	R json.Number `json:"r"`
	G json.Number `json:"g"`
	B json.Number `json:"b"`
}

// rgb returns the colour's components; ok is false if one is not a number
// of 0..255.
func (c *rgbColor) rgb() (rgb [3]uint8, ok bool) {
	for i, n := range []json.Number{c.R, c.G, c.B} {
		if n == "" {
			continue
		}
		v, err := strconv.ParseInt(string(n), 10, 64)
		if err != nil || v < 0 || v > 255 {
			return rgb, false
		}
		rgb[i] = uint8(v)
	}
	return rgb, true
}

func (c *rgbColor) valid() bool {
	_, ok := c.rgb()
	return ok
}

// wxaLook is how a code is drawn and what it opens, WeChat's defaults
// filled in: the part of a getwxacode or getwxacodeunlimit request that
// tells codes with the same path apart.
type wxaLook struct {
	ink        [3]uint8 // the line colour drawn
	autoColor  bool
	hyaline    bool
	envVersion string // release, trial or develop
}

// look returns the look req asks of api; req is valid. createwxaqrcode
// documents no look: its codes are black on white. With auto_color WeChat
// picks the colour from the Mini Program's own and ignores line_color; the
// simulator has no Mini Program to pick from and draws black, which is what
// WeChat draws when it recommends no colour.
func (req *wxaRequest) look(api string) wxaLook {
	if !styledAPIs[api] {
		return wxaLook{envVersion: defaultEnvVersion}
	}
	l := wxaLook{autoColor: req.AutoColor, hyaline: req.IsHyaline, envVersion: cmp.Or(req.EnvVersion, defaultEnvVersion)}
	if req.LineColor != nil && !req.AutoColor {
		l.ink, _ = req.LineColor.rgb()
	}
	return l
}

// sent records in made the look and version fields of req as they were
// sent (check_path only for getwxacodeunlimit, the API that documents it).
func (req *wxaRequest) sent(api string, made *CodeRequest) {
	made.AutoColor, made.IsHyaline, made.EnvVersion = req.AutoColor, req.IsHyaline, req.EnvVersion
	if req.LineColor != nil {
		rgb, _ := req.LineColor.rgb()
		made.LineColor = fmt.Sprintf("#%02x%02x%02x", rgb[0], rgb[1], rgb[2])
	}
	if req.CheckPath != nil && api == checkPathAPI {
		made.CheckPath = strconv.FormatBool(*req.CheckPath)
	}
}

// width is the image width: 430 when unset, else clamped to 280..1280 as
// WeChat does.
func (req *wxaRequest) width() int {
	if req.Width == 0 {
		return defaultWidth
	}
	return min(max(req.Width, minWidth), maxWidth)
}

func (req *wxaRequest) validatePath(maxLen int) int {
	if n := len(req.Path); n == 0 || n > maxLen {
		return errPathLength
	}
	if strings.Contains(req.Path, "scancode_time") {
		return errScancodeTime
	}
	return 0
}

// validateLook checks getwxacode's and getwxacodeunlimit's optional fields.
func (req *wxaRequest) validateLook() int {
	if req.EnvVersion != "" && !slices.Contains(envVersions, req.EnvVersion) {
		return errInvalidArgs
	}
	if req.LineColor != nil && !req.LineColor.valid() {
		return errInvalidArgs
	}
	return 0
}

func (req *wxaRequest) validateUnlimited() int {
	if n := utf8.RuneCountInString(req.Scene); n == 0 || n > maxUnlimitedScene {
		return errSceneLength
	}
	for _, r := range req.Scene {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' ||
			strings.ContainsRune(unlimitedScenePunct, r)) {
			return errSceneChars
		}
	}
	// The page is a published page's path: no leading slash, no query (the
	// parameters go in the scene).
	if strings.HasPrefix(req.Page, "/") || strings.Contains(req.Page, "?") {
		return errPage
	}
	return req.validateLook()
}

// wxaKey identifies a code spending WxaCap: the same API, path, width and
// look again spends nothing. (WeChat counts identical parameters once; a
// code in another colour or version is other parameters.)
type wxaKey struct {
	api, path string
	width     int
	look      wxaLook
}

func (s *Server) createWxaQRCode(r *http.Request) reply {
	return s.wxaCode(r, APICreateWxaQRCode, func(req *wxaRequest) int {
		return req.validatePath(maxWxaQRPathLen)
	})
}

func (s *Server) getWxaCode(r *http.Request) reply {
	return s.wxaCode(r, APIGetWxaCode, func(req *wxaRequest) int {
		if code := req.validatePath(maxWxaCodePathLen); code != 0 {
			return code
		}
		return req.validateLook()
	})
}

func (s *Server) getWxaCodeUnlimited(r *http.Request) reply {
	return s.wxaCode(r, APIGetWxaCodeUnlimited, (*wxaRequest).validateUnlimited)
}

// wxaCode serves one of the Mini Program code APIs: authorise, parse,
// validate, spend the quota, and answer the image.
func (s *Server) wxaCode(r *http.Request, api string, validate func(*wxaRequest) int) reply {
	var req wxaRequest
	parsed := readJSON(r, &req)
	width := req.width()
	now := s.now()

	s.mu.Lock()
	st, code := s.authorizeLocked(r, api, now)
	switch {
	case code != 0:
	case !parsed:
		code = errDataFormat
	default:
		code = validate(&req)
	}
	pathOrPage, scene := req.Path, ""
	if api == APIGetWxaCodeUnlimited {
		pathOrPage, scene = req.Page, req.Scene
	}
	var appID string
	numUsed := -1
	look := req.look(api)
	if code == 0 {
		appID = st.appID
		if api != APIGetWxaCodeUnlimited { // the uncapped one
			key := wxaKey{api, req.Path, width, look}
			if _, ok := st.wxa[key]; !ok {
				if limit := s.limitsLocked(appID).WxaCap; limit >= 0 && len(st.wxa) >= limit {
					code = errTotalQuota
				} else {
					st.wxa[key] = struct{}{}
					st.madeBy(api).Capped++
				}
			}
			numUsed = len(st.wxa)
		}
	}
	s.mu.Unlock()
	if code != 0 {
		return errReply(code)
	}

	img, contentType, err := renderCode(WxaContent(appID, api, pathOrPage, scene), width, look.ink, look.hyaline)
	if err != nil {
		return errReply(errSystemBusy)
	}
	made := &CodeRequest{AppID: appID, API: api, Scene: scene, Path: pathOrPage, Width: width}
	if styledAPIs[api] {
		req.sent(api, made)
	}
	rep := reply{contentType: contentType, body: img, made: made}
	if numUsed >= 0 {
		rep.header = map[string]string{"Num-Used": strconv.Itoa(numUsed)}
	}
	return rep
}
