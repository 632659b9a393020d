package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/tasks"
	"github.com/wxqr/wxqr/wechat/wechatsim"
)

// The chaos run's shape.
const (
	chaosWorkers     = 3
	chaosConcurrency = 4 // handlers per worker
	// chaosTimeout bounds the run, from the first worker's start to the
	// last one's exit: a killed worker's tasks come back only when their
	// lease runs out (about a minute and a half), on a 2-core machine under
	// the race detector.
	chaosTimeout = 6 * time.Minute
	// minioOutage is how long MinIO stays dead.
	minioOutage = 10 * time.Second
	// redisOutage is how long Redis stays dead before it restarts from its
	// append-only file.
	redisOutage = 2 * time.Second
	// maxReplacements bounds how many workers the test starts in place of
	// ones that exited with an error while work remained.
	maxReplacements = 6
)

// The faults every endpoint suffers. Each kind that a client can tell apart
// is present everywhere; showqrcode fails 12% of the time, the code-making
// APIs 4% (each temporary code made again after a truncated answer counts
// against the 1.02 creates per code they may spend), the token endpoints
// 40% (they are called a handful of times in a run).
var (
	chaosLatency = wechatsim.FaultRate{Kind: wechatsim.FaultLatency, P: 0.10, Delay: 20 * time.Millisecond, MaxDelay: 50 * time.Millisecond}
	chaosRates   = map[string][]wechatsim.FaultRate{
		wechatsim.APIShowQRCode:          eachFault(0.03),
		wechatsim.APICreateQRCode:        eachFault(0.01),
		wechatsim.APICreateWxaQRCode:     eachFault(0.01),
		wechatsim.APIGetWxaCode:          eachFault(0.01),
		wechatsim.APIGetWxaCodeUnlimited: eachFault(0.01),
		wechatsim.APIStableToken:         eachFault(0.10),
		wechatsim.APIToken:               eachFault(0.10),
	}
	// chaosFaultKinds are the faults that fail a call (latency only slows
	// it).
	chaosFaultKinds = []wechatsim.FaultKind{wechatsim.FaultSystemBusy, wechatsim.FaultHTTP500, wechatsim.FaultReset, wechatsim.FaultTruncate}
)

// eachFault is every failing kind at probability p, and latency.
func eachFault(p float64) []wechatsim.FaultRate {
	rates := []wechatsim.FaultRate{chaosLatency}
	for _, k := range chaosFaultKinds {
		rates = append(rates, wechatsim.FaultRate{Kind: k, P: p})
	}
	return rates
}

// chaosCode is one code of the campaign: its spec, and the call that makes
// it, as the simulator counts it.
type chaosCode struct {
	spec wxqr.Spec
	req  wechatsim.CodeRequest
}

// chaosCampaign is 600 codes of every kind: temporary by id and by string,
// permanent by id and by string, and the three Mini Program kinds.
func chaosCampaign() (rows []string, codes []chaosCode) {
	add := func(row string, spec wxqr.Spec, req wechatsim.CodeRequest) {
		rows = append(rows, row)
		spec = spec.Normalize()
		req.AppID, req.API = spec.AppID, spec.Kind.API()
		codes = append(codes, chaosCode{spec, req})
	}
	for i := 1; i <= 150; i++ {
		add(fmt.Sprintf("oa_temp,%s,%d,,,,86400,%s", oaApp, 5000+i, campaign),
			wxqr.Spec{Kind: wxqr.KindOATemp, AppID: oaApp, SceneID: int64(5000 + i)},
			wechatsim.CodeRequest{Action: "QR_SCENE", SceneID: int64(5000 + i)})
	}
	for i := 1; i <= 100; i++ {
		scene := fmt.Sprintf("chaos+%d/x y", i)
		add(fmt.Sprintf("oa_temp,%s,,%s,,,86400,%s", oaApp, scene, campaign),
			wxqr.Spec{Kind: wxqr.KindOATemp, AppID: oaApp, SceneStr: scene},
			wechatsim.CodeRequest{Action: "QR_STR_SCENE", Scene: scene})
	}
	for i := 1; i <= 100; i++ {
		add(fmt.Sprintf("oa_perm,%s,%d,,,,,%s", oaApp, i, campaign),
			wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: oaApp, SceneID: int64(i)},
			wechatsim.CodeRequest{Action: "QR_LIMIT_SCENE", SceneID: int64(i)})
	}
	for i := 1; i <= 50; i++ {
		scene := fmt.Sprintf("perm-%d", i)
		add(fmt.Sprintf("oa_perm,%s,,%s,,,,%s", oaApp, scene, campaign),
			wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: oaApp, SceneStr: scene},
			wechatsim.CodeRequest{Action: "QR_LIMIT_STR_SCENE", Scene: scene})
	}
	for i := 1; i <= 70; i++ {
		path := fmt.Sprintf("pages/item/index?id=%d", i)
		spec := wxqr.Spec{Kind: wxqr.KindWxaQRCode, AppID: mpApp, Path: path, Width: 300}
		add(fmt.Sprintf("wxa_qrcode,%s,,,%s,300,,%s", mpApp, path, campaign), spec,
			wechatsim.CodeRequest{Path: path, Width: 300})
	}
	for i := 1; i <= 70; i++ {
		path := fmt.Sprintf("pages/shop/index?id=%d", i)
		add(fmt.Sprintf("wxa_code,%s,,,%s,,,%s", mpApp, path, campaign),
			wxqr.Spec{Kind: wxqr.KindWxaCode, AppID: mpApp, Path: path},
			wechatsim.CodeRequest{Path: path, Width: wxqr.DefaultWidth})
	}
	for i := 1; i <= 60; i++ {
		scene := fmt.Sprintf("u=%d", i)
		add(fmt.Sprintf("wxa_unlimited,%s,,%s,pages/land/index,,,%s", mpApp, scene, campaign),
			wxqr.Spec{Kind: wxqr.KindWxaUnlimited, AppID: mpApp, SceneStr: scene, Path: "pages/land/index"},
			wechatsim.CodeRequest{Path: "pages/land/index", Scene: scene, Width: wxqr.DefaultWidth})
	}
	return rows, codes
}

