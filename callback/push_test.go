package callback_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wxqr/wxqr/scans"
	"github.com/wxqr/wxqr/wechat/push"
)

func TestVerifyURL(t *testing.T) {
	ts := newServer(t, nil)
	query := func(signature string) string {
		return url.Values{"signature": {signature}, "timestamp": {"1700000000"}, "nonce": {"n0nce"}, "echostr": {"echo 123"}}.Encode()
	}
	good := push.Signature(token, "1700000000", "n0nce")
	tests := []struct {
		name, app, query string
		wantStatus       int
		wantBody         string
	}{
		{"good signature", plainApp, query(good), http.StatusOK, "echo 123"},
		{"good signature, encrypted app", aesApp, query(good), http.StatusOK, "echo 123"},
		{"bad signature", plainApp, query(push.Signature("other", "1700000000", "n0nce")), http.StatusForbidden, ""},
		{"no signature", plainApp, "echostr=x", http.StatusForbidden, ""},
		{"app without token", noPushApp, query(good), http.StatusNotFound, ""},
		{"unknown app", "wxnobody", query(good), http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, ts.URL+"/wechat/"+tt.app+"?"+tt.query, nil)
			if err != nil {
				t.Fatal(err)
			}
			status, contentType, body := do(t, req)
			if status != tt.wantStatus {
				t.Fatalf("status = %d (%s), want %d", status, body, tt.wantStatus)
			}
			if tt.wantStatus != http.StatusOK {
				return
			}
			if body != tt.wantBody || !strings.HasPrefix(contentType, "text/plain") {
				t.Errorf("answer = %q (%s), want %q as text/plain", body, contentType, tt.wantBody)
			}
		})
	}
}

func TestPushRecorded(t *testing.T) {
	ts := newServer(t, nil)
	events := []struct {
		typ, key, ticket string
		want             scans.EventType
	}{
		{"subscribe", "qrscene_123", ticket, scans.Subscribe},
		{"SCAN", "spring-poster", ticket, scans.Scan},
		{"unsubscribe", "", "", scans.Unsubscribe},
		{"subscribe", "", "", scans.Subscribe}, // followed from elsewhere: the store decides it counts nothing
	}
	modes := []struct {
		mode, app, key string
	}{
		{plainMode, plainApp, ""},
		{compatMode, aesApp, aesKey},
		{safeMode, aesApp, aesKey},
		{safeMode + " with the previous key", aesApp, previousKey},
	}
	for _, m := range modes {
		for _, e := range events {
			t.Run(m.mode+"/"+e.typ+"/"+e.key, func(t *testing.T) {
				before := len(ts.rec.recorded())
				mode, _, _ := strings.Cut(m.mode, " ")
				query, body := sealed(t, codec(t, m.app, m.key), mode, event(e.typ, e.key, e.ticket))
				status, contentType, answer := ts.post(t, m.app, query, body)
				if status != http.StatusOK || answer != "success" || !strings.HasPrefix(contentType, "text/plain") {
					t.Fatalf("answer = %d %q (%s), want 200 success as text/plain", status, answer, contentType)
				}
				got := ts.rec.recorded()
				if len(got) != before+1 {
					t.Fatalf("%d events recorded, want 1", len(got)-before)
				}
				want := scans.Event{AppID: m.app, Type: e.want, OpenID: openID, Time: time.Unix(1700000000, 0), Key: e.key, Ticket: e.ticket}
				if ev := got[before]; !equalEvents(ev, want) {
					t.Errorf("recorded %+v, want %+v", ev, want)
				}
			})
		}
	}
}

// equalEvents compares the fields a push sets.
func equalEvents(a, b scans.Event) bool {
	return a.AppID == b.AppID && a.Type == b.Type && a.OpenID == b.OpenID && a.Time.Equal(b.Time) &&
		a.Key == b.Key && a.Ticket == b.Ticket && a.Path == b.Path && a.LaunchScene == b.LaunchScene && len(a.Query) == len(b.Query)
}

func TestPushNotRecorded(t *testing.T) {
	ts := newServer(t, nil)
	messages := map[string]string{
		"text": `<xml><ToUserName>gh_account</ToUserName><FromUserName>` + openID + `</FromUserName><CreateTime>1700000000</CreateTime>` +
			`<MsgType>text</MsgType><Content>hello</Content><MsgId>1</MsgId></xml>`,
		"menu click": string(event("CLICK", "menu-1", "")),
		"SCAN as a text": `<xml><ToUserName>gh_account</ToUserName><FromUserName>` + openID + `</FromUserName><CreateTime>1700000000</CreateTime>` +
			`<MsgType>text</MsgType><Event>SCAN</Event><EventKey>1</EventKey></xml>`,
	}
	for name, msg := range messages {
		t.Run(name, func(t *testing.T) {
			query, body := sealed(t, codec(t, aesApp, aesKey), safeMode, []byte(msg))
			status, _, answer := ts.post(t, aesApp, query, body)
			if status != http.StatusOK || answer != "success" {
				t.Errorf("answer = %d %q, want 200 success", status, answer)
			}
			if got := ts.rec.recorded(); len(got) != 0 {
				t.Errorf("recorded %+v, want nothing", got)
			}
		})
	}
}

