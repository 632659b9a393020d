package callback_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/callback"
	"github.com/wxqr/wxqr/scans"
	"github.com/wxqr/wxqr/wechat/push"
)

// The forwarding apps: one in safe mode, one plain.
const (
	fwdApp      = "wxfwd"
	fwdPlainApp = "wxfwdplain"
)

// upstreamCall is a request the upstream received.
type upstreamCall struct {
	method, path, rawQuery string
	header                 http.Header
	body                   []byte
}

// forwardingServer serves the test apps and two that forward to an
// upstream answering with reply; edit changes the config further. The
// channel receives every call the upstream gets.
func forwardingServer(t *testing.T, reply http.HandlerFunc, edit func(*callback.Config)) (*testServer, <-chan upstreamCall) {
	t.Helper()
	calls := make(chan upstreamCall, 16)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		calls <- upstreamCall{method: r.Method, path: r.URL.Path, rawQuery: r.URL.RawQuery, header: r.Header.Clone(), body: body}
		reply(w, r)
	}))
	t.Cleanup(upstream.Close)
	ts := newServer(t, func(c *callback.Config) {
		c.Apps = append(c.Apps,
			callback.App{ID: fwdApp, Type: wxqr.AppOA, Token: token, AESKey: aesKey, Forward: upstream.URL + "/wechat/bot?site=s3cr3t-site"},
			callback.App{ID: fwdPlainApp, Type: wxqr.AppOA, Token: token, Forward: upstream.URL + "/bot"},
		)
		if edit != nil {
			edit(c)
		}
	})
	return ts, calls
}

// xmlReply is an upstream answering as a bot does: a passive reply.
func xmlReply(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, "<xml><Content>hello from the bot</Content></xml>")
}

