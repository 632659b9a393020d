package monitor

import (
	"context"
	"encoding/json"
	"log"
	"net/http"
	"strings"
	"sync"

	"github.com/rs/zerolog"
)

// healthz answers while the process can serve at all.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

// readiness is the /readyz answer: "ok" or "failed" per dependency. It
// never carries the errors themselves, which may name hosts; they are
// logged.
type readiness struct {
	Redis   string `json:"redis"`
	Storage string `json:"storage"`
}

// readyz checks that Redis and the store answer, both at once, each within
// CheckTimeout.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.CheckTimeout)
	defer cancel()
	var redisErr, storeErr error
	var wg sync.WaitGroup
	wg.Go(func() { redisErr = s.cfg.Redis.Ping(ctx).Err() })
	wg.Go(func() { storeErr = s.cfg.Store.Check(ctx) })
	wg.Wait()

	status := func(component string, err error) string {
		if err != nil {
			s.log.Warn().Err(err).Str("component", component).Msg("not ready")
			return "failed"
		}
		return "ok"
	}
	body := readiness{Redis: status("redis", redisErr), Storage: status("storage", storeErr)}
	code := http.StatusOK
	if redisErr != nil || storeErr != nil {
		code = http.StatusServiceUnavailable
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}

// zerologStdLogger turns the standard library's log lines (net/http's
// complaints about broken connections) into zerolog warnings.
func zerologStdLogger(l zerolog.Logger) *log.Logger {
	return log.New(stdLogWriter{l}, "", 0)
}

type stdLogWriter struct{ log zerolog.Logger }

func (w stdLogWriter) Write(p []byte) (int, error) {
	w.log.Warn().Msg(strings.TrimSpace(string(p)))
	return len(p), nil
}