// TestChaos runs a mixed campaign of 600 codes on 3 worker processes while
// everything around them fails: WeChat answers -1, HTTP 500, resets,
// truncated bodies and latency on every endpoint, the access tokens are
// invalidated, MinIO dies for 10 s, Redis is SIGKILLed and restarts from
// its append-only file, and a worker is SIGKILLed. Then every code must be
// stored whole, made once, with no task archived or lost and no secret in
// any log.
func TestChaos(t *testing.T) {
	redisSrv, ropts := startRedis(t)
	minio, s3 := startMinIO(t)
	sim := wechatsim.NewServer(wechatsim.Config{
		Apps: map[string]wechatsim.App{
			oaApp: {Secret: "oa-secret-0001", Type: wechatsim.OfficialAccount},
			mpApp: {Secret: "mp-secret-0001", Type: wechatsim.MiniProgram},
		},
		FaultSeed: 20260101,
	})
	t.Cleanup(sim.Close)
	for api, rates := range chaosRates {
		if err := sim.SetFaultRates(api, rates...); err != nil {
			t.Fatal(err)
		}
	}
	// The Mini Program app takes its tokens from cgi-bin/token, the OA app
	// from stable_token: both token endpoints are in the run.
	apps := filepath.Join(t.TempDir(), "apps.json")
	appsJSON := `[{"app_id":"` + oaApp + `","secret":"oa-secret-0001","kind":"oa"},` +
		`{"app_id":"` + mpApp + `","secret":"mp-secret-0001","kind":"mp","token_source":"classic"}]`
	if err := os.WriteFile(apps, []byte(appsJSON), 0o600); err != nil {
		t.Fatal(err)
	}
	h := newHarnessOn(t, sim, sim.URL(), ropts, s3,
		"WXQR_APPS=@"+apps,
		fmt.Sprintf("WXQR_CONCURRENCY=%d", chaosConcurrency),
		// No nightly scan: every create call counted is the campaign's.
		"WXQR_REGEN_SCHEDULE=off")

	rows, codes := chaosCampaign()
	enqueue := h.mustRun(0, "enqueue", writeCSV(t, csvHeader, rows))

	ctx, cancel := context.WithTimeout(t.Context(), chaosTimeout)
	defer cancel()
	start := time.Now()
	f := &fleet{h: h, want: len(codes)}
	for range chaosWorkers {
		f.spawn()
	}
	made := func() int { return len(sim.CodesMade()) }
	share := func(p float64) int { return int(p * float64(len(codes))) }
	outage := func(d time.Duration) {
		select {
		case <-ctx.Done():
		case <-time.After(d): // an outage's length, not a synchronisation
		}
	}
	// Each blow falls once WeChat has made a share of the codes, in turn.
	blows := []struct {
		at   float64
		what string
		do   func()
	}{
		{0.15, "access tokens invalidated", func() {
			sim.InvalidateTokens(oaApp)
			sim.InvalidateTokens(mpApp)
		}},
		{0.25, "MinIO killed for " + minioOutage.String(), func() {
			minio.kill()
			before := made()
			outage(minioOutage)
			minio.start()
			t.Logf("WeChat made %d codes while MinIO was down", made()-before)
		}},
		{0.50, "Redis killed for " + redisOutage.String(), func() {
			redisSrv.kill()
			outage(redisOutage)
			redisSrv.start()
		}},
		{0.65, "a worker killed", func() {
			if !f.killOne() {
				t.Errorf("no worker left to kill")
			}
		}},
	}
	for _, b := range blows {
		if !f.superviseUntil(ctx, func() bool { return made() >= share(b.at) }) {
			t.Errorf("the run stopped (deadline %v, or every worker gone) before %s: WeChat had made %d of %d codes",
				chaosTimeout, b.what, made(), len(codes))
			break
		}
		t.Logf("%v: %d codes made: %s", time.Since(start).Round(time.Second), made(), b.what)
		b.do()
	}
	if !f.superviseUntil(ctx, f.allExited) {
		t.Errorf("deadline (%v): %d workers still running with %d of %d codes made; killing them to look at what is stored",
			chaosTimeout, f.running(), made(), len(codes))
	}
	f.killAll()
	t.Logf("run took %v", time.Since(start).Round(time.Second))
	f.report(t)
	logFaults(t, sim)

	checkChaosStored(t, h, codes)
	checkCreates(t, sim, codes)
	checkTasks(t, h, codes)

	logs := map[string]string{"enqueue": enqueue.stdout + enqueue.stderr, "redis-server": redisSrv.logText(), "minio": minio.logText()}
	for i, p := range f.procs {
		logs[fmt.Sprintf("worker %d", i+1)] = p.stdout.String() + p.stderr.String()
	}
	checkNoSecrets(t, sim, logs, map[string]string{
		"the OA appsecret": "oa-secret-0001", "the Mini Program appsecret": "mp-secret-0001", "the S3 secret key": s3.SecretKey,
	})
}

