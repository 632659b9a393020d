package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxqr/wxqr/wechat/wechatsim"
)

// TestSharedRateLimit runs two worker processes under one cluster-wide limit
// of 16 calls/s against a simulator that refuses more than 20 in a clock
// second: WeChat never says 45011, and the measured rate is at most 10% over
// 16/s. The limiter spaces calls by Redis's clock while WeChat counts them as
// they arrive, so a call delayed across a second's boundary lands in the next
// one; the 4 spare calls a second are the headroom the README asks of a
// configured limit. (How close to the limit the fleet gets depends on the
// machine's load: that is a figure for a benchmark, not a test.)
func TestSharedRateLimit(t *testing.T) {
	const (
		wechatRate = 20
		rate       = 16
	)
	sim, err := wechatsim.New(wechatsim.Config{
		Apps: map[string]wechatsim.App{
			oaApp: {Secret: "oa-secret-0001", Type: wechatsim.OfficialAccount},
			mpApp: {Secret: "mp-secret-0001", Type: wechatsim.MiniProgram},
		},
		Limits: wechatsim.Limits{PerSecond: map[string]int{wechatsim.APICreateQRCode: wechatRate}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var calls callTimes
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/qrcode/create") {
			calls.add(time.Now())
		}
		sim.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	h := newHarnessWith(t, sim, srv.URL, fmt.Sprintf("WXQR_RATE_LIMITS=qrcode/create=%d/s", rate))

	var rows []string
	for i := 1; i <= 200; i++ {
		rows = append(rows, fmt.Sprintf("oa_perm,%s,%d,,,,,%s", oaApp, i, campaign))
	}
	h.mustRun(0, "enqueue", writeCSV(t, csvHeader, rows))
	workers := []*proc{h.start(nil, "worker", "--until-idle"), h.start(nil, "worker", "--until-idle")}
	for i, w := range workers {
		if r := w.wait(); r.code != 0 {
			t.Fatalf("worker %d: exit %d\n%s", i, r.code, tail(r.stderr, 30))
		}
	}

	if n := sim.CallsByErrcode(wechatsim.APICreateQRCode, 45011); n != 0 {
		t.Errorf("WeChat refused %d calls with 45011, want none", n)
	}
	if got := sim.CallsByErrcode(wechatsim.APICreateQRCode, 0); got != 200 {
		t.Errorf("codes made = %d, want 200", got)
	}
	if got := len(h.checkStored()); got != 200 {
		t.Errorf("%d codes stored, want 200", got)
	}
	measured := calls.rate()
	t.Logf("measured %.2f calls/s over %d calls", measured, calls.len())
	if measured > rate*1.1 {
		t.Errorf("measured rate %.2f calls/s, want at most 10%% over %d", measured, rate)
	}
}

// callTimes records when calls arrived.
type callTimes struct {
	mu    sync.Mutex
	times []time.Time
}

func (c *callTimes) add(t time.Time) {
	c.mu.Lock()
	c.times = append(c.times, t)
	c.mu.Unlock()
}

func (c *callTimes) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.times)
}

// rate is calls per second between the first call and the last.
func (c *callTimes) rate() float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.times) < 2 {
		return 0
	}
	span := c.times[len(c.times)-1].Sub(c.times[0])
	return float64(len(c.times)-1) / span.Seconds()
}
