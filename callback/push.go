package callback

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/wxqr/wxqr/scans"
	"github.com/wxqr/wxqr/wechat/push"
)

// success ends a push at WeChat: it neither retries nor shows the user
// anything.
const success = "success"

// errPlainRefused: a plain push for an app that takes encrypted ones only.
var errPlainRefused = errors.New("callback: plain push refused: the app has an EncodingAESKey")

// recordedEvents are the pushed events the Recorder takes, by WeChat's name
// (MsgType "event"). Other events and messages are only forwarded.
var recordedEvents = map[string]scans.EventType{
	"subscribe":   scans.Subscribe,
	"SCAN":        scans.Scan,
	"unsubscribe": scans.Unsubscribe,
}

// pushApp returns the app a push route names, or nil (and answers 404)
// when it takes no pushes.
func (h *Handler) pushApp(w http.ResponseWriter, r *http.Request) *app {
	a := h.apps[r.PathValue("app_id")]
	if a == nil || a.codec == nil {
		// Debug: anyone on the internet can ask for any path.
		h.log.Debug().Str("method", r.Method).Int("status", http.StatusNotFound).Msg("push for an app without a callback token")
		http.NotFound(w, r)
		return nil
	}
	return a
}

// verifyURL answers WeChat's URL check, also for an app whose pushes are
// forwarded: the upstream shares the token, and wxqr is the URL now.
func (h *Handler) verifyURL(w http.ResponseWriter, r *http.Request) {
	a := h.pushApp(w, r)
	if a == nil {
		return
	}
	if err := a.codec.VerifyURL(push.QueryFrom(r.URL.Query())); err != nil {
		h.log.Warn().Str("app_id", a.ID).Int("status", http.StatusForbidden).Msg("URL check with a bad signature (is callback_token the token set at WeChat?)")
		writeText(w, http.StatusForbidden, "bad signature\n")
		return
	}
	h.log.Info().Str("app_id", a.ID).Msg("URL check answered")
	writeText(w, http.StatusOK, r.URL.Query().Get("echostr"))
}

// push opens a push, records its event, then answers it or forwards it.
func (h *Handler) push(w http.ResponseWriter, r *http.Request) {
	received := time.Now()
	a := h.pushApp(w, r)
	if a == nil {
		return
	}
	// Recording and forwarding share the budget: WeChat counts from the
	// moment it sent the push.
	ctx, cancel := context.WithDeadline(r.Context(), received.Add(h.cfg.Budget))
	defer cancel()

	ev, body, ok := h.open(w, r, a)
	if !ok {
		return
	}
	typ, recorded := recordedEvent(ev)
	var out scans.Outcome
	if recorded {
		var err error
		out, err = h.cfg.Recorder.Record(ctx, scans.Event{
			AppID:  a.ID,
			Type:   typ,
			OpenID: ev.FromUserName,
			Time:   time.Unix(ev.CreateTime, 0),
			Key:    ev.EventKey,
			Ticket: ev.Ticket,
		})
		if errors.Is(err, scans.ErrInvalidEvent) {
			// Signed but not countable (no openid, say): a retry would
			// not be either.
			h.reject(w, a, http.StatusBadRequest, "event cannot be recorded", errors.New(redact(err, ev.FromUserName, ev.Ticket)))
			return
		}
		if err != nil {
			h.log.Error().Str("app_id", a.ID).Str("event", ev.Event).Int("status", http.StatusServiceUnavailable).
				Str("error", redact(err, ev.FromUserName, ev.Ticket)).Dur("duration", time.Since(received)).
				Msg("event not recorded: WeChat will deliver it again")
			writeText(w, http.StatusServiceUnavailable, "not recorded, try again\n")
			return
		}
	}

	status := http.StatusOK
	if a.forward == nil {
		writeText(w, status, success)
	} else {
		status = h.forward(ctx, w, r, a, body, received)
	}
	line := h.log.Info().Str("app_id", a.ID).Str("msg_type", ev.MsgType).Str("event", ev.Event).Bool("recorded", recorded)
	if recorded {
		line = line.Bool("attributed", out.CodeID != "").Bool("duplicate", out.Duplicate).Str("campaign", out.Campaign)
	}
	line.Int("status", status).Bool("forwarded", a.forward != nil).Dur("duration", time.Since(received)).Msg("push")
}

// open reads, checks and opens a push; when it cannot, it has answered (and
// logged) why. It returns the event and the body as received.
func (h *Handler) open(w http.ResponseWriter, r *http.Request, a *app) (*push.Event, []byte, bool) {
	body, err := push.ReadBody(http.MaxBytesReader(w, r.Body, push.MaxBodyBytes))
	if err != nil {
		status := http.StatusBadRequest
		if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
			status = http.StatusRequestEntityTooLarge
		}
		h.reject(w, a, status, "push body unreadable or too large", err)
		return nil, nil, false
	}
	q := push.QueryFrom(r.URL.Query())
	if a.AESKey != "" && q.EncryptType != "aes" {
		// A plain push's signature covers the query, not the body: one
		// signed query seen anywhere would carry any body. An app with a
		// key is in compatible or safe mode, where WeChat encrypts every
		// push and signs what it encrypts.
		h.reject(w, a, http.StatusForbidden, "plain push for an app with callback_aes_key", errPlainRefused)
		return nil, nil, false
	}
	ev, err := a.codec.Open(q, body)
	switch {
	case errors.Is(err, push.ErrSignature):
		h.reject(w, a, http.StatusForbidden, "push with a bad signature (is callback_token the token set at WeChat?)", err)
		return nil, nil, false
	case errors.Is(err, push.ErrKey):
		h.reject(w, a, http.StatusBadRequest, "encrypted push for an app without callback_aes_key", err)
		return nil, nil, false
	case err != nil:
		h.reject(w, a, http.StatusBadRequest, "push does not open (a changed callback_aes_key? set callback_aes_key_previous)", err)
		return nil, nil, false
	}
	return ev, body, true
}

// recordedEvent returns the type under which ev is recorded, and false for
// a message that is not recorded.
func recordedEvent(ev *push.Event) (scans.EventType, bool) {
	if ev.MsgType != "event" {
		return "", false
	}
	typ, ok := recordedEvents[ev.Event]
	return typ, ok
}

// reject answers a push that is not recorded nor forwarded, and logs why.
// err comes from push, whose errors hold no field of the message.
func (h *Handler) reject(w http.ResponseWriter, a *app, status int, msg string, err error) {
	h.log.Warn().Str("app_id", a.ID).Int("status", status).Err(err).Msg(msg)
	writeText(w, status, http.StatusText(status)+"\n")
}

// redact is err's text with each of values (an openid, a ticket) cut out:
// a Recorder's error should hold none, and a log line must not.
func redact(err error, values ...string) string {
	s := err.Error()
	for _, v := range values {
		if v != "" {
			s = strings.ReplaceAll(s, v, "[redacted]")
		}
	}
	return s
}
