package wechatsim_test

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxqr/wxqr/internal/fakeclock"
	"github.com/wxqr/wxqr/wechat/push"
	"github.com/wxqr/wxqr/wechat/wechatsim"
)

const (
	cbToken  = "callback-token"
	cbAESKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
)

// received is one request a receiver got, and what push.Codec.Open made
// of it.
type received struct {
	query       url.Values
	rawQuery    string
	contentType string
	body        []byte
	event       *push.Event
	err         error
}

// receiver is an account's server that checks each push as wxqr's
// receiver does, with push.Codec.Open, and records it. It answers
// "success" to a push that opens, 403 to a bad signature and 400 to
// anything else, unless hold is set: then it waits for the client to give
// up.
type receiver struct {
	url   string
	codec *push.Codec
	hold  func(r *http.Request) // called before answering, if set

	mu  sync.Mutex
	got []received
}

// newReceiver starts a receiver for the app with the token and key ("":
// plain mode only).
func newReceiver(t *testing.T, appID, aesKey string) *receiver {
	t.Helper()
	codec, err := push.New(push.Config{AppID: appID, Token: cbToken, AESKey: aesKey})
	if err != nil {
		t.Fatal(err)
	}
	rc := &receiver{codec: codec}
	srv := httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(srv.Close)
	rc.url = srv.URL + "/wechat/" + appID
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	rec := received{query: r.URL.Query(), rawQuery: r.URL.RawQuery, contentType: r.Header.Get("Content-Type")}
	rec.body, rec.err = push.ReadBody(r.Body)
	if rec.err == nil {
		rec.event, rec.err = rc.codec.Open(push.QueryFrom(rec.query), rec.body)
	}
	rc.mu.Lock()
	rc.got = append(rc.got, rec)
	rc.mu.Unlock()
	if rc.hold != nil {
		rc.hold(r)
		return
	}
	switch {
	case rec.err == nil:
		w.Write([]byte("success"))
	case errors.Is(rec.err, push.ErrSignature):
		w.WriteHeader(http.StatusForbidden)
	default:
		w.WriteHeader(http.StatusBadRequest)
	}
}

// pushes returns what the receiver got so far.
func (rc *receiver) pushes() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

// only returns the one push the receiver got, failing the test otherwise.
func (rc *receiver) only(t *testing.T) received {
	t.Helper()
	got := rc.pushes()
	if len(got) != 1 {
		t.Fatalf("the receiver got %d pushes, want 1", len(got))
	}
	return got[0]
}

// simWithCodes starts a simulator on a fake clock and makes two codes of
// the Official Account: a temporary one of scene_id 7 living 600 s and a
// permanent one of scene_str shop/1. It returns their tickets.
func simWithCodes(t *testing.T) (sim *wechatsim.Server, clock *fakeclock.Clock, temp, perm string) {
	t.Helper()
	clock = fakeclock.New(time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC))
	sim = startSim(t, wechatsim.Config{Now: clock.Now})
	tok := classicToken(t, sim, oaID, oaSecret).AccessToken
	temp = createQR(t, sim, tok, tempBody).Ticket
	perm = createQR(t, sim, tok, `{"action_name":"QR_LIMIT_STR_SCENE","action_info":{"scene":{"scene_str":"shop/1"}}}`).Ticket
	return sim, clock, temp, perm
}

