package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/wxqr/wxqr/notify"
	"github.com/wxqr/wxqr/wechat/wechatsim"
)

// notices is a webhook receiver that keeps the notices it was sent, after
// checking each one's signature.
type notices struct {
	*httptest.Server
	mu       sync.Mutex
	received []notify.Event
	bad      []string
}

func newNotices(t *testing.T, secret string) *notices {
	n := &notices{}
	n.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev notify.Event
		err := json.Unmarshal(body, &ev)
		n.mu.Lock()
		defer n.mu.Unlock()
		switch {
		case !notify.Verify(secret, body, r.Header.Get(notify.HeaderSignature)):
			n.bad = append(n.bad, "a notice with a bad signature: "+string(body))
		case err != nil:
			n.bad = append(n.bad, fmt.Sprintf("a notice that is not JSON (%v): %s", err, body))
		case r.Header.Get(notify.HeaderEvent) != string(ev.Kind):
			n.bad = append(n.bad, fmt.Sprintf("%s header %q, body's event %q", notify.HeaderEvent, r.Header.Get(notify.HeaderEvent), ev.Kind))
		default:
			n.received = append(n.received, ev)
		}
	}))
	t.Cleanup(n.Close)
	return n
}

// TestNoticesOncePerEvent runs three workers on two campaigns: one
// finishes, the other runs out of its lifetime quota. The webhook must get
// exactly one signed notice for each, however many workers saw it.
func TestNoticesOncePerEvent(t *testing.T) {
	const secret = "e2e-notify-secret"
	hook := newNotices(t, secret)
	h := newHarness(t, wechatsim.Limits{PermCap: 5},
		"WXQR_NOTIFY_URL="+hook.URL+"/hooks/wxqr", "WXQR_NOTIFY_SECRET="+secret)
	var rows []string
	for i := 1; i <= 30; i++ {
		rows = append(rows, fmt.Sprintf("oa_temp,%s,%d,,,,3600,posters", oaApp, i))
	}
	for i := 1; i <= 10; i++ {
		rows = append(rows, fmt.Sprintf("oa_perm,%s,%d,,,,,stickers", oaApp, i))
	}
	h.mustRun(0, "enqueue", writeCSV(t, csvHeader, rows))

	var workers []*proc
	for range 3 {
		workers = append(workers, h.start(nil, "worker", "--until-idle"))
	}
	for i, w := range workers {
		// 3: the stickers' queue is paused on 45029.
		if r := w.wait(); r.code != 3 {
			t.Fatalf("worker %d: exit %d, want 3 (work paused)\n%s", i+1, r.code, tail(r.stderr, 30))
		}
	}

	hook.mu.Lock()
	defer hook.mu.Unlock()
	for _, bad := range hook.bad {
		t.Error(bad)
	}
	got := map[string]int{}
	for _, ev := range hook.received {
		got[string(ev.Kind)+" "+ev.Campaign]++
	}
	want := map[string]int{
		string(notify.CampaignFinished) + " posters": 1,
		string(notify.CampaignPaused) + " stickers":  1,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("notices received: %v, want %v (one per event for the whole fleet)", got, want)
	}
}
