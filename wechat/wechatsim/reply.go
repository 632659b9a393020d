package wechatsim

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
)

// The errcodes the simulator answers with.
const (
	errSystemBusy     = -1
	errInvalidToken   = 40001 // unknown, superseded or invalidated
	errGrantType      = 40002
	errBadAppID       = 40013
	errMalformedToken = 40014
	errActionName     = 40052
	errActionInfo     = 40053
	errInvalidArgs    = 40097
	errBadSecret      = 40125
	errSceneChars     = 40129
	errPathLength     = 40159
	errSceneLength    = 40169
	errNoToken        = 41001
	errNoAppID        = 41002
	errNoSecret       = 41004
	errPage           = 41030
	errTokenExpired   = 42001
	errRequireGET     = 43001
	errRequirePOST    = 43002
	errDailyQuota     = 45009
	errRateLimit      = 45011
	errTotalQuota     = 45029
	errDataFormat     = 47001
	errUnauthorized   = 48001
	errScancodeTime   = 85096
	notFound          = http.StatusNotFound // showqrcode's only error
)

// errmsgs are WeChat's messages for its errcodes.
var errmsgs = map[int]string{
	errSystemBusy:     "system error",
	errInvalidToken:   "invalid credential, access_token is invalid or not latest",
	errGrantType:      "invalid grant_type",
	errBadAppID:       "invalid appid",
	errMalformedToken: "invalid access_token",
	errActionName:     "invalid action name",
	errActionInfo:     "invalid action info, please check document",
	errInvalidArgs:    "invalid args",
	errBadSecret:      "invalid appsecret",
	errSceneChars:     "invalid scene",
	errPathLength:     "invalid length for path, or the data is not json string",
	errSceneLength:    "invalid length for scene, or the data is not json string",
	errNoToken:        "access_token missing",
	errNoAppID:        "appid missing",
	errNoSecret:       "appsecret missing",
	errPage:           "invalid page",
	errTokenExpired:   "access_token expired",
	errRequireGET:     "require GET method",
	errRequirePOST:    "require POST method",
	errDailyQuota:     "reach max api daily quota limit",
	errRateLimit:      "api minute-quota reach limit  mustslower  retry next minute",
	errTotalQuota:     "qrcode count out of limit",
	errDataFormat:     "data format error",
	errUnauthorized:   "api unauthorized",
	errScancodeTime:   "not allow include scancode_time field",
	40164:             "invalid ip, not in whitelist",
}

// errmsg returns WeChat's message for code, ending like WeChat's with a
// request id that differs on every call.
func errmsg(code int) string {
	msg, ok := errmsgs[code]
	if !ok {
		msg = "simulated error"
	}
	return fmt.Sprintf("%s rid: %08x-%08x-%08x", msg, rand.Uint32(), rand.Uint32(), rand.Uint32())
}

// jsonContentType is what WeChat sends with every JSON body, parameters and
// all: clients must parse it, not compare it.
const jsonContentType = "application/json; encoding=utf-8"

// reply is a response before it is written, so that faults can cut it.
type reply struct {
	status      int // default 200
	contentType string
	header      map[string]string
	body        []byte
	errcode     int          // what CallsByErrcode counts it as
	made        *CodeRequest // the code the call made, if it made one
}

// errReply is WeChat's JSON error answer.
func errReply(code int) reply {
	body, _ := json.Marshal(struct {
		Errcode int    `json:"errcode"`
		Errmsg  string `json:"errmsg"`
	}{code, errmsg(code)})
	return reply{contentType: jsonContentType, body: body, errcode: code}
}

// jsonReply is a successful JSON answer.
func jsonReply(v any) reply {
	body, err := json.Marshal(v)
	if err != nil {
		return errReply(errSystemBusy)
	}
	return reply{contentType: jsonContentType, body: body}
}

func (rep reply) writeHeader(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", rep.contentType)
	h.Set("Content-Length", strconv.Itoa(len(rep.body)))
	for k, v := range rep.header {
		h.Set(k, v)
	}
	status := rep.status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
}

func (rep reply) write(w http.ResponseWriter) {
	rep.writeHeader(w)
	w.Write(rep.body) //nolint:errcheck // the client hung up: nothing to do
}

// maxBody bounds request bodies; WeChat's are a few hundred bytes.
const maxBody = 1 << 20

// readJSON decodes the request body into v. It reports false when the body
// is not JSON or does not fit v's fields: WeChat's 47001.
func readJSON(r *http.Request, v any) bool {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		return false
	}
	return json.Unmarshal(body, v) == nil
}
