package wechatsim

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
)

// notFound is what CallsByErrcode counts showqrcode's only error as.
const notFound = http.StatusNotFound

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