func TestPushScanSignsAndEncryptsLikeWeChat(t *testing.T) {
	for _, mode := range []struct {
		name, aesKey string
	}{{"plain", ""}, {"safe mode", cbAESKey}} {
		t.Run(mode.name, func(t *testing.T) {
			sim, clock, temp, _ := simWithCodes(t)
			rc := newReceiver(t, oaID, mode.aesKey)
			res, err := sim.PushScan(t.Context(), wechatsim.Push{
				URL: rc.url + "?keep=me", AppID: oaID, Token: cbToken, AESKey: mode.aesKey,
				Event: wechatsim.EventSubscribe, Ticket: temp,
			})
			if err != nil {
				t.Fatal(err)
			}
			got := rc.only(t)
			if got.err != nil {
				t.Fatalf("Open: %v", got.err)
			}
			want := push.Event{
				XMLName:    got.event.XMLName,
				ToUserName: got.event.ToUserName, FromUserName: res.OpenID,
				CreateTime: clock.Now().Unix(), MsgType: "event",
				Event: "subscribe", EventKey: "qrscene_7", Ticket: temp,
			}
			if *got.event != want {
				t.Errorf("event %+v, want %+v", *got.event, want)
			}
			if !strings.HasPrefix(got.event.ToUserName, "gh_") || len(got.event.ToUserName) != 15 {
				t.Errorf("ToUserName %q, want gh_ and 12 hex digits", got.event.ToUserName)
			}
			if len(res.OpenID) != 28 || res.EventKey != "qrscene_7" || res.Ticket != temp || res.CreateTime != want.CreateTime {
				t.Errorf("result %+v does not say what was pushed", res)
			}
			q := got.query
			if q.Get("openid") != res.OpenID || q.Get("timestamp") != "1740823200" || q.Get("nonce") == "" || q.Get("keep") != "me" {
				t.Errorf("query %v: want the openid, the timestamp of CreateTime, a nonce, and the URL's own query", q)
			}
			// The plain signature, computed here from WeChat's description
			// rather than with push.
			parts := []string{cbToken, q.Get("timestamp"), q.Get("nonce")}
			slices.Sort(parts)
			sum := sha1.Sum([]byte(strings.Join(parts, "")))
			if q.Get("signature") != hex.EncodeToString(sum[:]) {
				t.Errorf("signature %q is not the SHA-1 of the sorted token, timestamp and nonce", q.Get("signature"))
			}
			if got.contentType != "text/xml" {
				t.Errorf("Content-Type %q, want text/xml", got.contentType)
			}
			if len(res.Deliveries) != 1 || !res.Deliveries[0].OK() || string(res.Deliveries[0].Body) != "success" {
				t.Errorf("deliveries %+v, want one answered success", res.Deliveries)
			}

			body := string(got.body)
			if mode.aesKey == "" {
				if q.Has("encrypt_type") || q.Has("msg_signature") {
					t.Errorf("plain push with %v", q)
				}
				if !strings.Contains(body, "<MsgType><![CDATA[event]]></MsgType>") || !strings.Contains(body, "<CreateTime>1740823200</CreateTime>") {
					t.Errorf("body %s is not written as WeChat writes it", body)
				}
				return
			}
			if q.Get("encrypt_type") != "aes" || q.Get("msg_signature") == "" {
				t.Errorf("safe-mode query %v lacks encrypt_type=aes or msg_signature", q)
			}
			if strings.Contains(body, res.OpenID) || !strings.Contains(body, "<Encrypt>") {
				t.Errorf("safe-mode body is not encrypted: %s", body)
			}
		})
	}
}

