package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// WebhookConfig says where and how events are sent. URL is required, and
// Secret with FormatJSON; every other field says its default.
type WebhookConfig struct {
	// URL is the http(s) URL events are posted to. Its path, query and
	// credentials may hold a key (a WeCom robot's is in its query): no log
	// line or error shows more than its scheme and host.
	URL string
	// Format is FormatJSON (the default) or FormatWeCom.
	Format Format
	// Secret keys the HMAC of each JSON body (see Sign). Required with
	// FormatJSON; unused by FormatWeCom, whose URL is its credential.
	Secret string
	// HTTPClient sends the requests. Default: a client of its own that
	// follows no redirect (Timeout bounds each attempt).
	HTTPClient *http.Client
	// Timeout bounds each attempt. Default 10 s.
	Timeout time.Duration
	// Attempts is how many times an event is sent before it is given up.
	// Default 4.
	Attempts int
	// Backoff is the wait after the first failed attempt; it doubles after
	// each. Default 1 s.
	Backoff time.Duration
}

// WithDefaults returns c with every unset optional field at its default.
func (c WebhookConfig) WithDefaults() WebhookConfig {
	if c.Format == "" {
		c.Format = FormatJSON
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
			// A notice goes where it was told to go, or fails.
			return http.ErrUseLastResponse
		}}
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Attempts == 0 {
		c.Attempts = 4
	}
	if c.Backoff == 0 {
		c.Backoff = time.Second
	}
	return c
}

// Validate reports whether c, defaults applied, can send. Its errors never
// quote the URL or the secret.
func (c WebhookConfig) Validate() error {
	u, err := url.Parse(c.URL)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return errors.New("notify: the webhook URL must be an absolute http or https URL")
	case c.Format != FormatJSON && c.Format != FormatWeCom:
		return fmt.Errorf("notify: format %q: want %s or %s", c.Format, FormatJSON, FormatWeCom)
	case c.Format == FormatJSON && c.Secret == "":
		return errors.New("notify: the JSON format needs a secret to sign its bodies")
	case c.Timeout <= 0 || c.Attempts < 1 || c.Backoff <= 0:
		return fmt.Errorf("notify: timeout %s, attempts %d and backoff %s must be positive", c.Timeout, c.Attempts, c.Backoff)
	}
	return nil
}

// MaxDelivery is the longest Send of c can take, every attempt timing out:
// how long another worker must wait before it takes over an event whose
// sender went silent (Config.ReclaimAfter).
func (c WebhookConfig) MaxDelivery() time.Duration {
	c = c.WithDefaults()
	total := time.Duration(c.Attempts) * c.Timeout
	for i := range c.Attempts - 1 {
		total += c.Backoff << i
	}
	return total
}

// Webhook posts events to one URL, in one format.
type Webhook struct {
	cfg WebhookConfig
	// host is the URL as it may be shown: scheme and host only.
	host string
}

// NewWebhook returns the webhook of cfg, its defaults filled in, or why cfg
// cannot send.
func NewWebhook(cfg WebhookConfig) (*Webhook, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	u, _ := url.Parse(cfg.URL) // Validate parsed it
	return &Webhook{cfg: cfg, host: u.Scheme + "://" + u.Host}, nil
}

// Host is the webhook's scheme and host, which logs may show.
func (w *Webhook) Host() string { return w.host }

// SendError is an event the webhook did not take. Its text shows the URL's
// scheme and host only.
type SendError struct {
	Host string
	// Status is the HTTP status; 0 when no answer came.
	Status int
	// Errcode is what a WeCom robot answered, when it answered one.
	Errcode int
	// Temporary: another attempt may succeed.
	Temporary bool
	Err       error
}

func (e *SendError) Error() string {
	switch {
	case e.Errcode != 0:
		return fmt.Sprintf("notify %s: errcode %d: %v", e.Host, e.Errcode, e.Err)
	case e.Status != 0:
		return fmt.Sprintf("notify %s: HTTP %d: %v", e.Host, e.Status, e.Err)
	default:
		return fmt.Sprintf("notify %s: %v", e.Host, e.Err)
	}
}

func (e *SendError) Unwrap() error { return e.Err }

// Send posts ev, trying up to Attempts times while a failure is temporary
// (no answer, HTTP 408, 429 or 5xx, WeCom busy), waiting Backoff, then
// twice as long, between attempts. It returns the last failure, a
// *SendError; ctx ending stops it at once.
func (w *Webhook) Send(ctx context.Context, ev Event) error {
	body, err := w.body(ev)
	if err != nil {
		return fmt.Errorf("notify: encode event %s: %w", ev.ID, err)
	}
	wait := w.cfg.Backoff
	for attempt := 1; ; attempt++ {
		err := w.post(ctx, ev, body)
		var se *SendError
		if err == nil || !errors.As(err, &se) || !se.Temporary || attempt == w.cfg.Attempts {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait *= 2
	}
}

func (w *Webhook) body(ev Event) ([]byte, error) {
	if w.cfg.Format == FormatWeCom {
		return weComBody(ev)
	}
	return json.Marshal(ev)
}

// maxAnswer bounds what is read of an answer.
const maxAnswer = 64 << 10

// post makes one attempt.
func (w *Webhook) post(ctx context.Context, ev Event, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return &SendError{Host: w.host, Err: errors.New("cannot make the request")}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "wxqr-notify")
	if w.cfg.Format == FormatJSON {
		req.Header.Set(HeaderEvent, string(ev.Kind))
		req.Header.Set(HeaderSignature, Sign(w.cfg.Secret, body))
	}
	resp, err := w.cfg.HTTPClient.Do(req)
	if err != nil {
		// A *url.Error quotes the whole URL, key and all: only its cause
		// is kept.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return &SendError{Host: w.host, Temporary: true, Err: err}
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	return w.check(resp.StatusCode, answer)
}

// check turns an answer into nil or a *SendError.
func (w *Webhook) check(status int, answer []byte) error {
	if status < 200 || status > 299 {
		temporary := status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
		return &SendError{Host: w.host, Status: status, Temporary: temporary, Err: errors.New(http.StatusText(status))}
	}
	if w.cfg.Format != FormatWeCom {
		return nil
	}
	// A robot answers 200 with its own errcode.
	var r struct {
		Errcode int    `json:"errcode"`
		Errmsg  string `json:"errmsg"`
	}
	if err := json.Unmarshal(answer, &r); err != nil {
		return &SendError{Host: w.host, Status: status, Temporary: true, Err: errors.New("the answer is not a WeCom robot's")}
	}
	if r.Errcode != 0 {
		// -1: busy; 45009: over the robot's 20 messages a minute.
		temporary := r.Errcode == -1 || r.Errcode == 45009
		return &SendError{Host: w.host, Status: status, Errcode: r.Errcode, Temporary: temporary, Err: errors.New(clip(plain(r.Errmsg), 200))}
	}
	return nil
}
