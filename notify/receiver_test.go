package notify_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"
)

// call is one request a receiver took.
type call struct {
	header http.Header
	query  string
	body   []byte
}

// receiver is a webhook's far end: it keeps every request and answers
// with answer (default: 200 and a WeCom robot's "ok", which a JSON
// receiver's client ignores).
type receiver struct {
	srv     *httptest.Server
	arrived chan struct{} // a value per request
	mu      sync.Mutex
	calls   []call
	answer  http.HandlerFunc
}

func newReceiver(t *testing.T, answer http.HandlerFunc) *receiver {
	t.Helper()
	if answer == nil {
		answer = func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, `{"errcode":0,"errmsg":"ok"}`) }
	}
	r := &receiver{arrived: make(chan struct{}, 1000), answer: answer}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.calls = append(r.calls, call{header: req.Header.Clone(), query: req.URL.RawQuery, body: body})
		r.mu.Unlock()
		r.arrived <- struct{}{}
		req.Body = io.NopCloser(bytes.NewReader(body))
		r.answer(w, req)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// wait returns once n requests have arrived in all, failing t after 20 s.
func (r *receiver) wait(t *testing.T, n int) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		if len(r.got()) >= n {
			return
		}
		select {
		case <-r.arrived:
		case <-timeout:
			t.Fatalf("%d requests arrived in 20 s, want %d", len(r.got()), n)
		}
	}
}

// got returns the requests so far.
func (r *receiver) got() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}