func TestPushScanEventKeys(t *testing.T) {
	sim, _, temp, perm := simWithCodes(t)
	rc := newReceiver(t, oaID, cbAESKey)
	const elsewhere = "gQH47joAAAAAAAAAASxodHRwOi8vd2VpeGluLnFxLmNvbS9xL2VsZXdoZXJlAAI="
	tests := []struct {
		name          string
		event         string
		ticket, scene string
		wantKey       string
		wantTicket    string // "new": a ticket the simulator did not issue
	}{
		{"subscribe, temporary code", wechatsim.EventSubscribe, temp, "", "qrscene_7", temp},
		{"SCAN, temporary code", wechatsim.EventScan, temp, "", "7", temp},
		{"subscribe, permanent code", wechatsim.EventSubscribe, perm, "", "qrscene_shop/1", perm},
		{"SCAN, permanent code", wechatsim.EventScan, perm, "", "shop/1", perm},
		{"subscribe from elsewhere", wechatsim.EventSubscribe, "", "", "", ""},
		{"unsubscribe", wechatsim.EventUnsubscribe, "", "", "", ""},
		{"subscribe, scene made elsewhere", wechatsim.EventSubscribe, "", "9001", "qrscene_9001", "new"},
		{"SCAN, scene made elsewhere", wechatsim.EventScan, "", "poster", "poster", "new"},
		{"SCAN, scene and ticket given", wechatsim.EventScan, elsewhere, "42", "42", elsewhere},
		{"scene overrides an issued ticket's", wechatsim.EventScan, temp, "8", "8", temp},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := sim.PushScan(t.Context(), wechatsim.Push{
				URL: rc.url, AppID: oaID, Token: cbToken, AESKey: cbAESKey,
				Event: tt.event, Ticket: tt.ticket, Scene: tt.scene,
			})
			if err != nil {
				t.Fatal(err)
			}
			got := rc.pushes()[i]
			if got.err != nil {
				t.Fatalf("Open: %v", got.err)
			}
			ev := got.event
			if ev.Event != tt.event || ev.EventKey != tt.wantKey || res.EventKey != tt.wantKey {
				t.Errorf("Event %q, EventKey %q (result %q); want %q, %q", ev.Event, ev.EventKey, res.EventKey, tt.event, tt.wantKey)
			}
			if ev.Ticket != res.Ticket {
				t.Errorf("pushed Ticket %q, result says %q", ev.Ticket, res.Ticket)
			}
			switch tt.wantTicket {
			case "new":
				if ev.Ticket == "" || ev.Ticket == temp || ev.Ticket == perm {
					t.Errorf("Ticket %q, want a new one", ev.Ticket)
				}
			default:
				if ev.Ticket != tt.wantTicket {
					t.Errorf("Ticket %q, want %q", ev.Ticket, tt.wantTicket)
				}
			}
			if tt.wantTicket == "" && strings.Contains(decrypt(t, rc, got), "<Ticket>") {
				t.Errorf("a push without a code has a Ticket element")
			}
		})
	}
}

// decrypt returns the message in a safe-mode push.
func decrypt(t *testing.T, rc *receiver, got received) string {
	t.Helper()
	var env struct{ Encrypt string }
	if err := xml.Unmarshal(got.body, &env); err != nil {
		t.Fatal(err)
	}
	msg, err := rc.codec.Decrypt(env.Encrypt)
	if err != nil {
		t.Fatal(err)
	}
	return string(msg)
}

func TestPushScanRepeatsDeliveries(t *testing.T) {
	sim, _, temp, _ := simWithCodes(t)
	rc := newReceiver(t, oaID, cbAESKey)
	res, err := sim.PushScan(t.Context(), wechatsim.Push{
		URL: rc.url, AppID: oaID, Token: cbToken, AESKey: cbAESKey,
		Event: wechatsim.EventScan, Ticket: temp, OpenID: "oUser0000000000000000000001", Deliveries: 4,
	})
	if err != nil {
		t.Fatal(err)
	}
	got := rc.pushes()
	if len(got) != 4 || len(res.Deliveries) != 4 {
		t.Fatalf("%d pushes received, %d deliveries reported; want 4", len(got), len(res.Deliveries))
	}
	for i, g := range got {
		if g.err != nil || !res.Deliveries[i].OK() {
			t.Errorf("delivery %d: Open: %v; answer %+v", i+1, g.err, res.Deliveries[i])
		}
		if string(g.body) != string(got[0].body) || g.rawQuery != got[0].rawQuery {
			t.Errorf("delivery %d differs from the first: a retry resends the same push", i+1)
		}
		if g.event != nil && g.event.FromUserName != "oUser0000000000000000000001" {
			t.Errorf("delivery %d: FromUserName %q, want the given openid", i+1, g.event.FromUserName)
		}
	}
}

