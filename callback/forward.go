package callback

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wxqr/wxqr/wechat/push"
)

// maxReplyBytes caps an upstream's reply. WeChat's passive replies (a text,
// a few articles) are well under it; a longer one is not relayed cut short
// but answered success for.
const maxReplyBytes = push.MaxBodyBytes

// errReplyTooLarge: the upstream's reply is over maxReplyBytes.
var errReplyTooLarge = errors.New("callback: upstream reply over the cap")

// forwardedHeaders are the request headers passed on as received; the
// others describe the hop to wxqr, not the push.
var forwardedHeaders = []string{"Content-Type", "User-Agent", "Accept"}

// upstreamReply is what the upstream answered.
type upstreamReply struct {
	status      int
	contentType string // "" when it sent none
	body        []byte
}

// forward passes the push on to the app's upstream and relays its answer;
// when the upstream fails, or has not answered by ctx's deadline, it
// answers success for it, so that WeChat gets its answer in time. It
// returns the status answered.
func (h *Handler) forward(ctx context.Context, w http.ResponseWriter, r *http.Request, a *app, body []byte, received time.Time) int {
	reply, err := h.callUpstream(ctx, r, a.forward, body)
	if err != nil {
		// Neither the error's text (its URL holds the push's query, openid
		// included) nor the URL (it may hold credentials) is logged.
		h.log.Warn().Str("app_id", a.ID).Str("error_class", errorClass(err)).Dur("duration", time.Since(received)).
			Msg("forward failed: answered success for the upstream")
		writeText(w, http.StatusOK, success)
		return http.StatusOK
	}
	if reply.contentType == "" {
		w.Header()["Content-Type"] = nil // relayed as it came: without one, and not sniffed
	} else {
		w.Header().Set("Content-Type", reply.contentType)
	}
	w.WriteHeader(reply.status)
	w.Write(reply.body) //nolint:errcheck // WeChat hung up: nothing to do
	return reply.status
}

// callUpstream sends the push to upstream: r's method, upstream's URL with
// r's query string added as received (the upstream checks the same
// signature), the headers that matter and the body as read.
func (h *Handler) callUpstream(ctx context.Context, r *http.Request, upstream *url.URL, body []byte) (*upstreamReply, error) {
	target := *upstream
	target.RawQuery = joinQuery(upstream.RawQuery, r.URL.RawQuery)
	req, err := http.NewRequestWithContext(ctx, r.Method, target.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for _, name := range forwardedHeaders {
		if v := r.Header.Values(name); len(v) > 0 {
			req.Header[name] = v
		}
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "") // not Go's: the push came without one
	}
	xff := r.Header.Values("X-Forwarded-For")
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		xff = append(xff, host)
	}
	if len(xff) > 0 {
		req.Header.Set("X-Forwarded-For", strings.Join(xff, ", "))
	}

	resp, err := h.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxReplyBytes {
		return nil, errReplyTooLarge
	}
	return &upstreamReply{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), body: data}, nil
}

// joinQuery adds the raw query received to the forward URL's own.
func joinQuery(own, received string) string {
	switch {
	case own == "":
		return received
	case received == "":
		return own
	}
	return own + "&" + received
}

// errorClass names what went wrong with an upstream, for a log line that
// cannot show the error itself.
func errorClass(err error) string {
	switch {
	case errors.Is(err, errReplyTooLarge):
		return "reply_too_large"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled" // WeChat hung up
	}
	if netErr, ok := errors.AsType[net.Error](err); ok && netErr.Timeout() {
		return "timeout"
	}
	if _, ok := errors.AsType[*net.DNSError](err); ok {
		return "unreachable"
	}
	if opErr, ok := errors.AsType[*net.OpError](err); ok && opErr.Op == "dial" {
		return "unreachable"
	}
	return "error"
}