func TestPushRefused(t *testing.T) {
	ts := newServer(t, nil)
	scan := event("SCAN", "123", ticket)
	plainQuery, _ := sealed(t, codec(t, plainApp, ""), plainMode, scan)
	safeQuery, safeBody := sealed(t, codec(t, aesApp, aesKey), safeMode, scan)
	otherKey := "OTHERkey0123456789abcdefghijklmnopqrstuvwxy"
	wrongKeyQuery, wrongKeyBody := sealed(t, codec(t, aesApp, otherKey), safeMode, scan)
	otherAppQuery, otherAppBody := sealed(t, codec(t, "wxother", aesKey), safeMode, scan)
	tampered := strings.Replace(safeQuery, "msg_signature=", "msg_signature=0", 1)

	tests := []struct {
		name, app, query string
		body             []byte
		want             int
	}{
		{"plain, bad signature", plainApp, strings.Replace(plainQuery, "nonce=n0nce", "nonce=other", 1), scan, http.StatusForbidden},
		{"plain to an app with a key", aesApp, plainQuery, scan, http.StatusForbidden},
		{"raw to an app with a key", aesApp, strings.Replace(safeQuery, "encrypt_type=aes", "encrypt_type=raw", 1), scan, http.StatusForbidden},
		{"safe, bad msg_signature", aesApp, tampered, safeBody, http.StatusForbidden},
		{"safe, Encrypt changed", aesApp, safeQuery, []byte(strings.Replace(string(safeBody), "<Encrypt>", "<Encrypt>A", 1)), http.StatusForbidden},
		{"plain, not XML", plainApp, plainQuery, []byte("{not xml"), http.StatusBadRequest},
		{"plain, not a message", plainApp, plainQuery, []byte("<xml><Foo>1</Foo></xml>"), http.StatusBadRequest},
		{"safe, no Encrypt", aesApp, safeQuery, scan, http.StatusBadRequest},
		{"safe, unknown key", aesApp, wrongKeyQuery, wrongKeyBody, http.StatusBadRequest},
		{"safe, another app", aesApp, otherAppQuery, otherAppBody, http.StatusBadRequest},
		{"safe to a plain app", plainApp, safeQuery, safeBody, http.StatusBadRequest},
		{"unknown encrypt_type", plainApp, plainQuery + "&encrypt_type=des", scan, http.StatusBadRequest},
		{"too large", plainApp, plainQuery, []byte("<xml>" + strings.Repeat(" ", push.MaxBodyBytes) + "</xml>"), http.StatusRequestEntityTooLarge},
		{"app without token", noPushApp, plainQuery, scan, http.StatusNotFound},
		{"unknown app", "wxnobody", plainQuery, scan, http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, answer := ts.post(t, tt.app, tt.query, tt.body)
			if status != tt.want {
				t.Errorf("status = %d (%q), want %d", status, answer, tt.want)
			}
			if got := ts.rec.recorded(); len(got) != 0 {
				t.Errorf("recorded %+v, want nothing", got)
			}
		})
	}
	if t.Failed() {
		return
	}
	// The same pushes, untouched, open: the refusals were for what was
	// changed.
	for _, p := range []struct{ app, query string }{{plainApp, plainQuery}, {aesApp, safeQuery}} {
		body := scan
		if p.app == aesApp {
			body = safeBody
		}
		if status, _, answer := ts.post(t, p.app, p.query, body); status != http.StatusOK {
			t.Errorf("untouched push to %s = %d %q, want 200", p.app, status, answer)
		}
	}
}

// TestPushNotCountableIs400: an event the store refuses outright is 400,
// not 503: WeChat's retries could not be counted either.
func TestPushNotCountableIs400(t *testing.T) {
	ts := newServer(t, nil)
	ts.rec.invalid.Store(true)
	query, body := sealed(t, codec(t, plainApp, ""), plainMode, event("subscribe", "qrscene_9", ticket))
	if status, _, answer := ts.post(t, plainApp, query, body); status != http.StatusBadRequest {
		t.Errorf("status = %d (%q), want 400", status, answer)
	}
}

func TestPushNotRecordedIs503(t *testing.T) {
	ts := newServer(t, nil)
	ts.rec.fail.Store(true)
	for _, mode := range []string{plainMode, safeMode} {
		t.Run(mode, func(t *testing.T) {
			app, key := plainApp, ""
			if mode == safeMode {
				app, key = aesApp, aesKey
			}
			query, body := sealed(t, codec(t, app, key), mode, event("subscribe", "qrscene_9", ticket))
			status, _, answer := ts.post(t, app, query, body)
			if status != http.StatusServiceUnavailable {
				t.Errorf("status = %d (%q), want 503 so that WeChat delivers it again", status, answer)
			}
		})
	}
	if !strings.Contains(ts.log.String(), `"status":503`) {
		t.Errorf("no log line of the 503:\n%s", ts.log)
	}
}

func TestPushLogLine(t *testing.T) {
	ts := newServer(t, nil)
	ts.rec.answer(scans.Outcome{Duplicate: true, CodeID: "code-1", Campaign: "spring"})
	query, body := sealed(t, codec(t, plainApp, ""), plainMode, event("SCAN", "123", ticket))
	if status, _, answer := ts.post(t, plainApp, query, body); status != http.StatusOK {
		t.Fatalf("status = %d (%q), want 200", status, answer)
	}
	log := ts.log.String()
	for _, want := range []string{`"app_id":"wxplain"`, `"event":"SCAN"`, `"attributed":true`, `"duplicate":true`, `"campaign":"spring"`, `"status":200`} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %s:\n%s", want, log)
		}
	}
}