func TestPushScanBadSignature(t *testing.T) {
	for _, aesKey := range []string{"", cbAESKey} {
		t.Run("key "+aesKey, func(t *testing.T) {
			sim, _, temp, _ := simWithCodes(t)
			rc := newReceiver(t, oaID, aesKey)
			res, err := sim.PushScan(t.Context(), wechatsim.Push{
				URL: rc.url, AppID: oaID, Token: cbToken, AESKey: aesKey,
				Event: wechatsim.EventSubscribe, Ticket: temp, BadSignature: true,
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := rc.only(t); !errors.Is(got.err, push.ErrSignature) {
				t.Errorf("Open: %v, want ErrSignature", got.err)
			}
			if d := res.Deliveries[0]; d.Status != http.StatusForbidden || d.OK() {
				t.Errorf("delivery %+v, want a 403 that is not OK", d)
			}
		})
	}
}

func TestPushScanRefuses(t *testing.T) {
	sim, clock, temp, _ := simWithCodes(t)
	sim.AddApp("wx00000000000000c3", wechatsim.App{Secret: "other", Type: wechatsim.OfficialAccount})
	rc := newReceiver(t, oaID, "")
	valid := wechatsim.Push{URL: rc.url, AppID: oaID, Token: cbToken, Event: wechatsim.EventScan, Ticket: temp}
	tests := []struct {
		name    string
		change  func(p *wechatsim.Push)
		wantErr string
	}{
		{"no URL", func(p *wechatsim.Push) { p.URL = "" }, "URL is required"},
		{"relative URL", func(p *wechatsim.Push) { p.URL = "/wechat/" + oaID }, "absolute"},
		{"no app", func(p *wechatsim.Push) { p.AppID = "" }, "AppID"},
		{"no token", func(p *wechatsim.Push) { p.Token = "" }, "Token"},
		{"unknown event", func(p *wechatsim.Push) { p.Event = "scan" }, `event "scan"`},
		{"SCAN without a code", func(p *wechatsim.Push) { p.Ticket = "" }, "needs a ticket or a scene"},
		{"unsubscribe with a ticket", func(p *wechatsim.Push) { p.Event = wechatsim.EventUnsubscribe }, "no ticket"},
		{"five deliveries", func(p *wechatsim.Push) { p.Deliveries = 5 }, "not in 1..4"},
		{"negative timeout", func(p *wechatsim.Push) { p.Timeout = -time.Second }, "negative timeout"},
		{"bad AES key", func(p *wechatsim.Push) { p.AESKey = "short-key-hush" }, "EncodingAESKey"},
		{"unknown ticket", func(p *wechatsim.Push) { p.Ticket = "bm90IGEgdGlja2V0" }, "not issued"},
		{"another app's ticket", func(p *wechatsim.Push) { p.AppID = "wx00000000000000c3" }, "not issued"},
		{"expired ticket", func(p *wechatsim.Push) { p.CreateTime = clock.Now().Add(600 * time.Second) }, "expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := valid
			tt.change(&p)
			_, err := sim.PushScan(t.Context(), p)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("PushScan = %v, want an error containing %q", err, tt.wantErr)
			}
			if err != nil && (strings.Contains(err.Error(), "hush") || strings.Contains(err.Error(), cbToken)) {
				t.Errorf("error %q holds a secret", err)
			}
			if strings.Contains(tt.wantErr, "issued") || tt.name == "expired ticket" {
				if !errors.Is(err, wechatsim.ErrUnknownTicket) {
					t.Errorf("PushScan = %v, want ErrUnknownTicket", err)
				}
			}
		})
	}
	if n := len(rc.pushes()); n != 0 {
		t.Errorf("refused pushes reached the receiver %d times", n)
	}

	t.Run("scan just before expiry", func(t *testing.T) {
		clock.Advance(time.Hour)
		p := valid
		p.CreateTime = clock.Now().Add(-time.Hour + 599*time.Second)
		if _, err := sim.PushScan(t.Context(), p); err != nil {
			t.Errorf("a scan made while the code lived, pushed after: %v", err)
		}
	})
}

