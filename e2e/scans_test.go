package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/internal/testenv"
	"github.com/wxqr/wxqr/scans"
	"github.com/wxqr/wxqr/wechat/wechatsim"
)

// The scan tests' apps: the OA app of every test takes plain pushes, a
// second one safe-mode pushes, and a third has an existing server too slow
// for WeChat's 5 s. The first two forward to a server that answers.
const (
	aesApp        = "wxe2eoa0003"
	slowApp       = "wxe2eoa0002"
	scanToken     = "e2e-callback-token"
	scanAESKey    = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	upstreamReply = "<xml><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hello from the bot]]></Content></xml>"
)

// scanSim is a simulator that knows the scan tests' apps.
func scanSim(t *testing.T) *wechatsim.Server {
	sim := wechatsim.NewServer(wechatsim.Config{Apps: map[string]wechatsim.App{
		oaApp:   {Secret: "oa-secret-0001", Type: wechatsim.OfficialAccount},
		aesApp:  {Secret: "oa-secret-0003", Type: wechatsim.OfficialAccount},
		slowApp: {Secret: "oa-secret-0002", Type: wechatsim.OfficialAccount},
		mpApp:   {Secret: "mp-secret-0001", Type: wechatsim.MiniProgram},
	}})
	t.Cleanup(sim.Close)
	return sim
}

// writeScanApps writes the apps file with each app's server configuration
// and returns its WXQR_APPS value. An empty forward URL is none.
func writeScanApps(t *testing.T, forward, slowForward string) string {
	t.Helper()
	apps := []map[string]string{
		{"app_id": oaApp, "secret": "oa-secret-0001", "kind": "oa", "callback_token": scanToken, "callback_forward": forward},
		{"app_id": aesApp, "secret": "oa-secret-0003", "kind": "oa", "callback_token": scanToken,
			"callback_aes_key": scanAESKey, "callback_forward": forward},
		{"app_id": slowApp, "secret": "oa-secret-0002", "kind": "oa", "callback_token": scanToken, "callback_forward": slowForward},
		{"app_id": mpApp, "secret": "mp-secret-0001", "kind": "mp"},
	}
	for _, app := range apps {
		if app["callback_forward"] == "" {
			delete(app, "callback_forward")
		}
	}
	data, err := json.Marshal(apps)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "apps.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return "@" + path
}

// upstream is the account's existing server: it answers every push with
// upstreamReply and counts the requests.
type upstream struct {
	*httptest.Server
	mu       sync.Mutex
	requests int
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		u.mu.Lock()
		u.requests++
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/xml")
		io.WriteString(w, upstreamReply)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.requests
}

// slowUpstream answers after 6 s, a second past WeChat's patience.
func slowUpstream(t *testing.T) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(6 * time.Second):
			io.WriteString(w, "too late")
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// scanRows are the two campaigns: spring's temporary codes of the plain app
// live 5 minutes (to be regenerated); summer's permanent codes share their
// scene ids with spring's temporary ones (the ticket tells them apart).
func scanRows() []string {
	var rows []string
	for i := 1; i <= 20; i++ {
		rows = append(rows, fmt.Sprintf("oa_temp,%s,%d,,,,300,spring", oaApp, i))
	}
	for i := 1; i <= 10; i++ {
		rows = append(rows, fmt.Sprintf("oa_perm,%s,%d,,,,,summer", oaApp, i))
		rows = append(rows, fmt.Sprintf("oa_perm,%s,%d,,,,,spring", oaApp, 10+i))
		rows = append(rows, fmt.Sprintf("oa_perm,%s,,summer-%d,,,,summer", aesApp, i))
	}
	for i := 1; i <= 15; i++ {
		rows = append(rows, fmt.Sprintf("oa_temp,%s,,spring-%d,,,86400,spring", aesApp, i))
	}
	return rows
}

