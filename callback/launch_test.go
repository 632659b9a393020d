package callback_test

import (
	"maps"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/callback"
	"github.com/wxqr/wxqr/internal/testenv"
	"github.com/wxqr/wxqr/ratelimit"
	"github.com/wxqr/wxqr/scans"
)

// launchServer serves the test apps and the Mini Program, with its launch
// limits in the test's Redis and the client's address in X-Real-IP; edit
// changes the config further.
func launchServer(t *testing.T, edit func(*callback.Config)) *testServer {
	t.Helper()
	rdb := testenv.Redis(t)
	return newServer(t, func(c *callback.Config) {
		c.Apps = append(c.Apps, callback.App{ID: mpApp, Type: wxqr.AppMP})
		c.Redis = rdb
		c.ClientIPHeader = "X-Real-IP"
		if edit != nil {
			edit(c)
		}
	})
}

// launchAnswer is the answer to a launch report.
type launchAnswer struct {
	status     int
	retryAfter string
	body       string
}

// report sends a launch report for appID from client (X-Real-IP; none when
// empty).
func (ts *testServer) report(t *testing.T, appID, client, body string) launchAnswer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, ts.URL+"/wxa/"+appID+"/launch", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if client != "" {
		req.Header.Set("X-Real-IP", client)
	}
	status, header, body := send(t, req)
	return launchAnswer{status: status, retryAfter: header.Get("Retry-After"), body: body}
}

const goodLaunch = `{"path": "pages/shop/index", "query": {"scene": "store%3D42", "from": "poster"}, "launch_scene": 1047}`

func TestLaunchRecorded(t *testing.T) {
	reported := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	ts := launchServer(t, func(c *callback.Config) { c.Now = func() time.Time { return reported } })
	if a := ts.report(t, mpApp, "198.51.100.1", goodLaunch); a.status != http.StatusNoContent {
		t.Fatalf("answer = %d %q, want 204", a.status, a.body)
	}
	got := ts.rec.recorded()
	if len(got) != 1 {
		t.Fatalf("%d events recorded, want 1", len(got))
	}
	want := scans.Event{AppID: mpApp, Type: scans.Launch, Time: reported, Path: "pages/shop/index",
		Query: map[string]string{"scene": "store%3D42", "from": "poster"}, LaunchScene: 1047}
	if !equalEvents(got[0], want) || !maps.Equal(got[0].Query, want.Query) {
		t.Errorf("recorded %+v, want %+v (the query as the Mini Program sent it)", got[0], want)
	}
}

func TestLaunchRefused(t *testing.T) {
	ts := launchServer(t, nil)
	tests := []struct {
		name, app, body string
		want            int
	}{
		{"another launch scene", mpApp, `{"path": "pages/a", "launch_scene": 1001}`, http.StatusBadRequest},
		{"no launch scene", mpApp, `{"path": "pages/a"}`, http.StatusBadRequest},
		{"no path", mpApp, `{"query": {"scene": "1"}, "launch_scene": 1048}`, http.StatusBadRequest},
		{"path too long", mpApp, `{"path": "` + strings.Repeat("p", 1025) + `", "launch_scene": 1049}`, http.StatusBadRequest},
		{"not JSON", mpApp, `path=pages/a`, http.StatusBadRequest},
		{"query not strings", mpApp, `{"path": "pages/a", "query": {"scene": 1}, "launch_scene": 1047}`, http.StatusBadRequest},
		{"too large", mpApp, `{"path": "pages/a", "launch_scene": 1047, "x": "` + strings.Repeat("x", 4<<10) + `"}`, http.StatusRequestEntityTooLarge},
		{"an Official Account", plainApp, goodLaunch, http.StatusNotFound},
		{"unknown app", "wxnobody", goodLaunch, http.StatusNotFound},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A client each, well within its limit.
			client := "198.51.100." + strconv.Itoa(i+1)
			if a := ts.report(t, tt.app, client, tt.body); a.status != tt.want {
				t.Errorf("answer = %d %q, want %d", a.status, a.body, tt.want)
			}
			if got := ts.rec.recorded(); len(got) != 0 {
				t.Errorf("recorded %+v, want nothing", got)
			}
		})
	}
}

