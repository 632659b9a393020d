package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/tasks"
	"github.com/wxqr/wxqr/wechat/wechatsim"
)

// TestLifetimeQuota fills the Mini Program lifetime cap mid-campaign: the
// Mini Program queue pauses with its remaining tasks kept, WeChat hears no
// more of them, the OA queue finishes, and a resume after the cap is raised
// finishes the rest.
func TestLifetimeQuota(t *testing.T) {
	const concurrency = 8
	h := newHarness(t, wechatsim.Limits{WxaCap: 150}, fmt.Sprintf("WXQR_CONCURRENCY=%d", concurrency))
	var rows []string
	for i := 1; i <= 300; i++ {
		rows = append(rows, fmt.Sprintf("wxa_qrcode,%s,,,pages/p?id=%d,,,%s", mpApp, i, campaign))
	}
	for i := 1; i <= 100; i++ {
		rows = append(rows, fmt.Sprintf("oa_temp,%s,%d,,,,,%s", oaApp, i, campaign))
	}
	h.mustRun(0, "enqueue", writeCSV(t, csvHeader, rows))

	r := h.mustRun(3, "worker", "--until-idle")
	if n := strings.Count(r.stderr, "lifetime quota spent"); n != 1 {
		t.Errorf("the worker reported the spent quota %d times, want once:\n%s", n, tail(r.stderr, 20))
	}
	created := h.sim.CallsByErrcode(wechatsim.APICreateWxaQRCode, 0)
	refused := h.sim.CallsByErrcode(wechatsim.APICreateWxaQRCode, 45029)
	if created != 150 {
		t.Errorf("Mini Program codes made = %d, want the cap, 150", created)
	}
	if refused < 1 || refused > concurrency {
		t.Errorf("createwxaqrcode calls refused with 45029 = %d, want 1..%d (only those already under way)", refused, concurrency)
	}
	if got := h.sim.CallsByErrcode(wechatsim.APICreateQRCode, 0); got != 100 {
		t.Errorf("OA codes made = %d, want all 100", got)
	}
	// The paused codes have no object yet, and must have none.
	if got := len(h.checkStored()); got != 250 {
		t.Errorf("%d codes stored, want 250", got)
	}

	inspector := asynq.NewInspector(h.opt)
	t.Cleanup(func() { inspector.Close() })
	queue := tasks.QueueName(mpApp, wxqr.ClassWxaLimited)
	info, err := inspector.GetQueueInfo(queue)
	if err != nil {
		t.Fatalf("inspect %s: %v", queue, err)
	}
	if waiting := info.Pending + info.Scheduled + info.Retry; !info.Paused || waiting != 150 || info.Archived != 0 {
		t.Errorf("%s: paused %v, %d waiting, %d archived; want paused with 150 waiting and none archived", queue, info.Paused, waiting, info.Archived)
	}
	status := h.mustRun(0, "enqueue", "status")
	if !strings.Contains(status.stdout, "45029") {
		t.Errorf("status does not show the 45029 pause:\n%s", status.stdout)
	}

	h.sim.SetLimits(mpApp, wechatsim.Limits{WxaCap: 1000})
	h.mustRun(0, "enqueue", "resume", "--app", mpApp)
	h.mustRun(0, "worker", "--until-idle")
	if got := h.sim.CallsByErrcode(wechatsim.APICreateWxaQRCode, 0); got != 300 {
		t.Errorf("Mini Program codes made after resume = %d, want 300", got)
	}
	if got := len(h.checkStored()); got != 400 {
		t.Errorf("%d codes stored after resume, want 400", got)
	}
}
