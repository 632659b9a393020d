package notify_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxqr/wxqr/notify"
)

const testSecret = "s3cr3t-that-signs-every-body"

var testEvent = notify.Event{
	ID: "campaign_finished:spring:3", Kind: notify.CampaignFinished, Campaign: "spring",
	Counts: map[string]int{"planned": 3, "generated": 2, "failed": 1},
	At:     time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC),
}

func newWebhook(t *testing.T, cfg notify.WebhookConfig) *notify.Webhook {
	t.Helper()
	if cfg.Backoff == 0 {
		cfg.Backoff = time.Millisecond
	}
	w, err := notify.NewWebhook(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// TestWebhookJSON checks the JSON format: the event as the body, named in
// X-Wxqr-Event and signed in X-Wxqr-Signature with HMAC-SHA256 of the body.
func TestWebhookJSON(t *testing.T) {
	r := newReceiver(t, nil)
	w := newWebhook(t, notify.WebhookConfig{URL: r.srv.URL + "/hooks/wxqr", Secret: testSecret})
	if err := w.Send(t.Context(), testEvent); err != nil {
		t.Fatal(err)
	}
	calls := r.got()
	if len(calls) != 1 {
		t.Fatalf("%d requests, want 1", len(calls))
	}
	c := calls[0]
	mac := hmac.New(sha256.New, []byte(testSecret))
	mac.Write(c.body)
	if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); c.header.Get("X-Wxqr-Signature") != want {
		t.Errorf("X-Wxqr-Signature = %q, want %q", c.header.Get("X-Wxqr-Signature"), want)
	}
	if !notify.Verify(testSecret, c.body, c.header.Get(notify.HeaderSignature)) {
		t.Error("Verify refuses the signature sent")
	}
	if notify.Verify(testSecret, append(c.body, ' '), c.header.Get(notify.HeaderSignature)) {
		t.Error("Verify takes the signature of another body")
	}
	if got := c.header.Get("X-Wxqr-Event"); got != "campaign_finished" {
		t.Errorf("X-Wxqr-Event = %q, want campaign_finished", got)
	}
	if got := c.header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", got)
	}
	var body map[string]any
	if err := json.Unmarshal(c.body, &body); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"event": "campaign_finished", "campaign": "spring", "id": testEvent.ID, "at": "2026-05-01T10:00:00Z",
		"counts": map[string]any{"planned": 3.0, "generated": 2.0, "failed": 1.0}}
	for k, v := range want {
		if got, _ := json.Marshal(body[k]); string(got) != mustJSON(t, v) {
			t.Errorf("body %s = %s, want %s", k, got, mustJSON(t, v))
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestWebhookWeCom checks a WeCom robot's message: markdown, and nothing
// else, its errcode read.
func TestWebhookWeCom(t *testing.T) {
	r := newReceiver(t, nil)
	w := newWebhook(t, notify.WebhookConfig{URL: r.srv.URL + "/cgi-bin/webhook/send?key=robot-key", Format: notify.FormatWeCom})
	if err := w.Send(t.Context(), testEvent); err != nil {
		t.Fatal(err)
	}
	c := r.got()[0]
	wantWeComBody(t, c.body, "`spring`", "planned 3")
	if c.query != "key=robot-key" {
		t.Errorf("query = %q, want the robot's key", c.query)
	}
	if c.header.Get("X-Wxqr-Signature") != "" {
		t.Error("a WeCom message is signed: its URL is its credential")
	}
}

// wantWeComBody checks that body is a robot's markdown message whose
// content holds each of want, and returns the content.
func wantWeComBody(t *testing.T, body []byte, want ...string) string {
	t.Helper()
	var msg map[string]json.RawMessage
	if err := json.Unmarshal(body, &msg); err != nil {
		t.Fatal(err)
	}
	var markdown map[string]string
	if len(msg) != 2 || string(msg["msgtype"]) != `"markdown"` || json.Unmarshal(msg["markdown"], &markdown) != nil || len(markdown) != 1 {
		t.Fatalf("body = %s, want {\"msgtype\":\"markdown\",\"markdown\":{\"content\":...}}", body)
	}
	for _, w := range want {
		if !strings.Contains(markdown["content"], w) {
			t.Errorf("content %q does not say %q", markdown["content"], w)
		}
	}
	return markdown["content"]
}

// TestWebhookRetries checks which failures are tried again, and that the
// attempts are bounded.
func TestWebhookRetries(t *testing.T) {
	tests := []struct {
		name      string
		format    notify.Format
		answers   []string // status or robot errcode, per attempt; the last repeats
		wantCalls int
		wantErr   bool
	}{
		{"5xx then ok", notify.FormatJSON, []string{"500", "503", "200"}, 3, false},
		{"429 is retried", notify.FormatJSON, []string{"429", "200"}, 2, false},
		{"always 502: bounded", notify.FormatJSON, []string{"502"}, 3, true},
		{"404 is final", notify.FormatJSON, []string{"404"}, 1, true},
		{"robot busy then ok", notify.FormatWeCom, []string{"errcode -1", "errcode 0"}, 2, false},
		{"robot refuses the key", notify.FormatWeCom, []string{"errcode 93000"}, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n atomic.Int32 // attempts answered so far
			r := newReceiver(t, func(w http.ResponseWriter, _ *http.Request) {
				answer := tt.answers[min(int(n.Add(1))-1, len(tt.answers)-1)]
				if code, ok := strings.CutPrefix(answer, "errcode "); ok {
					io.WriteString(w, `{"errcode":`+code+`,"errmsg":"no"}`)
					return
				}
				w.WriteHeader(map[string]int{"200": 200, "404": 404, "429": 429, "500": 500, "502": 502, "503": 503}[answer])
			})
			w := newWebhook(t, notify.WebhookConfig{URL: r.srv.URL, Format: tt.format, Secret: testSecret, Attempts: 3})
			err := w.Send(t.Context(), testEvent)
			if got := len(r.got()); got != tt.wantCalls || (err != nil) != tt.wantErr {
				t.Errorf("Send = %v after %d attempts; want error %v after %d", err, got, tt.wantErr, tt.wantCalls)
			}
			var se *notify.SendError
			if err != nil && !errors.As(err, &se) {
				t.Errorf("error %v is not a *SendError", err)
			}
		})
	}
}

// TestWebhookErrorsKeepTheURLsSecrets checks that an error shows the
// webhook's scheme and host and nothing else of its URL.
func TestWebhookErrorsKeepTheURLsSecrets(t *testing.T) {
	r := newReceiver(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
	secrets := []string{"robot-key", "path-token", "hunter2"}
	withSecrets := func(base string) string {
		return strings.Replace(base, "http://", "http://user:hunter2@", 1) + "/hook/path-token?key=robot-key"
	}
	closed := newReceiver(t, nil)
	closed.srv.Close()
	for name, url := range map[string]string{"answers 500": withSecrets(r.srv.URL), "no answer": withSecrets(closed.srv.URL)} {
		t.Run(name, func(t *testing.T) {
			w := newWebhook(t, notify.WebhookConfig{URL: url, Format: notify.FormatWeCom, Attempts: 1})
			err := w.Send(t.Context(), testEvent)
			if err == nil {
				t.Fatal("Send = nil, want an error")
			}
			for _, s := range secrets {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q shows %q", err, s)
				}
			}
			if !strings.Contains(err.Error(), w.Host()) {
				t.Errorf("error %q does not name the host %s", err, w.Host())
			}
		})
	}
}

func TestWebhookConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  notify.WebhookConfig
		ok   bool
	}{
		{"json with a secret", notify.WebhookConfig{URL: "https://hooks.example.com/x", Secret: "s"}, true},
		{"json without a secret", notify.WebhookConfig{URL: "https://hooks.example.com/x"}, false},
		{"wecom without a secret", notify.WebhookConfig{URL: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", Format: notify.FormatWeCom}, true},
		{"relative URL", notify.WebhookConfig{URL: "/hook?key=k", Format: notify.FormatWeCom}, false},
		{"another scheme", notify.WebhookConfig{URL: "ftp://hooks.example.com/?key=k", Format: notify.FormatWeCom}, false},
		{"unknown format", notify.WebhookConfig{URL: "https://hooks.example.com/?key=k", Format: "xml", Secret: "s"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.WithDefaults().Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("Validate = %v, want ok %v", err, tt.ok)
			}
			if err != nil && (strings.Contains(err.Error(), "key=k") || strings.Contains(err.Error(), "hooks.example.com")) {
				t.Errorf("error %q quotes the URL", err)
			}
		})
	}
}
