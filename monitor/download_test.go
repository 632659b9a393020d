package monitor

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestDownloadsAreBounded: beyond Config.MaxDownloads at once, a campaign
// download is refused with 503 and Retry-After; once one ends, the next is
// served.
func TestDownloadsAreBounded(t *testing.T) {
	s := &Server{downloads: make(chan struct{}, 1)}
	started, release := make(chan struct{}), make(chan struct{})
	h := s.download(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("hold") {
			close(started)
			<-release
		}
		w.Write([]byte("zip"))
	})

	held := make(chan int)
	go func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/campaigns/a/images.zip?hold", nil))
		held <- rec.Code
	}()
	<-started
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/campaigns/b/images.zip", nil))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Errorf("a second download while one runs: status %d, Retry-After %q; want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
	close(release)
	if code := <-held; code != http.StatusOK {
		t.Errorf("the first download: status %d, want 200", code)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/campaigns/b/images.zip", nil))
	if rec.Code != http.StatusOK {
		t.Errorf("a download after the first ended: status %d, want 200", rec.Code)
	}
}
