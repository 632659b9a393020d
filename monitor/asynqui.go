package monitor

import (
	"bytes"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/rs/zerolog"
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

// The asynq UI's call that resumes a queue (asynqmon v0.7.2):
// POST {root}/api/queues/{qname}:resume.
const (
	resumePrefix = asynqUIRoot + "/api/queues/"
	resumeSuffix = ":resume"
)

// resumeThrough answers the asynq UI's resume call with wxqr's resume, which
// clears asynq's pause flag and wxqr's pause record in one step; asynq's own
// would leave the record behind. Every other request goes to ui.
func resumeThrough(pauses Pauses, log zerolog.Logger, ui http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		queue, ok := strings.CutPrefix(r.URL.Path, resumePrefix)
		if ok {
			queue, ok = strings.CutSuffix(queue, resumeSuffix)
		}
		if !ok || r.Method != http.MethodPost || queue == "" || strings.Contains(queue, "/") {
			ui.ServeHTTP(w, r)
			return
		}
		if err := pauses.Resume(r.Context(), queue); err != nil {
			log.Error().Err(err).Str("queue", queue).Msg("could not resume the queue from the web UI")
			http.Error(w, "could not resume "+queue, http.StatusInternalServerError)
			return
		}
		log.Info().Str("queue", queue).Msg("queue resumed from the web UI")
		w.WriteHeader(http.StatusNoContent)
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