// fleet runs the workers: it starts them, kills one on request, and starts
// a replacement for one that exits with an error while work remains (and
// says so), so a crash shows in the report rather than as a run that never
// ends.
type fleet struct {
	h      *harness
	want   int // codes to store
	procs  []*proc
	killed map[int]bool
	exited map[int]bool
	notes  []string
	spares int
}

func (f *fleet) spawn() {
	f.procs = append(f.procs, f.h.start(nil, "worker", "--until-idle"))
}

// killOne SIGKILLs the first worker still running, if any.
func (f *fleet) killOne() bool {
	for i, p := range f.procs {
		select {
		case <-p.done:
		default:
			f.kill(i)
			return true
		}
	}
	return false
}

func (f *fleet) kill(i int) {
	if f.killed == nil {
		f.killed = map[int]bool{}
	}
	f.killed[i] = true
	f.procs[i].cmd.Process.Signal(syscall.SIGKILL) //nolint:errcheck // it may have exited
	<-f.procs[i].done
}

func (f *fleet) killAll() {
	for i, p := range f.procs {
		select {
		case <-p.done:
		default:
			f.kill(i)
		}
	}
}

func (f *fleet) running() int {
	n := 0
	for _, p := range f.procs {
		select {
		case <-p.done:
		default:
			n++
		}
	}
	return n
}

func (f *fleet) allExited() bool { return f.running() == 0 }

// stored counts the catalog's records; -1 when Redis does not answer.
func (f *fleet) stored(ctx context.Context) int {
	n := 0
	err := f.h.cat.Each(ctx, "", func(*wxqr.Record) error { n++; return nil })
	if err != nil {
		return -1
	}
	return n
}

