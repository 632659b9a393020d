package e2e

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/internal/testenv"
	"github.com/wxqr/wxqr/tasks"
	"github.com/wxqr/wxqr/wechat/wechatsim"
)

// TestStorageOutage cuts the worker off from S3 in the middle of a run: no
// code is made while storage is away (the queues pause with reason
// storage after a few failed puts), the queues resume by themselves when it
// comes back, every code ends up stored, and WeChat made each exactly once.
func TestStorageOutage(t *testing.T) {
	const putFailures, concurrency = 5, 8
	s3 := testenv.S3(t)
	proxy := newCutProxy(t, s3.Endpoint)
	h := newHarness(t, wechatsim.Limits{}, "S3_ENDPOINT="+proxy.url, "WXQR_RATE_LIMITS=qrcode/create=100/s",
		fmt.Sprintf("WXQR_STORAGE_FAILURES=%d", putFailures), fmt.Sprintf("WXQR_CONCURRENCY=%d", concurrency),
		"WXQR_STORAGE_PROBE=1s")
	var rows []string
	for i := 1; i <= 400; i++ {
		rows = append(rows, fmt.Sprintf("oa_perm,%s,%d,,,,,%s", oaApp, i, campaign))
	}
	h.mustRun(0, "enqueue", writeCSV(t, csvHeader, rows))
	inspector := asynq.NewInspector(h.opt)
	t.Cleanup(func() { inspector.Close() })
	pauses := tasks.NewPauses(h.rdb, inspector)
	queue := tasks.QueueName(oaApp, wxqr.ClassOAPerm)
	storagePause := func() *tasks.PauseState {
		s, err := pauses.Paused(t.Context(), queue)
		if err != nil {
			t.Fatal(err)
		}
		if s == nil || s.Reason != tasks.ReasonStorage {
			return nil
		}
		return s
	}

	created := func() int { return h.sim.CallsByErrcode(wechatsim.APICreateQRCode, 0) }
	worker := h.start(nil, "worker", "--until-idle")
	eventually(t, 2*time.Minute, "100 codes made", func() bool { return created() >= 100 })
	proxy.cut(true)
	before := created()
	eventually(t, time.Minute, "the queue paused for storage", func() bool { return storagePause() != nil })
	// While storage stays away, the probe keeps the queue paused (it moves
	// the pause's end) and no code is made.
	first := storagePause()
	eventually(t, time.Minute, "the storage pause extended", func() bool {
		s := storagePause()
		return s != nil && s.ResumeAt.After(first.ResumeAt.Add(2*time.Second))
	})
	made := created() - before
	t.Logf("%d codes made with storage away", made)
	if made > putFailures+concurrency {
		t.Errorf("%d codes made with storage away, want at most %d (the failed puts that pause the queue, plus the codes under way)",
			made, putFailures+concurrency)
	}
	proxy.cut(false)

	r := worker.wait()
	if r.code != 0 {
		t.Fatalf("worker: exit %d\n%s", r.code, tail(r.stderr, 30))
	}
	if !strings.Contains(r.stderr, "storage answers again: queue resumed") {
		t.Errorf("the worker never said it resumed the queue:\n%s", tail(r.stderr, 30))
	}
	if list, err := pauses.List(t.Context()); err != nil || len(list) != 0 {
		t.Errorf("pauses left: %+v, %v; want none", list, err)
	}
	if proxy.refused() == 0 {
		t.Fatal("the proxy refused no connection: the outage did not happen")
	}
	if got := len(h.checkStored()); got != 400 {
		t.Errorf("%d codes stored, want 400", got)
	}
	if got := h.sim.Calls(wechatsim.APICreateQRCode); got != 400 {
		t.Errorf("qrcode/create calls = %d, want exactly one per code (400)", got)
	}
}

// cutProxy forwards TCP to a target until it is cut: then it drops every
// open connection and refuses new ones.
type cutProxy struct {
	url    string
	target string

	mu      sync.Mutex
	down    bool
	conns   map[net.Conn]struct{}
	refusal int
}

func newCutProxy(t *testing.T, endpoint string) *cutProxy {
	t.Helper()
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{url: "http://" + ln.Addr().String(), target: u.Host, conns: map[net.Conn]struct{}{}}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		p.cut(true)
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err != nil {
				continue
			}
			wg.Go(func() { p.serve(c) })
		}
	})
	return p
}

func (p *cutProxy) serve(c net.Conn) {
	if !p.track(c) {
		c.Close()
		return
	}
	defer p.untrack(c)
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	if !p.track(up) {
		up.Close()
		return
	}
	defer p.untrack(up)
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, c); done <- struct{}{} }()
	go func() { io.Copy(c, up); done <- struct{}{} }()
	<-done
}

func (p *cutProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		p.refusal++
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *cutProxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

// cut takes the target away (true) or brings it back (false).
func (p *cutProxy) cut(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for c := range p.conns {
			c.Close()
		}
	}
}

func (p *cutProxy) refused() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refusal
}