// TestScanAttribution makes two campaigns, regenerates some codes, and
// pushes 1,000 events through a callback process as WeChat would: plain and
// safe mode, new users, followers and unfollows, each delivered 1 to 3
// times, 50 with a bad signature and 50 for scenes wxqr never made. Every
// count must come out exact in the export, status, the campaigns page and
// the metrics; the account's own server gets every push and its replies
// reach WeChat.
func TestScanAttribution(t *testing.T) {
	up := newUpstream(t)
	slow := slowUpstream(t)
	sim := scanSim(t)
	h := newHarnessWith(t, sim, sim.URL(), "WXQR_APPS="+writeScanApps(t, up.URL+"/wechat?via=wxqr", slow.URL))

	h.mustRun(0, "enqueue", writeCSV(t, csvHeader, scanRows()))
	h.mustRun(0, "worker", "--until-idle")
	h.mustRun(0, "enqueue", "regen", "--within", "10m", "--campaign", "spring")
	h.mustRun(0, "worker", "--until-idle")
	codes := h.scanCodes(sim)

	base, callback := h.startCallback(h.env)
	targets := map[string]pushTarget{
		oaApp:  {url: base + "/wechat/" + oaApp, token: scanToken},
		aesApp: {url: base + "/wechat/" + aesApp, token: scanToken, aesKey: scanAESKey},
	}
	plan := newScanPlan(scanPlanConfig{
		targets: targets, codes: codes, events: 1000, badSignatures: 50, unknownScenes: 50,
		usersPerApp: 150, start: time.Now().Add(-time.Hour).Truncate(time.Second),
	}, rand.New(rand.NewPCG(9, 1)))
	oldTickets, deliveries := pushPlan(t, sim, plan)
	if oldTickets == 0 {
		t.Fatal("no push named a regenerated code by its previous ticket: the plan tests nothing of generations")
	}
	if got := up.count(); got != deliveries {
		t.Errorf("the account's server got %d pushes, want %d (every delivery of every valid push, no bad one)", got, deliveries)
	}

	logs := callback.stdout.String() + callback.stderr.String()
	for _, secret := range []string{scanToken, scanAESKey, "oE2E"} {
		if strings.Contains(logs, secret) {
			t.Errorf("callback's log holds %q (a token, a key or an openid)", secret)
		}
	}

	h.checkScanExport(plan, codes)
	h.checkScanStatus(plan.campaignCounts(codes))
	h.checkScanPages(plan, codes)

	t.Run("a slow upstream still gets WeChat its answer in time", func(t *testing.T) {
		res, err := sim.PushScan(t.Context(), wechatsim.Push{
			URL: base + "/wechat/" + slowApp, AppID: slowApp, Token: scanToken,
			Event: wechatsim.EventSubscribe, Scene: "elsewhere",
		})
		if err != nil {
			t.Fatal(err)
		}
		d := res.Deliveries[0]
		if !d.OK() || string(d.Body) != "success" || d.Duration >= 5*time.Second {
			t.Errorf("answer: status %d, body %q after %v; want 200 \"success\" within 5 s", d.Status, d.Body, d.Duration)
		}
	})
}

// scanCodes returns the catalog's OA codes with every ticket WeChat issued
// for each (the previous generation's first), checking that the record holds
// the latest.
func (h *harness) scanCodes(sim *wechatsim.Server) []*scanCode {
	h.t.Helper()
	type sceneOf struct {
		app, scene string
		perm       bool
	}
	byScene := map[sceneOf]*scanCode{}
	var codes []*scanCode
	records := map[string]wxqr.Record{}
	for _, rec := range h.export() {
		code := &scanCode{id: rec.ID, campaign: rec.Campaign, app: rec.AppID}
		byScene[sceneOf{rec.AppID, rec.Scene(), rec.Kind == wxqr.KindOAPerm}] = code
		codes = append(codes, code)
		records[rec.ID] = rec
	}
	for _, app := range []string{oaApp, aesApp} {
		for _, it := range sim.Tickets(app) {
			code := byScene[sceneOf{app, it.Scene, it.Permanent}]
			if code == nil {
				h.t.Fatalf("WeChat issued a ticket for %s scene %s that the catalog does not know", app, it.Scene)
			}
			code.tickets = append(code.tickets, it.Ticket)
		}
	}
	regenerated := 0
	for _, code := range codes {
		if len(code.tickets) == 0 || records[code.id].Ticket != code.tickets[len(code.tickets)-1] {
			h.t.Fatalf("code %s: the record's ticket is not the latest WeChat issued (%d issued)", code.id, len(code.tickets))
		}
		if len(code.tickets) > 1 {
			regenerated++
		}
	}
	if regenerated != 20 {
		h.t.Fatalf("%d codes have two tickets, want the 20 regenerated", regenerated)
	}
	return codes
}

