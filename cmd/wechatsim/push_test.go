package main

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/wxqr/wxqr/wechat/push"
)

const (
	pushApp    = "wx00000000000000a1"
	pushToken  = "hush-token"
	pushAESKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
)

// eventServer is an account's server that opens each push with
// push.Codec.Open and answers "success", 403 to a bad signature, and 400
// to anything else.
type eventServer struct {
	url string

	mu     sync.Mutex
	events []*push.Event
}

func newEventServer(t *testing.T, aesKey string) *eventServer {
	t.Helper()
	codec, err := push.New(push.Config{AppID: pushApp, Token: pushToken, AESKey: aesKey})
	if err != nil {
		t.Fatal(err)
	}
	es := &eventServer{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := push.ReadBody(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		ev, err := codec.Open(push.QueryFrom(r.URL.Query()), body)
		switch {
		case errors.Is(err, push.ErrSignature):
			w.WriteHeader(http.StatusForbidden)
			return
		case err != nil:
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		es.mu.Lock()
		es.events = append(es.events, ev)
		es.mu.Unlock()
		io.WriteString(w, "success")
	}))
	t.Cleanup(srv.Close)
	es.url = srv.URL + "/wechat/" + pushApp
	return es
}

func (es *eventServer) received() []*push.Event {
	es.mu.Lock()
	defer es.mu.Unlock()
	return es.events
}

func TestRunPush(t *testing.T) {
	tests := []struct {
		name       string
		aesKey     string
		args       []string
		wantEvents int
		wantKey    string
		wantTicket string // "any": a new one
		wantOut    []string
		wantErr    string
	}{
		{
			name: "subscribe, plain, twice", args: []string{"-event", "subscribe", "-scene", "spring", "-deliveries", "2"},
			wantEvents: 2, wantKey: "qrscene_spring", wantTicket: "any",
			wantOut: []string{`EventKey "qrscene_spring"`, `delivery 1: HTTP 200 in `, `delivery 2: HTTP 200 in `, `7 bytes "success"`},
		},
		{
			name: "SCAN, safe mode, ticket given", aesKey: pushAESKey,
			args:       []string{"-aes-key", pushAESKey, "-event", "SCAN", "-scene", "7", "-ticket", "gQ+/ticket==", "-openid", "oUser000000000000000000000001"},
			wantEvents: 1, wantKey: "7", wantTicket: "gQ+/ticket==",
			wantOut: []string{`pushed SCAN, EventKey "7", Ticket "gQ+/ticket=="`, "delivery 1: HTTP 200"},
		},
		{
			name: "unsubscribe", args: []string{"-event", "unsubscribe"},
			wantEvents: 1, wantOut: []string{`EventKey ""`, "delivery 1: HTTP 200"},
		},
		{
			name: "bad signature", args: []string{"-event", "SCAN", "-scene", "7", "-bad-signature"},
			wantOut: []string{"delivery 1: HTTP 403"}, wantErr: "1 of 1 deliveries not answered with HTTP 200",
		},
		{
			name: "safe mode to a plain server", args: []string{"-event", "SCAN", "-scene", "7", "-aes-key", pushAESKey},
			wantOut: []string{"delivery 1: HTTP 400"}, wantErr: "not answered",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es := newEventServer(t, tt.aesKey)
			var out strings.Builder
			args := append([]string{"push", "-url", es.url, "-app", pushApp, "-token", pushToken}, tt.args...)
			err := run(t.Context(), args, func(string) string { return "" }, &out)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("run = %v, want error %q\n%s", err, tt.wantErr, out.String())
			}
			for _, want := range tt.wantOut {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, out.String())
				}
			}
			if strings.Contains(out.String(), pushToken) || strings.Contains(out.String(), "oUser") {
				t.Errorf("output shows the token or the openid:\n%s", out.String())
			}
			got := es.received()
			if len(got) != tt.wantEvents {
				t.Fatalf("the server took %d events, want %d", len(got), tt.wantEvents)
			}
			for _, ev := range got {
				ticketOK := ev.Ticket == tt.wantTicket
				if tt.wantTicket == "any" {
					ticketOK = ev.Ticket != ""
				}
				if ev.EventKey != tt.wantKey || !ticketOK {
					t.Errorf("event: EventKey %q, Ticket %q; want %q, %q", ev.EventKey, ev.Ticket, tt.wantKey, tt.wantTicket)
				}
			}
			if tt.name == "SCAN, safe mode, ticket given" && got[0].FromUserName != "oUser000000000000000000000001" {
				t.Errorf("FromUserName %q, want the -openid", got[0].FromUserName)
			}
		})
	}
}

func TestRunPushRejects(t *testing.T) {
	base := []string{"push", "-url", "http://127.0.0.1:1/wechat/" + pushApp, "-app", pushApp, "-token", pushToken}
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no event", base, "event"},
		{"no URL", []string{"push", "-app", pushApp, "-token", pushToken, "-event", "subscribe"}, "URL is required"},
		{"no token", []string{"push", "-url", "http://127.0.0.1:1/", "-app", pushApp, "-event", "subscribe"}, "Token is required"},
		{"ticket without scene", append(base, "-event", "SCAN", "-ticket", "gQ=="), "-ticket needs -scene"},
		{"SCAN without scene", append(base, "-event", "SCAN"), "needs a ticket or a scene"},
		{"five deliveries", append(base, "-event", "unsubscribe", "-deliveries", "5"), "not in 1..4"},
		{"bad key", append(base, "-event", "unsubscribe", "-aes-key", "hush"), "EncodingAESKey"},
		{"stray argument", append(base, "-event", "unsubscribe", "extra"), "unexpected arguments"},
		{"unknown flag", append(base, "-nope"), "not defined"},
		{"nobody listening", append(base, "-event", "unsubscribe"), "1 of 1 deliveries"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			err := run(t.Context(), tt.args, func(string) string { return "" }, &out)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("run = %v, want an error containing %q\n%s", err, tt.wantErr, out.String())
			}
			if err != nil && strings.Contains(err.Error(), "hush") {
				t.Errorf("error %q holds a secret", err)
			}
		})
	}
}

func TestRunPushHelp(t *testing.T) {
	var out strings.Builder
	if err := run(t.Context(), []string{"push", "-h"}, func(string) string { return "" }, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"usage: wechatsim push", "-deliveries", "-aes-key", "-bad-signature"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("push -h lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := run(t.Context(), []string{"-h"}, func(string) string { return "" }, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "wechatsim push [flags]") {
		t.Errorf("-h does not mention push:\n%s", out.String())
	}
}