// superviseUntil watches the workers until cond holds (true), or ctx ends
// or every worker is gone for good (false).
func (f *fleet) superviseUntil(ctx context.Context, cond func() bool) bool {
	if f.exited == nil {
		f.exited = map[int]bool{}
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		for i, p := range f.procs {
			select {
			case <-p.done:
			default:
				continue
			}
			if f.exited[i] || f.killed[i] {
				continue
			}
			f.exited[i] = true
			r := p.wait()
			if r.code == 0 {
				continue
			}
			f.notes = append(f.notes, fmt.Sprintf("worker %d exited %d while the run went on:\n%s", i+1, r.code, tail(r.stderr, 8)))
			if n := f.stored(ctx); n != f.want && f.spares < maxReplacements {
				f.spares++
				f.spawn()
			}
		}
		if f.allExited() {
			return cond()
		}
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
	return true
}

// report fails t for every worker that did not end as it should: exit 0
// once idle, unless the test killed it.
func (f *fleet) report(t *testing.T) {
	t.Helper()
	for _, n := range f.notes {
		t.Errorf("%s", n)
	}
	for i, p := range f.procs {
		if f.killed[i] || f.exited[i] {
			continue
		}
		if r := p.wait(); r.code != 0 {
			t.Errorf("worker %d exited %d at the end, want 0:\n%s", i+1, r.code, tail(r.stderr, 8))
		}
	}
}

// logFaults logs what the simulator did, and fails the test if a kind of
// fault never happened on showqrcode: then the run did not test it.
func logFaults(t *testing.T, sim *wechatsim.Server) {
	t.Helper()
	apis := make([]string, 0, len(chaosRates))
	for api := range chaosRates {
		apis = append(apis, api)
	}
	slices.Sort(apis)
	for _, api := range apis {
		var parts []string
		for _, k := range append([]wechatsim.FaultKind{wechatsim.FaultLatency}, chaosFaultKinds...) {
			parts = append(parts, fmt.Sprintf("%v %d", k, sim.Faults(api, k)))
		}
		t.Logf("%-24s %5d calls; faults: %s", api, sim.Calls(api), strings.Join(parts, ", "))
	}
	for _, k := range chaosFaultKinds {
		if sim.Faults(wechatsim.APIShowQRCode, k) == 0 {
			t.Errorf("showqrcode never suffered %v: the run did not test it", k)
		}
	}
}

// checkChaosStored checks that every code of the campaign is stored whole
// (see checkStored), and explains each one that is not.
func checkChaosStored(t *testing.T, h *harness, codes []chaosCode) {
	t.Helper()
	var bad problems
	recs := h.verifyStored(&bad)
	states := taskStates(t, h)
	missing := 0
	for _, c := range codes {
		id := c.spec.ID()
		if _, ok := recs[id]; ok {
			continue
		}
		missing++
		state, ok := states[id]
		if !ok {
			state = "no task: lost"
		}
		bad.add(id, "(%s %s) not stored; task %s", c.spec.Kind, c.spec.Key(), state)
	}
	if len(recs) > len(codes) {
		bad.add("catalog", "%d records for %d codes", len(recs), len(codes))
	}
	t.Logf("stored: %d of %d codes recorded, %d missing", len(recs), len(codes), missing)
	bad.report(t, "stored codes")
}

// taskStates describes every generate task left in the queues, by code id:
// its state and, for a task that failed before, its last error.
func taskStates(t *testing.T, h *harness) map[string]string {
	t.Helper()
	inspector := asynq.NewInspector(h.opt)
	defer inspector.Close()
	queues, err := inspector.Queues()
	if err != nil {
		t.Fatalf("list queues: %v", err)
	}
	states := map[string]string{}
	lists := map[string]func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error){
		"pending": inspector.ListPendingTasks, "active": inspector.ListActiveTasks,
		"scheduled": inspector.ListScheduledTasks, "retry": inspector.ListRetryTasks,
		"archived": inspector.ListArchivedTasks, "completed": inspector.ListCompletedTasks,
	}
	for _, q := range queues {
		for state, list := range lists {
			for page := 1; ; page++ {
				infos, err := list(q, asynq.PageSize(500), asynq.Page(page))
				if err != nil {
					t.Fatalf("list %s tasks of %s: %v", state, q, err)
				}
				for _, info := range infos {
					var p tasks.GeneratePayload
					if info.Type != tasks.TypeGenerate || json.Unmarshal(info.Payload, &p) != nil {
						continue
					}
					s := state + " in " + q
					if info.LastErr != "" {
						s += fmt.Sprintf(" after %d failed attempts, the last: %s", info.Retried, info.LastErr)
					}
					states[p.Spec.ID()] = s
				}
				if len(infos) < 500 {
					break
				}
			}
		}
	}
	return states
}

