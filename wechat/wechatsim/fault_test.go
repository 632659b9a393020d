package wechatsim_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/wxqr/wxqr/wechat/wechatsim"
)

func TestFaults(t *testing.T) {
	tests := []struct {
		name  string
		fault wechatsim.Fault
		check func(t *testing.T, r response, err error)
		// wantErrcode is what CallsByErrcode counts the faulty call as; nil:
		// nothing (a transport fault).
		wantErrcode *int
		spends      bool // whether the faulty call spent a code
	}{
		{
			name:  "system busy",
			fault: wechatsim.Fault{Kind: wechatsim.FaultSystemBusy},
			check: func(t *testing.T, r response, err error) {
				if err != nil || r.contentType != "application/json; encoding=utf-8" || r.errcode(t) != -1 {
					t.Errorf("got %v, %q, %s; want errcode -1 as JSON", err, r.contentType, r.body)
				}
			},
			wantErrcode: ptr(-1),
		},
		{
			name:  "errcode",
			fault: wechatsim.Fault{Kind: wechatsim.FaultErrcode, Code: 40164},
			check: func(t *testing.T, r response, err error) {
				if err != nil || r.errcode(t) != 40164 {
					t.Errorf("got %v, %s; want errcode 40164", err, r.body)
				}
			},
			wantErrcode: ptr(40164),
		},
		{
			name:  "JSON as text/plain",
			fault: wechatsim.Fault{Kind: wechatsim.FaultJSONContentType},
			check: func(t *testing.T, r response, err error) {
				if err != nil || r.status != http.StatusOK || r.contentType != "text/plain" || r.errcode(t) != -1 {
					t.Errorf("got %v, %d %q %s; want a text/plain JSON errcode -1", err, r.status, r.contentType, r.body)
				}
			},
			wantErrcode: ptr(-1),
		},
		{
			name:  "HTTP 500",
			fault: wechatsim.Fault{Kind: wechatsim.FaultHTTP500},
			check: func(t *testing.T, r response, err error) {
				if err != nil || r.status != http.StatusInternalServerError {
					t.Errorf("got %v, status %d; want 500", err, r.status)
				}
			},
		},
		{
			name:  "reset",
			fault: wechatsim.Fault{Kind: wechatsim.FaultReset},
			check: func(t *testing.T, r response, err error) {
				if !errors.Is(err, syscall.ECONNRESET) {
					t.Errorf("got %v, status %d; want a connection reset", err, r.status)
				}
			},
		},
		{
			name:  "truncated image",
			fault: wechatsim.Fault{Kind: wechatsim.FaultTruncate},
			check: func(t *testing.T, r response, err error) {
				if !errors.Is(err, io.ErrUnexpectedEOF) || r.contentType != "image/jpeg" || len(r.body) == 0 {
					t.Errorf("got %v, %q, %d bytes; want part of an image, then io.ErrUnexpectedEOF", err, r.contentType, len(r.body))
				}
			},
			wantErrcode: ptr(0),
			spends:      true,
		},
		{
			name:  "latency",
			fault: wechatsim.Fault{Kind: wechatsim.FaultLatency, Delay: 50 * time.Millisecond},
			check: func(t *testing.T, r response, err error) {
				if err != nil || r.contentType != "image/jpeg" {
					t.Errorf("got %v, %q; want an image", err, r.contentType)
				}
			},
			wantErrcode: ptr(0),
			spends:      true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim := startSim(t, wechatsim.Config{})
			tok := classicToken(t, sim, mpID, mpSecret).AccessToken
			sim.InjectFault(wechatsim.APIGetWxaCode, tt.fault)
			target := sim.URL() + "/wxa/getwxacode?access_token=" + url.QueryEscape(tok)

			start := time.Now()
			r, err := send(t.Context(), http.MethodPost, target, `{"path":"pages/a"}`)
			tt.check(t, r, err)
			if took := time.Since(start); took < tt.fault.Delay {
				t.Errorf("answered after %v, before the %v latency", took, tt.fault.Delay)
			}
			spent := 0
			if tt.spends {
				spent = 1
			}
			if got := sim.Usage(mpID, wechatsim.APIGetWxaCode).Capped; got != spent {
				t.Errorf("Usage(getwxacode).Capped = %d after the faulty call, want %d", got, spent)
			}
			for _, code := range []int{-1, 0, 40164} {
				want := 0
				if tt.wantErrcode != nil && *tt.wantErrcode == code {
					want = 1
				}
				if got := sim.CallsByErrcode(wechatsim.APIGetWxaCode, code); got != want {
					t.Errorf("CallsByErrcode(%d) = %d after the faulty call, want %d", code, got, want)
				}
			}

			// The fault was used up: the next call is served.
			r = do(t, http.MethodPost, target, `{"path":"pages/a"}`)
			if r.contentType != "image/jpeg" {
				t.Errorf("the call after the fault got %q %s, want an image", r.contentType, r.body)
			}
			if got := sim.Calls(wechatsim.APIGetWxaCode); got != 2 {
				t.Errorf("Calls = %d, want 2", got)
			}
		})
	}
}