// startCallback starts the callback command with env on a port of its own
// and returns its base URL once it answers, and the process.
func (h *harness) startCallback(env []string) (string, *proc) {
	h.t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(freePort(h.t))
	withAddr := *h
	withAddr.env = append(slices.Clone(env), "WXQR_CALLBACK_ADDR="+addr)
	p := withAddr.start(nil, "callback")
	base := "http://" + addr
	eventually(h.t, time.Minute, "callback answering", func() bool {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return base, p
}

// pushPlan pushes every user's sequence, users side by side, and checks
// each delivery's answer: the upstream's reply for a valid push, 403 for a
// bad signature. It returns how many valid pushes named a previous ticket and
// how many deliveries of valid pushes were made.
func pushPlan(t *testing.T, sim *wechatsim.Server, plan *scanPlan) (oldTickets, deliveries int) {
	t.Helper()
	var mu sync.Mutex
	var problems []string
	work := make(chan []plannedPush)
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			for seq := range work {
				for _, p := range seq {
					problem, n := pushOne(t.Context(), sim, p)
					mu.Lock()
					if problem != "" {
						problems = append(problems, problem)
					}
					if p.valid {
						deliveries += n
						if p.oldTicket {
							oldTickets++
						}
					}
					mu.Unlock()
				}
			}
		})
	}
	for _, seq := range plan.users {
		work <- seq
	}
	close(work)
	wg.Wait()
	if len(problems) > 0 {
		t.Fatalf("%d pushes were not answered as WeChat needs, e.g.:\n%s", len(problems), problems[0])
	}
	return oldTickets, deliveries
}

// pushOne pushes p and says what is wrong with the answers, if anything.
func pushOne(ctx context.Context, sim *wechatsim.Server, p plannedPush) (problem string, deliveries int) {
	res, err := sim.PushScan(ctx, p.push)
	if err != nil {
		return fmt.Sprintf("%s %s: %v", p.push.AppID, p.push.Event, err), 0
	}
	for i, d := range res.Deliveries {
		switch {
		case !p.valid && d.Status != http.StatusForbidden:
			return fmt.Sprintf("bad signature, delivery %d: status %d, want 403", i+1, d.Status), len(res.Deliveries)
		case p.valid && (!d.OK() || string(d.Body) != upstreamReply):
			return fmt.Sprintf("%s %s, delivery %d: status %d body %q, want 200 with the upstream's reply",
				p.push.AppID, p.push.Event, i+1, d.Status, d.Body), len(res.Deliveries)
		}
	}
	return "", len(res.Deliveries)
}

// TestCallbackRedisDown: while Redis is down a push is answered 503, so that
// WeChat delivers it again; once Redis is back, the next delivery is counted,
// once.
func TestCallbackRedisDown(t *testing.T) {
	redisServer, ropts := startRedis(t)
	sim := scanSim(t)
	h := newHarnessOn(t, sim, sim.URL(), ropts, testenv.S3(t), "WXQR_APPS="+writeScanApps(t, "", ""))
	base, _ := h.startCallback(h.env)
	push := wechatsim.Push{
		URL: base + "/wechat/" + oaApp, AppID: oaApp, Token: scanToken, OpenID: "oE2EredisDown",
		Event: wechatsim.EventSubscribe, Scene: "elsewhere", Ticket: "t-elsewhere",
		CreateTime: time.Now().Truncate(time.Second),
	}

	redisServer.kill()
	res, err := sim.PushScan(t.Context(), push)
	if err != nil {
		t.Fatal(err)
	}
	if d := res.Deliveries[0]; d.Status != http.StatusServiceUnavailable {
		t.Fatalf("with Redis down: status %d, want 503 (WeChat delivers it again)", d.Status)
	}

	redisServer.start()
	push.Deliveries = 2
	if res, err = sim.PushScan(t.Context(), push); err != nil {
		t.Fatal(err)
	}
	for i, d := range res.Deliveries {
		if !d.OK() {
			t.Errorf("Redis back, delivery %d: status %d, want 200", i+1, d.Status)
		}
	}
	store, err := scans.New(t.Context(), h.rdb, h.cat, scans.Config{})
	if err != nil {
		t.Fatal(err)
	}
	totals, err := store.EventTotals(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := []scans.EventTotal{{AppID: oaApp, Event: scans.Subscribe, Attributed: false, N: 1}}
	if !slices.Equal(totals, want) {
		t.Errorf("events counted: %+v, want %+v", totals, want)
	}
}
