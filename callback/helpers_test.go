package callback_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/rs/zerolog"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/callback"
	"github.com/wxqr/wxqr/scans"
	"github.com/wxqr/wxqr/wechat/push"
)

// The apps of the tests, and their secrets. Every secret holds "s3cr3t" or
// is listed in secrets, so that a log line showing one is caught.
const (
	aesApp    = "wxaes"   // safe and compatible modes, with a previous key
	plainApp  = "wxplain" // plain mode only
	noPushApp = "wxquiet" // no callback token
	mpApp     = "wxmp"    // a Mini Program

	token       = "tok-s3cr3t"
	aesKey      = "s3cr3tKEY0123456789abcdefghijklmnopqrstuvwx"
	previousKey = "s3cr3tOLD0123456789abcdefghijklmnopqrstuvwx"

	openID = "oOPENIDs3cr3t-user"
	ticket = "gQTICKETs3cr3t=="
)

// fakeRecorder keeps the events it is given. It stands in for scans.Store
// only where the handler's HTTP behaviour is tested: scans has its own
// tests against Redis.
type fakeRecorder struct {
	// fail, when set, makes Record fail, quoting the openid as a careless
	// store might.
	fail atomic.Bool
	// hang, when set, makes Record wait for its context to end, as a call
	// to a Redis that does not answer does.
	hang atomic.Bool
	// invalid, when set, makes Record refuse every event as the store
	// refuses one it cannot count.
	invalid atomic.Bool

	mu     sync.Mutex
	events []scans.Event
	out    scans.Outcome
}

func (f *fakeRecorder) Record(ctx context.Context, ev scans.Event) (scans.Outcome, error) {
	if f.hang.Load() {
		<-ctx.Done()
		return scans.Outcome{}, ctx.Err()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail.Load() {
		return scans.Outcome{}, errors.New("redis down while recording " + ev.OpenID + " " + ev.Ticket)
	}
	if f.invalid.Load() {
		return scans.Outcome{}, fmt.Errorf("%w: cannot count %s", scans.ErrInvalidEvent, ev.OpenID)
	}
	f.events = append(f.events, ev)
	return f.out, nil
}

// answer makes Record return out from now on.
func (f *fakeRecorder) answer(out scans.Outcome) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.out = out
}

func (f *fakeRecorder) recorded() []scans.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]scans.Event(nil), f.events...)
}

// testServer is a Handler served over HTTP, its recorder and its log.
type testServer struct {
	*httptest.Server
	rec *fakeRecorder
	log *lockedBuffer
}

// newServer serves a Handler with the test apps (the Mini Program only
// when cfg has Redis), changed by edit, and checks at the end that its log
// shows no secret.
func newServer(t *testing.T, edit func(*callback.Config)) *testServer {
	t.Helper()
	ts := &testServer{rec: &fakeRecorder{}, log: &lockedBuffer{}}
	cfg := callback.Config{
		Apps: []callback.App{
			{ID: aesApp, Type: wxqr.AppOA, Token: token, AESKey: aesKey, PreviousAESKey: previousKey},
			{ID: plainApp, Type: wxqr.AppOA, Token: token},
			{ID: noPushApp, Type: wxqr.AppOA},
		},
		Recorder: ts.rec,
		Logger:   zerolog.New(ts.log).Level(zerolog.DebugLevel),
	}
	if edit != nil {
		edit(&cfg)
	}
	h, err := callback.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ts.Server = httptest.NewServer(h)
	t.Cleanup(ts.Close)
	t.Cleanup(func() {
		out := ts.log.String()
		for _, secret := range []string{"s3cr3t", aesKey[9:], openID, ticket} {
			if strings.Contains(out, secret) {
				t.Errorf("the log shows a secret (%s):\n%s", secret, out)
			}
		}
	})
	return ts
}

// lockedBuffer is a log sink the handler's goroutines may share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// codec returns the codec WeChat would use for appID with these keys.
func codec(t *testing.T, appID, key string) *push.Codec {
	t.Helper()
	c, err := push.New(push.Config{AppID: appID, Token: token, AESKey: key})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// event is a pushed event's XML.
func event(typ, key, ticket string) []byte {
	var b strings.Builder
	b.WriteString("<xml><ToUserName>gh_account</ToUserName><FromUserName>" + openID + "</FromUserName>")
	b.WriteString("<CreateTime>1700000000</CreateTime><MsgType>event</MsgType><Event>" + typ + "</Event>")
	if key != "" {
		b.WriteString("<EventKey>" + key + "</EventKey>")
	}
	if ticket != "" {
		b.WriteString("<Ticket>" + ticket + "</Ticket>")
	}
	b.WriteString("</xml>")
	return []byte(b.String())
}

// Push modes.
const (
	plainMode  = "plain"
	compatMode = "compat" // encrypted, with the plain fields beside
	safeMode   = "safe"
)

// sealed returns the query string and body WeChat sends for msg in mode;
// c must have a key for the encrypted modes.
func sealed(t *testing.T, c *push.Codec, mode string, msg []byte) (string, []byte) {
	t.Helper()
	q, body, err := c.Seal("gh_account", msg, "1700000000", "n0nce")
	if err != nil {
		t.Fatal(err)
	}
	switch mode {
	case plainMode:
		if q.EncryptType != "" {
			t.Fatal("sealed: a plain push from a codec with a key")
		}
	case compatMode:
		// The plain message's fields, then the envelope's Encrypt.
		plain := strings.TrimSuffix(string(msg), "</xml>")
		encrypt := body[bytes.Index(body, []byte("<Encrypt>")):bytes.Index(body, []byte("</xml>"))]
		body = []byte(plain + string(encrypt) + "</xml>")
	}
	values := q.Values()
	values.Set("openid", openID) // WeChat adds it; the handler must not log it
	return values.Encode(), body
}

// post sends a push to appID and returns the answer's status, Content-Type
// and body.
func (ts *testServer) post(t *testing.T, appID, rawQuery string, body []byte) (int, string, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, ts.URL+"/wechat/"+appID+"?"+rawQuery, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/xml")
	return do(t, req)
}

// do sends req and returns the answer's status, Content-Type and body.
func do(t *testing.T, req *http.Request) (int, string, string) {
	t.Helper()
	status, header, body := send(t, req)
	return status, header.Get("Content-Type"), body
}

// send sends req and returns the answer's status, header and body.
func send(t *testing.T, req *http.Request) (int, http.Header, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(data)
}