func TestPushScanDeliveriesWithoutAnswer(t *testing.T) {
	sim, _, temp, _ := simWithCodes(t)
	const openID = "oSecretUser00000000000000001"

	t.Run("timeout", func(t *testing.T) {
		rc := newReceiver(t, oaID, "")
		rc.hold = func(r *http.Request) { <-r.Context().Done() }
		res, err := sim.PushScan(t.Context(), wechatsim.Push{
			URL: rc.url, AppID: oaID, Token: cbToken, Event: wechatsim.EventScan, Ticket: temp,
			OpenID: openID, Deliveries: 2, Timeout: 50 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Deliveries) != 2 || len(rc.pushes()) != 2 {
			t.Fatalf("%d deliveries, %d received; want 2: a delivery unanswered does not stop the next", len(res.Deliveries), len(rc.pushes()))
		}
		for i, d := range res.Deliveries {
			if d.OK() || d.Status != 0 || !errors.Is(d.Err, context.DeadlineExceeded) || d.Duration < 50*time.Millisecond {
				t.Errorf("delivery %d: %+v, want a timeout after 50 ms", i+1, d)
			}
			if d.Err != nil && (strings.Contains(d.Err.Error(), openID) || !strings.Contains(d.Err.Error(), "openid=REDACTED")) {
				t.Errorf("delivery %d: error %q shows the openid", i+1, d.Err)
			}
		}
	})

	t.Run("refused", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		srv.Close()
		res, err := sim.PushScan(t.Context(), wechatsim.Push{
			URL: srv.URL, AppID: oaID, Token: cbToken, Event: wechatsim.EventUnsubscribe, OpenID: openID,
		})
		if err != nil {
			t.Fatal(err)
		}
		if d := res.Deliveries[0]; d.Err == nil || strings.Contains(d.Err.Error(), openID) {
			t.Errorf("delivery %+v, want an error without the openid", d)
		}
	})

	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		rc := newReceiver(t, oaID, "")
		rc.hold = func(r *http.Request) {
			cancel()
			<-r.Context().Done()
		}
		res, err := sim.PushScan(ctx, wechatsim.Push{
			URL: rc.url, AppID: oaID, Token: cbToken, Event: wechatsim.EventScan, Ticket: temp, Deliveries: 3,
		})
		if !errors.Is(err, context.Canceled) || len(res.Deliveries) != 1 {
			t.Errorf("PushScan = %v with %d deliveries, want context.Canceled after 1", err, len(res.Deliveries))
		}
	})

	t.Run("redirect not followed", func(t *testing.T) {
		target := newReceiver(t, oaID, "")
		srv := httptest.NewServer(http.RedirectHandler(target.url, http.StatusTemporaryRedirect))
		t.Cleanup(srv.Close)
		res, err := sim.PushScan(t.Context(), wechatsim.Push{
			URL: srv.URL, AppID: oaID, Token: cbToken, Event: wechatsim.EventScan, Ticket: temp,
		})
		if err != nil {
			t.Fatal(err)
		}
		if d := res.Deliveries[0]; d.Status != http.StatusTemporaryRedirect || len(target.pushes()) != 0 {
			t.Errorf("delivery %+v, %d pushes at the redirect's target; want the 307 reported and not followed", d, len(target.pushes()))
		}
	})
}

func TestTickets(t *testing.T) {
	sim, clock, temp, perm := simWithCodes(t)
	tok := classicToken(t, sim, oaID, oaSecret).AccessToken
	again := createQR(t, sim, tok, `{"action_name":"QR_LIMIT_STR_SCENE","action_info":{"scene":{"scene_str":"shop/1"}}}`).Ticket
	if again != perm {
		t.Fatalf("a permanent scene made again has a new ticket")
	}
	tempStr := createQR(t, sim, tok, `{"expire_seconds":60,"action_name":"QR_STR_SCENE","action_info":{"scene":{"scene_str":"spring"}}}`).Ticket
	start := clock.Now()
	want := []wechatsim.IssuedTicket{
		{Ticket: temp, Scene: "7", ExpiresAt: start.Add(600 * time.Second)},
		{Ticket: perm, Scene: "shop/1", Permanent: true},
		{Ticket: tempStr, Scene: "spring", ExpiresAt: start.Add(60 * time.Second)},
	}
	if got := sim.Tickets(oaID); !slices.EqualFunc(got, want, sameTicket) {
		t.Errorf("Tickets = %+v, want %+v", got, want)
	}
	if got := sim.Tickets(mpID); len(got) != 0 {
		t.Errorf("Tickets of another app = %+v, want none", got)
	}
	clock.Advance(60 * time.Second)
	if got := sim.Tickets(oaID); !slices.EqualFunc(got, want[:2], sameTicket) {
		t.Errorf("Tickets after the spring code expired = %+v, want %+v", got, want[:2])
	}
}

func sameTicket(a, b wechatsim.IssuedTicket) bool {
	return a.Ticket == b.Ticket && a.Scene == b.Scene && a.Permanent == b.Permanent && a.ExpiresAt.Equal(b.ExpiresAt)
}
