package wechat

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// tokenServer serves token answers in turn (the last one repeatedly) and
// counts the requests.
type tokenServer struct {
	mu      sync.Mutex
	answers []tokenAnswer
	calls   int
}

type tokenAnswer struct {
	status      int
	contentType string
	body        string
}

func (s *tokenServer) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	a := s.answers[min(s.calls, len(s.answers)-1)]
	s.calls++
	s.mu.Unlock()
	w.Header().Set("Content-Type", a.contentType)
	w.WriteHeader(a.status)
	io.WriteString(w, a.body) //nolint:errcheck
}

func (s *tokenServer) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func TestURLTokenSource(t *testing.T) {
	tests := []struct {
		name      string
		answers   []tokenAnswer
		want      string
		wantClass Class
	}{
		{"JSON", []tokenAnswer{{200, "application/json", `{"access_token":"tok-json","expires_in":7200}`}}, "tok-json", ClassNone},
		{"JSON without expiry", []tokenAnswer{{200, "application/json", `{"access_token":"tok-json"}`}}, "tok-json", ClassNone},
		{"plain text", []tokenAnswer{{200, "text/plain", "tok-plain\n"}}, "tok-plain", ClassNone},
		{"JSON errcode", []tokenAnswer{{200, "application/json", `{"errcode":40164,"errmsg":"invalid ip"}`}}, "", ClassAccount},
		{"JSON without a token", []tokenAnswer{{200, "application/json", `{"expires_in":7200}`}}, "", ClassToken},
		{"HTML page", []tokenAnswer{{200, "text/html", "<html><body>login</body></html>"}}, "", ClassUnknown},
		{"empty", []tokenAnswer{{200, "text/plain", ""}}, "", ClassUnknown},
		{"HTTP 503", []tokenAnswer{{503, "text/plain", "busy"}}, "", ClassTransient},
		{"HTTP 401", []tokenAnswer{{401, "text/plain", "who are you"}}, "", ClassUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(&tokenServer{answers: tt.answers})
			t.Cleanup(srv.Close)
			got, err := NewURLTokenSource(srv.URL+"/token", nil).Token(t.Context())
			if got != tt.want || ClassOf(err) != tt.wantClass {
				t.Errorf("Token = %q, %v (%v); want %q, %v", got, err, ClassOf(err), tt.want, tt.wantClass)
			}
		})
	}
}

func TestURLTokenSourceCaches(t *testing.T) {
	ts := &tokenServer{answers: []tokenAnswer{
		{200, "text/plain", "tok-1"},
		{200, "text/plain", "tok-2"},
		{200, "application/json", `{"access_token":"tok-3","expires_in":60}`},
		{200, "application/json", `{"access_token":"tok-4"}`},
	}}
	srv := httptest.NewServer(ts)
	t.Cleanup(srv.Close)
	src := NewURLTokenSource(srv.URL, srv.Client())
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	src.(*urlTokenSource).now = func() time.Time { return now }
	ctx := t.Context()
	steps := []struct {
		name       string
		advance    time.Duration // the clock, before Token
		invalidate string        // before Token, if not ""
		want       string
		wantCalls  int
	}{
		{"first fetch", 0, "", "tok-1", 1},
		{"no expiry: cached for good", 24 * time.Hour, "", "tok-1", 1},
		{"another token rejected", 0, "tok-0", "tok-1", 1},
		{"this token rejected", 0, "tok-1", "tok-2", 2},
		{"rejected again", 0, "tok-2", "tok-3", 3},
		{"within expires_in", 59 * time.Second, "", "tok-3", 3},
		{"past expires_in", 2 * time.Second, "", "tok-4", 4},
	}
	for _, st := range steps {
		now = now.Add(st.advance)
		if st.invalidate != "" {
			if err := src.Invalidate(ctx, st.invalidate); err != nil {
				t.Fatalf("%s: Invalidate: %v", st.name, err)
			}
		}
		got, err := src.Token(ctx)
		if err != nil || got != st.want || ts.Calls() != st.wantCalls {
			t.Errorf("%s: Token = %q, %v after %d calls; want %q after %d", st.name, got, err, ts.Calls(), st.want, st.wantCalls)
		}
	}
}

func TestURLTokenSourceHidesQuery(t *testing.T) {
	const key = "K3Y-in-the-query-55ee"
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	_, err := NewURLTokenSource(srv.URL+"/token?app=wx1&key="+key, nil).Token(t.Context())
	if !errors.Is(err, ErrTransient) {
		t.Fatalf("error = %v, want ErrTransient", err)
	}
	if strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), "key=REDACTED") {
		t.Errorf("error %q shows the URL's query", err)
	}
}
