package monitor

import (
	"bytes"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// asynqUIRoot is where the asynq web UI is mounted.
const asynqUIRoot = "/monitoring"

// externalLink matches a <link> element that loads something from another
// site: asynqmon's page asks Google Fonts for its typefaces.
var externalLink = regexp.MustCompile(`<link[^>]*\shref="(?:https?:)?//[^"]*"[^>]*>`)

// offlineUI serves the asynq UI without its links to other sites, so that
// it works (and renders at once, with the system's fonts) on a machine
// without Internet access, and tells no one that it was opened. Its API and
// its scripts are served as they are; its page, which is small, is
// rewritten.
func offlineUI(ui http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, asynqUIRoot+"/api/") || strings.HasPrefix(r.URL.Path, asynqUIRoot+"/static/") {
			ui.ServeHTTP(w, r)
			return
		}
		page := &bufferedResponse{header: make(http.Header), status: http.StatusOK}
		ui.ServeHTTP(page, r)
		body := page.body.Bytes()
		contentType := page.header.Get("Content-Type")
		if contentType == "" {
			contentType = http.DetectContentType(body)
			page.header.Set("Content-Type", contentType)
		}
		if strings.HasPrefix(contentType, "text/html") {
			body = externalLink.ReplaceAll(body, nil)
			page.header.Set("Content-Length", strconv.Itoa(len(body)))
		}
		for name, values := range page.header {
			w.Header()[name] = values
		}
		w.WriteHeader(page.status)
		_, _ = w.Write(body)
	})
}

// bufferedResponse holds a response in memory, to be rewritten.
type bufferedResponse struct {
	header      http.Header
	status      int
	wroteHeader bool
	body        bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(status int) {
	if !b.wroteHeader {
		b.status, b.wroteHeader = status, true
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	b.wroteHeader = true
	return b.body.Write(p)
}
