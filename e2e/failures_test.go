package e2e

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/tasks"
	"github.com/wxqr/wxqr/wechat/wechatsim"
)

// TestAccountRefused runs a campaign for an app whose secret WeChat refuses:
// the app's queues pause with every task kept, rather than the campaign
// going to the archive one failed task at a time.
func TestAccountRefused(t *testing.T) {
	h := newHarness(t, wechatsim.Limits{},
		"WXQR_APPS="+oaApp+":not-the-secret:oa,"+mpApp+":mp-secret-0001:mp")
	var rows []string
	for i := 1; i <= 40; i++ {
		rows = append(rows, fmt.Sprintf("oa_perm,%s,%d,,,,,%s", oaApp, i, campaign))
		rows = append(rows, fmt.Sprintf("wxa_qrcode,%s,,,pages/a?id=%d,,,%s", mpApp, i, campaign))
	}
	h.mustRun(0, "enqueue", writeCSV(t, csvHeader, rows))

	r := h.mustRun(3, "worker", "--until-idle")
	if n := strings.Count(r.stderr, "WeChat refuses the app"); n != 2 {
		t.Errorf("the refusal was reported %d times, want once per queue of the app (2):\n%s", n, tail(r.stderr, 20))
	}
	if got := h.sim.CallsByErrcode(wechatsim.APICreateWxaQRCode, 0); got != 40 {
		t.Errorf("the other app made %d codes, want all 40", got)
	}
	inspector := asynq.NewInspector(h.opt)
	t.Cleanup(func() { inspector.Close() })
	info, err := inspector.GetQueueInfo(tasks.QueueName(oaApp, wxqr.ClassOAPerm))
	if err != nil {
		t.Fatal(err)
	}
	if waiting := info.Pending + info.Scheduled + info.Retry; !info.Paused || waiting != 40 || info.Archived != 0 {
		t.Errorf("refused app's queue: paused %v, %d waiting, %d archived; want paused, 40 waiting, none archived",
			info.Paused, waiting, info.Archived)
	}
	// The refused app stored nothing; the other app all its codes.
	if got := len(h.checkStored()); got != 40 {
		t.Errorf("%d codes stored, want the other app's 40", got)
	}
	if status := h.mustRun(0, "enqueue", "status"); !strings.Contains(status.stdout, "40125") {
		t.Errorf("status does not say why the app is paused (40125):\n%s", status.stdout)
	}
}

// TestWorkerKilled SIGKILLs a worker in the middle of a campaign of
// permanent codes: another worker finishes it once the dead one's leases
// run out, and no code spends the lifetime quota twice.
func TestWorkerKilled(t *testing.T) {
	h := newHarness(t, wechatsim.Limits{}, "WXQR_RATE_LIMITS=qrcode/create=40/s")
	var rows []string
	for i := 1; i <= 200; i++ {
		rows = append(rows, fmt.Sprintf("oa_perm,%s,%d,,,,,%s", oaApp, i, campaign))
	}
	h.mustRun(0, "enqueue", writeCSV(t, csvHeader, rows))

	created := func() int { return h.sim.CallsByErrcode(wechatsim.APICreateQRCode, 0) }
	doomed := h.start(nil, "worker")
	eventually(t, time.Minute, "50 codes made", func() bool { return created() >= 50 })
	if err := doomed.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	doomed.wait()

	// The survivor waits out the dead worker's leases (asynq recovers their
	// tasks within about a minute and a half).
	if r := h.mustRun(0, "worker", "--until-idle"); r.code != 0 {
		t.Fatalf("survivor: exit %d", r.code)
	}
	if got := len(h.checkStored()); got != 200 {
		t.Errorf("%d codes stored, want 200", got)
	}
	// The lifetime quota is spent once per code. A call the dead worker had
	// sent, but whose answer it never staged, is made again: that window
	// cannot be closed from this side of WeChat, and WeChat answers a
	// permanent scene created again with the same code. At most one such
	// call per handler that was under way.
	if got := h.sim.Usage(oaApp, wechatsim.APICreateQRCode).Capped; got != 200 {
		t.Errorf("permanent codes spent = %d, want 200", got)
	}
	if got := h.sim.Calls(wechatsim.APICreateQRCode); got < 200 || got > 200+8 {
		t.Errorf("qrcode/create calls = %d, want 200 plus at most the 8 under way when the worker died", got)
	}
}