func TestLaunchRateLimits(t *testing.T) {
	t.Run("per client and per app", func(t *testing.T) {
		ts := launchServer(t, func(c *callback.Config) {
			c.LaunchesPerClient = ratelimit.Limit{Rate: 2, Per: time.Hour, Burst: 2}
			c.LaunchesPerApp = ratelimit.Limit{Rate: 4, Per: time.Hour, Burst: 4}
		})
		steps := []struct {
			client string
			want   int
		}{
			{"198.51.100.1", http.StatusNoContent},
			{"198.51.100.1", http.StatusNoContent},
			{"198.51.100.1", http.StatusTooManyRequests}, // its own limit: the app's is not spent
			{"198.51.100.2", http.StatusNoContent},
			{"198.51.100.2", http.StatusNoContent}, // the app's fourth
			{"198.51.100.3", http.StatusTooManyRequests},
		}
		for i, s := range steps {
			a := ts.report(t, mpApp, s.client, goodLaunch)
			if a.status != s.want {
				t.Fatalf("report %d from %s = %d %q, want %d", i+1, s.client, a.status, a.body, s.want)
			}
			if s.want == http.StatusTooManyRequests {
				if secs, err := strconv.Atoi(a.retryAfter); err != nil || secs < 1 {
					t.Errorf("report %d: Retry-After = %q, want a positive number of seconds", i+1, a.retryAfter)
				}
			}
		}
		if got := len(ts.rec.recorded()); got != 4 {
			t.Errorf("%d launches recorded, want 4", got)
		}
	})

	t.Run("who a client is", func(t *testing.T) {
		ts := launchServer(t, func(c *callback.Config) {
			c.LaunchesPerClient = ratelimit.Limit{Rate: 1, Per: time.Hour}
		})
		steps := []struct {
			client string
			want   int
		}{
			{"2001:db8::1", http.StatusNoContent},
			{"2001:db8::2", http.StatusTooManyRequests}, // the same /64
			{"2001:db8:0:1::1", http.StatusNoContent},
			{"10.0.0.1, 198.51.100.7", http.StatusNoContent}, // the last address, the proxy's
			{"198.51.100.7", http.StatusTooManyRequests},
			{"::ffff:198.51.100.7", http.StatusTooManyRequests},
			{"", http.StatusNoContent},                     // no header: the connection's address
			{"not an address", http.StatusTooManyRequests}, // the same
		}
		for i, s := range steps {
			if a := ts.report(t, mpApp, s.client, goodLaunch); a.status != s.want {
				t.Errorf("report %d from %q = %d %q, want %d", i+1, s.client, a.status, a.body, s.want)
			}
		}
	})
}

func TestLaunchNotRecordedIs503(t *testing.T) {
	t.Run("recorder fails", func(t *testing.T) {
		ts := launchServer(t, nil)
		ts.rec.fail.Store(true)
		if a := ts.report(t, mpApp, "198.51.100.1", goodLaunch); a.status != http.StatusServiceUnavailable {
			t.Errorf("answer = %d %q, want 503", a.status, a.body)
		}
	})
	t.Run("Redis down", func(t *testing.T) {
		down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
		t.Cleanup(func() { down.Close() })
		ts := newServer(t, func(c *callback.Config) {
			c.Apps = append(c.Apps, callback.App{ID: mpApp, Type: wxqr.AppMP})
			c.Redis = down
		})
		if a := ts.report(t, mpApp, "", goodLaunch); a.status != http.StatusServiceUnavailable {
			t.Errorf("answer = %d %q, want 503", a.status, a.body)
		}
		if got := ts.rec.recorded(); len(got) != 0 {
			t.Errorf("recorded %+v, want nothing", got)
		}
	})
}
