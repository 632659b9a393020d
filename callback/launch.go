package callback

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/ratelimit"
	"github.com/wxqr/wxqr/scans"
)

// Launch reports.
const (
	// maxLaunchBytes caps a launch report: a page path and a short query.
	maxLaunchBytes = 4 << 10
	// maxLaunchPathBytes is getwxacode's limit on a code's path.
	maxLaunchPathBytes = 1024
)

// launchScenes are the launch scenes of a code: 1047 scanned, 1048
// long-pressed, 1049 picked from the album.
var launchScenes = map[int]bool{1047: true, 1048: true, 1049: true}

// launchRequest is what a Mini Program's onLaunch sends: its options' path,
// query and scene.
type launchRequest struct {
	Path        string            `json:"path"`
	Query       map[string]string `json:"query"`
	LaunchScene int               `json:"launch_scene"`
}

func (l launchRequest) validate() error {
	switch {
	case l.Path == "":
		return errors.New("path is required")
	case len(l.Path) > maxLaunchPathBytes:
		return fmt.Errorf("path: at most %d bytes", maxLaunchPathBytes)
	case !utf8.ValidString(l.Path):
		return errors.New("path: not UTF-8")
	case !launchScenes[l.LaunchScene]:
		return errors.New("launch_scene: want 1047, 1048 or 1049 (a code scanned, long-pressed or picked from the album)")
	}
	return nil
}

// Rate-limit keys, after Config.RateLimitPrefix.
const (
	clientKeyPrefix = "client:"
	appKeyPrefix    = "app:"
)

// launchLimits are the limits of a rate-limit key.
func (h *Handler) launchLimits(key string) []ratelimit.Limit {
	switch {
	case strings.HasPrefix(key, clientKeyPrefix):
		return []ratelimit.Limit{h.cfg.LaunchesPerClient}
	case strings.HasPrefix(key, appKeyPrefix):
		return []ratelimit.Limit{h.cfg.LaunchesPerApp}
	}
	return nil
}

// launch records a Mini Program's launch from a code.
func (h *Handler) launch(w http.ResponseWriter, r *http.Request) {
	received := time.Now()
	a := h.apps[r.PathValue("app_id")]
	if a == nil || a.Type != wxqr.AppMP {
		h.log.Debug().Int("status", http.StatusNotFound).Msg("launch for an app that is not a configured Mini Program")
		http.NotFound(w, r)
		return
	}
	ctx, cancel := context.WithDeadline(r.Context(), received.Add(h.cfg.Budget))
	defer cancel()
	// The client's limit first: a client over it spends nothing of the
	// app's.
	if !h.admit(ctx, w, a, clientKeyPrefix+h.clientKey(r), "client") || !h.admit(ctx, w, a, appKeyPrefix+a.ID, "app") {
		return
	}

	var req launchRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxLaunchBytes)).Decode(&req); err != nil {
		status := http.StatusBadRequest
		if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
			status = http.StatusRequestEntityTooLarge
		}
		// encoding/json's errors may quote the body: not logged.
		h.log.Warn().Str("app_id", a.ID).Int("status", status).Msg("launch report is not JSON or too large")
		writeText(w, status, "want a JSON object {path, query, launch_scene} of at most 4 KiB\n")
		return
	}
	if err := req.validate(); err != nil {
		h.log.Warn().Str("app_id", a.ID).Int("status", http.StatusBadRequest).Err(err).Msg("launch report refused")
		writeText(w, http.StatusBadRequest, err.Error()+"\n")
		return
	}
	out, err := h.cfg.Recorder.Record(ctx, scans.Event{
		AppID:       a.ID,
		Type:        scans.Launch,
		Time:        h.cfg.Now(),
		Path:        req.Path,
		Query:       req.Query,
		LaunchScene: req.LaunchScene,
	})
	if errors.Is(err, scans.ErrInvalidEvent) {
		h.log.Warn().Str("app_id", a.ID).Int("status", http.StatusBadRequest).Err(err).Msg("launch report refused")
		writeText(w, http.StatusBadRequest, "not a launch that can be counted\n")
		return
	}
	if err != nil {
		h.log.Error().Str("app_id", a.ID).Str("event", string(scans.Launch)).Int("status", http.StatusServiceUnavailable).
			Err(err).Msg("launch not recorded")
		writeText(w, http.StatusServiceUnavailable, "not recorded, try again\n")
		return
	}
	w.WriteHeader(http.StatusNoContent)
	h.log.Info().Str("app_id", a.ID).Str("event", string(scans.Launch)).Int("launch_scene", req.LaunchScene).
		Bool("attributed", out.CodeID != "").Bool("duplicate", out.Duplicate).Str("campaign", out.Campaign).
		Int("status", http.StatusNoContent).Dur("duration", time.Since(received)).Msg("launch")
}

// admit takes a slot of key's launch limit, or answers 429 (over the
// limit) or 503 (Redis failed) and returns false. limit names the limit in
// the log (the key may hold a client's address).
func (h *Handler) admit(ctx context.Context, w http.ResponseWriter, a *app, key, limit string) bool {
	_, err := h.limiter.Wait(ctx, key)
	if err == nil {
		return true
	}
	if delay, ok := errors.AsType[*ratelimit.DelayError](err); ok {
		// Whole seconds, rounded up: a client coming back sooner would be
		// refused again.
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(delay.RetryAfter.Seconds())))))
		h.log.Debug().Str("app_id", a.ID).Str("limit", limit).
			Int("status", http.StatusTooManyRequests).Msg("launch over its rate limit")
		writeText(w, http.StatusTooManyRequests, "too many launch reports, try later\n")
		return false
	}
	// Not err's text: it names the limit's key, which holds the client's
	// address.
	h.log.Error().Str("app_id", a.ID).Str("limit", limit).Int("status", http.StatusServiceUnavailable).
		Str("error_class", errorClass(err)).Msg("launch rate limit unavailable")
	writeText(w, http.StatusServiceUnavailable, "try again\n")
	return false
}

// clientKey is who reports a launch, for its rate limit: the address in
// Config.ClientIPHeader (its last one, the one the proxy added), else the
// connection's; an IPv6 address counts as its /64, which one subscriber
// holds whole.
func (h *Handler) clientKey(r *http.Request) string {
	var addr netip.Addr
	if h.cfg.ClientIPHeader != "" {
		if values := r.Header.Values(h.cfg.ClientIPHeader); len(values) > 0 {
			last := values[len(values)-1]
			addr, _ = netip.ParseAddr(strings.TrimSpace(last[strings.LastIndex(last, ",")+1:]))
		}
	}
	if !addr.IsValid() {
		ap, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil {
			return r.RemoteAddr // not TCP (a test's or a Unix socket's address)
		}
		addr = ap.Addr()
	}
	addr = addr.Unmap()
	if addr.Is6() {
		prefix, _ := addr.Prefix(64)
		return prefix.String()
	}
	return addr.String()
}