func TestForward(t *testing.T) {
	scan := event("SCAN", "123", ticket)

	t.Run("recorded, then relayed", func(t *testing.T) {
		ts, calls := forwardingServer(t, xmlReply, nil)
		query, body := sealed(t, codec(t, fwdApp, aesKey), safeMode, scan)
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, ts.URL+"/wechat/"+fwdApp+"?"+query, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "text/xml")
		req.Header.Set("User-Agent", "Mozilla/4.0")
		req.Header.Set("Accept", "*/*")
		req.Header.Set("X-Forwarded-For", "203.0.113.9")
		req.Header.Set("Cookie", "not=forwarded")
		status, contentType, answer := do(t, req)
		if status != http.StatusOK || contentType != "application/xml; charset=utf-8" || answer != "<xml><Content>hello from the bot</Content></xml>" {
			t.Errorf("answer = %d %q (%s), want the upstream's", status, answer, contentType)
		}
		if got := ts.rec.recorded(); len(got) != 1 {
			t.Errorf("%d events recorded, want 1", len(got))
		}
		call := <-calls
		if call.method != http.MethodPost || call.path != "/wechat/bot" {
			t.Errorf("upstream got %s %s, want POST /wechat/bot", call.method, call.path)
		}
		if want := "site=s3cr3t-site&" + query; call.rawQuery != want {
			t.Errorf("upstream query = %q, want %q (its own, then the push's as received)", call.rawQuery, want)
		}
		if !bytes.Equal(call.body, body) {
			t.Errorf("upstream body = %q, want the push's %q", call.body, body)
		}
		want := map[string]string{
			"Content-Type": "text/xml", "User-Agent": "Mozilla/4.0", "Accept": "*/*",
			"X-Forwarded-For": "203.0.113.9, 127.0.0.1", "Cookie": "",
		}
		for name, v := range want {
			if got := call.header.Get(name); got != v {
				t.Errorf("upstream header %s = %q, want %q", name, got, v)
			}
		}
		// The upstream checks the same signature: the push it got opens.
		if _, err := codec(t, fwdApp, aesKey).Open(push.QueryFrom(mustQuery(t, call.rawQuery)), call.body); err != nil {
			t.Errorf("the forwarded push does not open: %v", err)
		}
	})

	t.Run("a retry already recorded is forwarded", func(t *testing.T) {
		ts, calls := forwardingServer(t, xmlReply, nil)
		ts.rec.answer(scans.Outcome{Duplicate: true})
		query, body := sealed(t, codec(t, fwdPlainApp, ""), plainMode, scan)
		if status, _, answer := ts.post(t, fwdPlainApp, query, body); status != http.StatusOK || !strings.Contains(answer, "hello from the bot") {
			t.Errorf("answer = %d %q, want the upstream's", status, answer)
		}
		if len(calls) != 1 {
			t.Errorf("upstream got %d calls, want 1", len(calls))
		}
	})

	t.Run("messages not recorded are forwarded", func(t *testing.T) {
		ts, calls := forwardingServer(t, xmlReply, nil)
		text := `<xml><ToUserName>gh_account</ToUserName><FromUserName>` + openID + `</FromUserName><CreateTime>1700000000</CreateTime>` +
			`<MsgType>text</MsgType><Content>hi</Content></xml>`
		query, body := sealed(t, codec(t, fwdPlainApp, ""), plainMode, []byte(text))
		if status, _, answer := ts.post(t, fwdPlainApp, query, body); status != http.StatusOK || !strings.Contains(answer, "hello from the bot") {
			t.Errorf("answer = %d %q, want the upstream's", status, answer)
		}
		if len(calls) != 1 || len(ts.rec.recorded()) != 0 {
			t.Errorf("upstream got %d calls and %d events were recorded, want 1 and 0", len(calls), len(ts.rec.recorded()))
		}
	})

	t.Run("the upstream's failure is relayed as it is", func(t *testing.T) {
		ts, _ := forwardingServer(t, func(w http.ResponseWriter, _ *http.Request) {
			w.Header()["Content-Type"] = nil
			w.WriteHeader(http.StatusBadGateway)
			io.WriteString(w, "upstream down")
		}, nil)
		query, body := sealed(t, codec(t, fwdPlainApp, ""), plainMode, scan)
		status, contentType, answer := ts.post(t, fwdPlainApp, query, body)
		if status != http.StatusBadGateway || contentType != "" || answer != "upstream down" {
			t.Errorf("answer = %d %q (Content-Type %q), want 502 \"upstream down\" without a Content-Type", status, answer, contentType)
		}
	})

	t.Run("refused pushes are not forwarded", func(t *testing.T) {
		ts, calls := forwardingServer(t, xmlReply, nil)
		query, body := sealed(t, codec(t, fwdPlainApp, ""), plainMode, scan)
		badQuery := strings.Replace(query, "nonce=n0nce", "nonce=forged", 1)
		if status, _, _ := ts.post(t, fwdPlainApp, badQuery, body); status != http.StatusForbidden {
			t.Errorf("bad signature: status = %d, want 403", status)
		}
		if status, _, _ := ts.post(t, fwdPlainApp, query, []byte("not xml")); status != http.StatusBadRequest {
			t.Errorf("malformed: status = %d, want 400", status)
		}
		ts.rec.fail.Store(true)
		if status, _, _ := ts.post(t, fwdPlainApp, query, body); status != http.StatusServiceUnavailable {
			t.Errorf("not recorded: status = %d, want 503", status)
		}
		if len(calls) != 0 {
			t.Errorf("upstream got %d calls, want none", len(calls))
		}
	})

	t.Run("URL check answered without the upstream", func(t *testing.T) {
		ts, calls := forwardingServer(t, xmlReply, nil)
		query := "signature=" + push.Signature(token, "1", "2") + "&timestamp=1&nonce=2&echostr=e42"
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, ts.URL+"/wechat/"+fwdApp+"?"+query, nil)
		if err != nil {
			t.Fatal(err)
		}
		if status, _, answer := do(t, req); status != http.StatusOK || answer != "e42" {
			t.Errorf("answer = %d %q, want 200 e42", status, answer)
		}
		if len(calls) != 0 {
			t.Errorf("upstream got %d calls, want none", len(calls))
		}
	})
}

