package wechat

import (
	"bytes"
	"context"
	"image"
	"image/jpeg"
	"image/png"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"
)

// fakeTokens is a TokenSource that hands out tokens[0] until it is
// invalidated, then tokens[1], and so on, recording every call.
type fakeTokens struct {
	mu          sync.Mutex
	tokens      []string
	invalidated []string
	err         error // returned by Token when set
}

func (f *fakeTokens) Token(context.Context) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return "", f.err
	}
	return f.tokens[0], nil
}

func (f *fakeTokens) Invalidate(_ context.Context, failed string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.invalidated = append(f.invalidated, failed)
	if failed == f.tokens[0] && len(f.tokens) > 1 {
		f.tokens = f.tokens[1:]
	}
	return nil
}

func (f *fakeTokens) Invalidated() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.invalidated...)
}

// Base paths the test server mounts the two hosts under, so that a request
// built from an absolute path instead of the configured base URL misses.
const (
	testAPIPrefix = "/api-host"
	testMPPrefix  = "/mp-host"
)

// newTestClient starts a server that hands API requests to api and
// showqrcode requests to mp (each seeing paths without the prefix), and
// returns a client for it using tokens (a fakeTokens with token "t1" if
// nil).
func newTestClient(t *testing.T, api, mp http.Handler, tokens TokenSource, tweak ...func(*Config)) *Client {
	t.Helper()
	mux := http.NewServeMux()
	notFound := func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request outside the configured base URLs: %s %s", r.Method, r.URL)
		http.NotFound(w, r)
	}
	mux.HandleFunc("/", notFound)
	if api != nil {
		mux.Handle(testAPIPrefix+"/", http.StripPrefix(testAPIPrefix, api))
	}
	if mp != nil {
		mux.Handle(testMPPrefix+"/", http.StripPrefix(testMPPrefix, mp))
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	if tokens == nil {
		tokens = &fakeTokens{tokens: []string{"t1"}}
	}
	cfg := Config{
		AppID:      "wxtestapp",
		Tokens:     tokens,
		HTTPClient: srv.Client(),
		APIBaseURL: srv.URL + testAPIPrefix,
		MPBaseURL:  srv.URL + testMPPrefix + "/",
	}
	for _, f := range tweak {
		f(&cfg)
	}
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

// serve returns a handler that answers every request with status,
// contentType and body.
func serve(status int, contentType string, body []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		w.Write(body) //nolint:errcheck // the client sees what it sees
	})
}

// testJPEG and testPNG are small complete images.
func testJPEG(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, image.NewGray(image.Rect(0, 0, 8, 8)), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func testPNG(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 8, 8))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// captureLogs returns a logger at the most verbose level and the buffer it
// writes to.
func captureLogs() (zerolog.Logger, *syncBuffer) {
	var b syncBuffer
	return zerolog.New(&b).Level(zerolog.TraceLevel), &b
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// assertNoSecrets fails if any secret appears in text.
func assertNoSecrets(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("%s contains secret %q: %s", what, s, text)
		}
	}
}