func ptr(v int) *int { return &v }

func TestFaultCountAndQueue(t *testing.T) {
	sim := startSim(t, wechatsim.Config{})
	sim.InjectFault(wechatsim.APIToken, wechatsim.Fault{Kind: wechatsim.FaultSystemBusy, Count: 2})
	sim.InjectFault(wechatsim.APIToken, wechatsim.Fault{Kind: wechatsim.FaultErrcode, Code: 45011})
	target := classicTokenURL(sim, oaID, oaSecret)

	// Another API is not affected.
	if got := stableToken(t, sim, oaID, oaSecret, false).Errcode; got != 0 {
		t.Errorf("stable_token: errcode %d, want 0", got)
	}
	for i, want := range []int{-1, -1, 45011, 0} {
		if got := do(t, http.MethodGet, target, "").errcode(t); got != want {
			t.Errorf("call %d: errcode %d, want %d", i+1, got, want)
		}
	}
}

func TestLatencyHonoursTheRequestContext(t *testing.T) {
	sim, err := wechatsim.New(wechatsim.Config{Apps: testApps()})
	if err != nil {
		t.Fatal(err)
	}
	// httptest's Close waits for every handler to return: it would wait the
	// hour out if the handler ignored its request's end.
	ts := httptest.NewServer(sim.Handler())
	sim.InjectFault(wechatsim.APIToken, wechatsim.Fault{Kind: wechatsim.FaultLatency, Delay: time.Hour})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	q := url.Values{"grant_type": {"client_credential"}, "appid": {oaID}, "secret": {oaSecret}}
	if _, err := send(ctx, http.MethodGet, ts.URL+"/cgi-bin/token?"+q.Encode(), ""); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want context.DeadlineExceeded", err)
	}
	closed := make(chan struct{})
	go func() {
		ts.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatalf("the delayed handler still runs after its request ended")
	}
	if got := sim.TokensIssued(oaID); got != 0 {
		t.Errorf("TokensIssued = %d: the abandoned call was processed", got)
	}
}

func TestCloseEndsLatency(t *testing.T) {
	sim := wechatsim.NewServer(wechatsim.Config{Apps: testApps()})
	sim.InjectFault(wechatsim.APIToken, wechatsim.Fault{Kind: wechatsim.FaultLatency, Delay: time.Hour})
	errc := make(chan error, 1)
	go func() {
		_, err := send(t.Context(), http.MethodGet, classicTokenURL(sim, oaID, oaSecret), "")
		errc <- err
	}()
	// Close must not wait the hour out, whether or not the request has
	// reached the server yet.
	for sim.Calls(wechatsim.APIToken) == 0 {
		select {
		case err := <-errc:
			t.Fatalf("request ended before Close: %v", err)
		case <-time.After(time.Millisecond):
		}
	}
	sim.Close()
	if err := <-errc; err == nil {
		t.Errorf("the delayed request succeeded after Close")
	}
}

func TestInjectFaultRejectsUnknownKinds(t *testing.T) {
	sim := startSim(t, wechatsim.Config{})
	defer func() {
		if recover() == nil {
			t.Errorf("InjectFault accepted kind 0")
		}
	}()
	sim.InjectFault(wechatsim.APIToken, wechatsim.Fault{})
}