func mustQuery(t *testing.T, raw string) map[string][]string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "/?"+raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req.URL.Query()
}

// TestForwardWithinBudget: whatever the upstream does, WeChat gets its
// answer within the budget (small here; the end-to-end test runs the real
// 4.5 s against WeChat's 5).
func TestForwardWithinBudget(t *testing.T) {
	const budget = 300 * time.Millisecond
	withBudget := func(c *callback.Config) { c.Budget = budget }
	scan := event("SCAN", "123", ticket)

	t.Run("an upstream taking 6 s", func(t *testing.T) {
		cut := make(chan struct{})
		ts, _ := forwardingServer(t, func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
				close(cut)
			case <-time.After(6 * time.Second):
				xmlReply(w, r)
			}
		}, withBudget)
		query, body := sealed(t, codec(t, fwdPlainApp, ""), plainMode, scan)
		// WeChat's own patience: an answer later than 5 s fails the test.
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, ts.URL+"/wechat/"+fwdPlainApp+"?"+query, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		status, _, answer := do(t, req)
		elapsed := time.Since(start)
		if status != http.StatusOK || answer != "success" {
			t.Errorf("answer = %d %q, want 200 success", status, answer)
		}
		if elapsed < budget {
			t.Errorf("answered after %s, before the budget (%s): the upstream was not waited for", elapsed, budget)
		}
		select {
		case <-cut:
		case <-ctx.Done():
			t.Error("the upstream's request was not cut off at the budget")
		}
		if got := len(ts.rec.recorded()); got != 1 {
			t.Errorf("%d events recorded, want 1", got)
		}
		if !strings.Contains(ts.log.String(), `"error_class":"timeout"`) {
			t.Errorf("no log line of the timeout:\n%s", ts.log)
		}
	})

	t.Run("an upstream that is down", func(t *testing.T) {
		down := httptest.NewServer(http.NotFoundHandler())
		down.Close()
		ts := newServer(t, func(c *callback.Config) {
			c.Budget = budget
			c.Apps = append(c.Apps, callback.App{ID: fwdPlainApp, Type: wxqr.AppOA, Token: token, Forward: down.URL})
		})
		query, body := sealed(t, codec(t, fwdPlainApp, ""), plainMode, scan)
		if status, _, answer := ts.post(t, fwdPlainApp, query, body); status != http.StatusOK || answer != "success" {
			t.Errorf("answer = %d %q, want 200 success", status, answer)
		}
		if !strings.Contains(ts.log.String(), `"error_class":"unreachable"`) {
			t.Errorf("no log line of the unreachable upstream:\n%s", ts.log)
		}
	})

	t.Run("an upstream answering too much", func(t *testing.T) {
		ts, _ := forwardingServer(t, func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, strings.Repeat("x", push.MaxBodyBytes+1))
		}, withBudget)
		query, body := sealed(t, codec(t, fwdPlainApp, ""), plainMode, scan)
		if status, _, answer := ts.post(t, fwdPlainApp, query, body); status != http.StatusOK || answer != "success" {
			t.Errorf("answer = %d (%d bytes), want 200 success", status, len(answer))
		}
		if !strings.Contains(ts.log.String(), `"error_class":"reply_too_large"`) {
			t.Errorf("no log line of the reply too large:\n%s", ts.log)
		}
	})

	t.Run("a recorder that hangs", func(t *testing.T) {
		ts := newServer(t, withBudget)
		ts.rec.hang.Store(true)
		query, body := sealed(t, codec(t, plainApp, ""), plainMode, scan)
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, ts.URL+"/wechat/"+plainApp+"?"+query, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if status, _, answer := do(t, req); status != http.StatusServiceUnavailable {
			t.Errorf("answer = %d %q, want 503 within the budget", status, answer)
		}
	})
}
