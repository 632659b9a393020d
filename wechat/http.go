package wechat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// redacted replaces secrets in URLs and messages.
const redacted = "REDACTED"

// secretParams are the query parameters that carry secrets in WeChat URLs:
// the access token on every API call, the appsecret on cgi-bin/token.
var secretParams = []string{"access_token", "secret"}

// requester is the one path every HTTP exchange with WeChat takes (API
// calls, showqrcode, token fetches): it builds the request, sends it, reads
// the body within a size limit and turns transport failures into classified
// errors with every secret removed.
type requester struct {
	hc      *http.Client
	maxBody int64
	// hideQuery redacts the whole query string from errors, for URLs whose
	// secret parameters are not known (an external token URL).
	hideQuery bool
}

// response is a fully read HTTP response. The client never hands an
// *http.Response to callers: it reads, checks and closes it here.
type response struct {
	status int
	header http.Header
	body   []byte
}

// newRequest returns a request for u, with body (if not nil) encoded as JSON.
func newRequest(ctx context.Context, method string, u *url.URL, body any) (*http.Request, error) {
	var r io.Reader
	if body != nil {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		// Scenes and paths are sent as written: "a&b", not "a\u0026b".
		enc.SetEscapeHTML(false)
		if err := enc.Encode(body); err != nil {
			return nil, err
		}
		r = &buf
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), r)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", "wxqr")
	return req, nil
}

// do sends req and reads the whole body, at most maxBody bytes. A transport
// failure, a body cut short and an HTTP 5xx are ErrTransient (unless ctx
// ended: then the error wraps ctx's error and no class). For any other
// status outside 2xx, do returns the response together with an error, so
// that the caller can give the status a meaning (showqrcode's 404).
func (r *requester) do(ctx context.Context, op string, req *http.Request) (*response, error) {
	resp, err := r.hc.Do(req)
	if err != nil {
		return nil, r.transportError(ctx, op, "request failed", err)
	}
	defer resp.Body.Close()
	body, err := readBody(resp, r.maxBody)
	if err != nil {
		return nil, r.transportError(ctx, op, fmt.Sprintf("reading body (HTTP %d, %d bytes read)", resp.StatusCode, len(body)), err)
	}
	if int64(len(body)) > r.maxBody {
		return nil, &failure{op: op, msg: fmt.Sprintf("response body exceeds %d bytes", r.maxBody)}
	}
	rsp := &response{status: resp.StatusCode, header: resp.Header, body: body}
	return rsp, checkResponse(op, rsp)
}

// readBody reads the body of resp, at most max+1 bytes (the one more says
// it is too long). A body whose length the response announces is read into a
// buffer of that length: an image is tens of KB, which io.ReadAll reaches
// through a dozen grown copies. A body cut short fails as io.ReadAll's does,
// with the transport's error and what was read.
func readBody(resp *http.Response, max int64) ([]byte, error) {
	n := resp.ContentLength
	if n < 0 || n > max {
		return io.ReadAll(io.LimitReader(resp.Body, max+1))
	}
	body := make([]byte, n)
	read, err := io.ReadFull(resp.Body, body)
	return body[:read], err
}

// checkResponse returns nil for a 2xx status, ErrTransient for 5xx and an
// unclassified error for anything else.
func checkResponse(op string, r *response) error {
	switch {
	case r.status >= 200 && r.status <= 299:
		return nil
	case r.status >= 500:
		return &failure{op: op, class: ErrTransient, msg: fmt.Sprintf("HTTP %d %s", r.status, http.StatusText(r.status))}
	default:
		return &failure{op: op, msg: fmt.Sprintf("unexpected HTTP %d %s", r.status, http.StatusText(r.status))}
	}
}

// transportError classifies a failure to send a request or read its
// response: transient, unless the caller's ctx ended, which is the caller's
// decision and not WeChat's condition.
func (r *requester) transportError(ctx context.Context, op, msg string, err error) error {
	err = r.sanitize(err)
	if ctx.Err() != nil {
		return &failure{op: op, msg: msg, err: err, notSent: neverConnected(err)}
	}
	return &failure{op: op, class: ErrTransient, msg: msg, err: err, notSent: neverConnected(err)}
}

// neverConnected reports whether err is a failure to open the connection
// (the name did not resolve, the dial was refused or timed out), after
// which not a byte of the request was sent.
func neverConnected(err error) bool {
	var opErr *net.OpError
	var dnsErr *net.DNSError
	return errors.As(err, &opErr) && opErr.Op == "dial" || errors.As(err, &dnsErr)
}

// sanitize removes secrets from the URL that net/http puts in a *url.Error
// ("Post "https://...?access_token=...": dial tcp ..."), like go-github's
// sanitizeURL does. net/http returns the *url.Error itself, never wrapped.
func (r *requester) sanitize(err error) error {
	ue, ok := err.(*url.Error) //nolint:errorlint // see above
	if !ok {
		return err
	}
	return &url.Error{Op: ue.Op, URL: sanitizeURL(ue.URL, r.hideQuery), Err: ue.Err}
}

// sanitizeURL returns raw with the values of secretParams (or of every
// parameter, if hideQuery) and any password replaced by REDACTED.
func sanitizeURL(raw string, hideQuery bool) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "[unparsable URL]"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), redacted)
	}
	q := u.Query()
	changed := false
	for name := range q {
		if hideQuery || isSecretParam(name) {
			q.Set(name, redacted)
			changed = true
		}
	}
	if changed {
		u.RawQuery = q.Encode()
	}
	return u.String()
}

func isSecretParam(name string) bool {
	for _, p := range secretParams {
		if strings.EqualFold(name, p) {
			return true
		}
	}
	return false
}

// scrub replaces secrets in the message of an *APIError within err. WeChat
// does not echo tokens or secrets in errmsg, but a proxy in front of it
// might, and the error string must never carry them.
func scrub(err error, secrets ...string) error {
	var ae *APIError
	if errors.As(err, &ae) {
		ae.Msg = redact(ae.Msg, secrets...)
	}
	return err
}

func redact(s string, secrets ...string) string {
	for _, secret := range secrets {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, redacted)
		}
	}
	return s
}

// apiStatus is the {errcode, errmsg} that every WeChat JSON response carries
// (absent or 0 on success).
type apiStatus struct {
	ErrCode int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}

// apiErr returns the status as an *APIError, or nil for errcode 0.
func (s *apiStatus) apiErr(op string) error {
	if s.ErrCode == 0 {
		return nil
	}
	const maxMsg = 512 // errmsg is a sentence and a request id; keep logs bounded
	msg := s.ErrMsg
	if len(msg) > maxMsg {
		msg = msg[:maxMsg] + "..."
	}
	return &APIError{Op: op, Code: s.ErrCode, Msg: msg}
}

// decodeJSON decodes a JSON response body into v and returns the errcode it
// carries as an *APIError. A body cut short is ErrTransient; otherwise
// malformed JSON is an unclassified error.
func decodeJSON(op string, body []byte, v interface{ apiErr(string) error }) error {
	if err := json.Unmarshal(body, v); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) && syn.Offset >= int64(len(body)) {
			return &failure{op: op, class: ErrTransient, msg: fmt.Sprintf("truncated JSON body (%d bytes)", len(body)), err: err}
		}
		return &failure{op: op, msg: "malformed JSON body", err: err}
	}
	return v.apiErr(op)
}