// checkCreates counts WeChat's code-making calls per code: each permanent
// and Mini Program code made exactly once, each temporary one at most 1.02
// times on average.
//
// Two kinds of repeat are beyond any client's reach and are counted apart:
// a call whose answer WeChat cut short (the client never got the code, and
// must ask again), and calls under way in the worker the test SIGKILLs (at
// most one per handler: sent, but never staged).
func checkCreates(t *testing.T, sim *wechatsim.Server, codes []chaosCode) {
	t.Helper()
	made, cutShort := sim.CodesMade(), sim.CodesCutShort()
	type tally struct{ codes, calls, cut int }
	byKind := map[wxqr.Kind]*tally{}
	var bad problems
	repeats := 0 // calls beyond one per code not explained by a truncated answer, lifetime classes
	known := map[wechatsim.CodeRequest]bool{}
	for _, c := range codes {
		known[c.req] = true
		k := byKind[c.spec.Kind]
		if k == nil {
			k = &tally{}
			byKind[c.spec.Kind] = k
		}
		n, cut := made[c.req], cutShort[c.req]
		k.codes++
		k.calls += n
		k.cut += cut
		if n > 1 && c.spec.Kind.Class().Lifetime() {
			repeats += max(n-1-cut, 0)
			bad.add(c.spec.ID(), "(%s %s) made %d times (%d answers cut short)", c.spec.Kind, c.spec.Key(), n, cut)
		}
	}
	for req, n := range made {
		if !known[req] {
			bad.add(fmt.Sprintf("%+v", req), "made %d times, but the campaign has no such code", n)
			repeats += n
		}
	}
	for _, kind := range wxqr.Kinds {
		k := byKind[kind]
		if k == nil {
			continue
		}
		t.Logf("%-14s %3d codes, %3d create calls (%.3f per code; %d answers cut short)", kind, k.codes, k.calls,
			float64(k.calls)/float64(k.codes), k.cut)
	}
	if k := byKind[wxqr.KindOATemp]; float64(k.calls) > 1.02*float64(k.codes) {
		t.Errorf("temporary codes: %d create calls for %d codes (%.3f per code), want at most 1.02",
			k.calls, k.codes, float64(k.calls)/float64(k.codes))
	}
	if repeats > chaosConcurrency {
		bad.report(t, fmt.Sprintf("permanent and Mini Program codes made more than once: %d repeated calls beyond cut-short answers, "+
			"want at most %d (the killed worker's handlers)", repeats, chaosConcurrency))
	} else if bad.len() > 0 {
		t.Logf("lifetime codes made again (explained by cut-short answers or the killed worker): %v", bad.lines)
	}
}

// checkTasks checks that no task was archived: every code not stored still
// has its task waiting (which checkChaosStored reports by code).
func checkTasks(t *testing.T, h *harness, codes []chaosCode) {
	t.Helper()
	inspector := asynq.NewInspector(h.opt)
	defer inspector.Close()
	queues, err := inspector.Queues()
	if err != nil {
		t.Fatalf("list queues: %v", err)
	}
	var bad problems
	for _, q := range queues {
		info, err := inspector.GetQueueInfo(q)
		if err != nil {
			t.Fatalf("inspect %s: %v", q, err)
		}
		t.Logf("queue %-28s paused %-5v pending %d active %d scheduled %d retry %d archived %d",
			q, info.Paused, info.Pending, info.Active, info.Scheduled, info.Retry, info.Archived)
		if info.Archived == 0 {
			continue
		}
		archived, err := inspector.ListArchivedTasks(q, asynq.PageSize(maxListed))
		if err != nil {
			t.Fatalf("list archived tasks of %s: %v", q, err)
		}
		for _, a := range archived {
			bad.add(a.ID, "archived in %s after %d attempts: %s", q, a.Retried, a.LastErr)
		}
		if extra := info.Archived - len(archived); extra > 0 {
			bad.add(q, "%d more archived", extra)
		}
	}
	bad.report(t, "tasks archived")
}

// checkNoSecrets fails the test for every log that holds a secret: an
// appsecret, the S3 secret key or any access token the simulator issued. It
// names the secret, never prints it.
func checkNoSecrets(t *testing.T, sim *wechatsim.Server, logs, secrets map[string]string) {
	t.Helper()
	for _, app := range []string{oaApp, mpApp} {
		for i, tok := range sim.Tokens(app) {
			secrets[fmt.Sprintf("access token %d of %s", i+1, app)] = tok
		}
	}
	var bad problems
	for name, text := range logs {
		for n, line := range strings.Split(text, "\n") {
			for what, secret := range secrets {
				if secret != "" && strings.Contains(line, secret) {
					bad.add(name, "line %d holds %s", n+1, what)
				}
			}
		}
	}
	bad.report(t, "secrets in logs")
}
