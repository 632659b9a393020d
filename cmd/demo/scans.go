package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/internal/config"
	"github.com/wxqr/wxqr/scans"
	"github.com/wxqr/wxqr/wechat/wechatsim"
)

// The simulated audience, for --scans N: N scans of the OA codes, half by
// new users who follow by scanning (subscribe), half by followers (SCAN);
// one follower in five unfollows; every fourth push is delivered twice, as
// WeChat retries; and one Mini Program launch from a code for every ten
// scans.
const (
	unfollowEvery = 5
	retryEvery    = 4
	launchEvery   = 10
	// pushWorkers push at once, as many users scan at once.
	pushWorkers = 8
	// launchScene is a launch from a scanned code.
	launchScene = 1047
)

// scanCodes are the codes of the demo's campaign that its users scan.
type scanCodes struct {
	oa   []oaCode
	mini []launchReport
}

// oaCode is an OA code as a scan names it.
type oaCode struct{ ticket, scene string }

// launchReport is what a Mini Program's onLaunch reports to
// /wxa/{app_id}/launch.
type launchReport struct {
	Path        string            `json:"path"`
	Query       map[string]string `json:"query"`
	LaunchScene int               `json:"launch_scene"`
}

// campaignCodes reads the demo apps' codes of the campaign from the
// catalog: the OA codes still scannable, and the Mini Program codes' pages.
// The catalog, not the simulator, knows them: a run into the same directory
// makes no code.
func campaignCodes(ctx context.Context, cat *catalog.Catalog, apps demoApps) (scanCodes, error) {
	var codes scanCodes
	now := time.Now()
	err := cat.Each(ctx, campaign, func(rec *wxqr.Record) error {
		switch {
		case rec.AppID == apps.oa && rec.Ticket != "" && rec.Valid(now):
			codes.oa = append(codes.oa, oaCode{ticket: rec.Ticket, scene: rec.Scene()})
		case rec.AppID == apps.mp && rec.Path != "":
			codes.mini = append(codes.mini, launchOf(rec.Path))
		}
		return nil
	})
	return codes, err
}

// launchOf is the launch a scan of the Mini Program code with path
// reports: its page, and its query decoded.
func launchOf(path string) launchReport {
	page, rawQuery, _ := strings.Cut(path, "?")
	values, _ := url.ParseQuery(rawQuery) // the worker made the code: it parses
	query := make(map[string]string, len(values))
	for name := range values {
		query[name] = values.Get(name)
	}
	return launchReport{Path: page, Query: query, LaunchScene: launchScene}
}

// audience pushes the simulated users' events to callback.
type audience struct {
	sim   *wechatsim.Server
	url   string // callback's base URL
	apps  demoApps
	keys  callbackKeys
	codes scanCodes
	rng   *rand.Rand
	pick  *rand.Zipf // a few codes get most scans, as a few posters do
	// clock is the CreateTime of the next event: one second apart, so that
	// no user's two events look like one event's retries.
	clock time.Time
	// pushes counts the pushes made so far.
	pushes int
}

// newAudience returns the audience of n scans of codes, whose events
// callback at url receives.
func newAudience(sim *wechatsim.Server, url string, apps demoApps, keys callbackKeys, codes scanCodes, n int) *audience {
	rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	events := n + (n-n/2)/unfollowEvery // see simulate
	return &audience{
		sim: sim, url: url, apps: apps, keys: keys, codes: codes, rng: rng,
		pick: rand.NewZipf(rng, 1.2, 2, uint64(len(codes.oa)-1)),
		// The last event is now.
		clock: time.Now().Add(-time.Duration(events-1) * time.Second),
	}
}

// scanTally is what the simulation sent and what callback answered.
type scanTally struct {
	follows, scans, unfollows int // pushes, by event
	repeated                  int // pushes delivered twice
	deliveries, answered      int // deliveries, and those answered 200
	launches, launchesTaken   int // launch reports, and those answered 204
}

func (t scanTally) pushes() int { return t.follows + t.scans + t.unfollows }

// simulate pushes n scans (and their follows, unfollows and launches), as
// described at unfollowEvery.
func (a *audience) simulate(ctx context.Context, n int) (scanTally, error) {
	var t scanTally
	newUsers := n - n/2
	followers, err := a.pushAll(ctx, &t, a.follows(newUsers))
	if err != nil {
		return t, err
	}
	t.follows = newUsers
	later, unfollows := a.afterwards(followers, n/2)
	if _, err := a.pushAll(ctx, &t, later); err != nil {
		return t, err
	}
	t.scans, t.unfollows = len(later)-unfollows, unfollows
	if len(a.codes.mini) > 0 {
		err = a.launch(ctx, &t, n/launchEvery)
	}
	return t, err
}

// follows are n new users following by scanning.
func (a *audience) follows(n int) []wechatsim.Push {
	pushes := make([]wechatsim.Push, n)
	for i := range pushes {
		pushes[i] = a.scanOf(wechatsim.EventSubscribe, "")
	}
	return pushes
}

// afterwards are what the followers do next: one in unfollowEvery
// unfollows, the others scan codes again, n times in all. It returns the
// pushes and how many are unfollows.
func (a *audience) afterwards(followers []string, n int) ([]wechatsim.Push, int) {
	var pushes []wechatsim.Push
	var scanners []string
	for i, openID := range followers {
		if i%unfollowEvery == unfollowEvery-1 {
			pushes = append(pushes, a.push(wechatsim.EventUnsubscribe, openID))
		} else {
			scanners = append(scanners, openID)
		}
	}
	unfollows := len(pushes)
	for i := range n {
		pushes = append(pushes, a.scanOf(wechatsim.EventScan, scanners[i%len(scanners)]))
	}
	return pushes, unfollows
}

// scanOf is the user's event by scanning one of the codes; a new user's
// when openID is "".
func (a *audience) scanOf(event, openID string) wechatsim.Push {
	p := a.push(event, openID)
	code := a.codes.oa[a.pick.Uint64()]
	p.Ticket, p.Scene = code.ticket, code.scene
	return p
}

// push is the user's event as WeChat pushes it to the OA app's server, in
// safe mode.
func (a *audience) push(event, openID string) wechatsim.Push {
	p := wechatsim.Push{
		URL: a.url + "/wechat/" + a.apps.oa, AppID: a.apps.oa, Token: a.keys.token, AESKey: a.keys.aesKey,
		OpenID: openID, Event: event, CreateTime: a.clock, Deliveries: 1,
	}
	a.clock = a.clock.Add(time.Second)
	a.pushes++
	if a.pushes%retryEvery == 0 {
		p.Deliveries = 2
	}
	return p
}

// pushAll pushes every push, pushWorkers at once, adds up what happened in
// t, and returns the users' openids in the order of pushes.
func (a *audience) pushAll(ctx context.Context, t *scanTally, pushes []wechatsim.Push) ([]string, error) {
	openIDs := make([]string, len(pushes))
	results := make([]wechatsim.PushResult, len(pushes))
	errs := make([]error, len(pushes))
	forEach(len(pushes), func(i int) {
		results[i], errs[i] = a.sim.PushScan(ctx, pushes[i])
	})
	for i, res := range results {
		if errs[i] != nil {
			return nil, errs[i]
		}
		openIDs[i] = res.OpenID
		if len(res.Deliveries) > 1 {
			t.repeated++
		}
		for _, d := range res.Deliveries {
			t.deliveries++
			if d.OK() {
				t.answered++
			}
		}
	}
	return openIDs, nil
}

// launch reports n launches from the Mini Program codes, each from a phone
// of its own.
func (a *audience) launch(ctx context.Context, t *scanTally, n int) error {
	reports := make([]launchReport, n)
	for i := range reports {
		reports[i] = a.codes.mini[a.rng.IntN(len(a.codes.mini))]
	}
	taken := make([]bool, n)
	errs := make([]error, n)
	forEach(n, func(i int) {
		taken[i], errs[i] = a.report(ctx, reports[i], phoneAddr(i))
	})
	for i := range n {
		if errs[i] != nil {
			return errs[i]
		}
		t.launches++
		if taken[i] {
			t.launchesTaken++
		}
	}
	return nil
}

// report posts one launch report from the phone at addr, and tells
// whether callback took it.
func (a *audience) report(ctx context.Context, l launchReport, addr string) (bool, error) {
	body, err := json.Marshal(l)
	if err != nil {
		return false, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.url+"/wxa/"+a.apps.mp+"/launch", bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(clientIPHeader, addr)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, fmt.Errorf("report a launch: %w", err)
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusNoContent, nil
}

// phoneAddr is the address of the i-th phone, in 10.0.0.0/8.
func phoneAddr(i int) string {
	return fmt.Sprintf("10.%d.%d.%d", i>>16&0xff, i>>8&0xff, i&0xff)
}

// forEach calls fn(0) ... fn(n-1), pushWorkers at once.
func forEach(n int, fn func(i int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(n, pushWorkers) {
		wg.Go(func() {
			for i := range next {
				fn(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// appEvents are events an app received that Redis counted: how many, and
// how many of them were attributed to a code.
type appEvents struct{ counted, attributed int64 }

func (e appEvents) minus(earlier appEvents) appEvents {
	return appEvents{e.counted - earlier.counted, e.attributed - earlier.attributed}
}

// eventCounts are the events counted, by app.
type eventCounts map[string]appEvents

// countedEvents reads the events counted so far, by app.
func countedEvents(ctx context.Context, store *scans.Store) (eventCounts, error) {
	totals, err := store.EventTotals(ctx)
	if err != nil {
		return nil, err
	}
	counts := eventCounts{}
	for _, et := range totals {
		c := counts[et.AppID]
		c.counted += et.N
		if et.Attributed {
			c.attributed += et.N
		}
		counts[et.AppID] = c
	}
	return counts, nil
}

// scanRun is what the scan part of the demo did: what it pushed, what
// callback answered, and what Redis counted meanwhile.
type scanRun struct {
	tally scanTally
	// oa and mp are the events Redis counted for each app during the run.
	oa, mp appEvents
}

// scan runs the scan part of the demo, unless n is 0: n scans of the
// campaign's OA codes. It returns nil when there is nothing to report.
func (c *commands) scan(redisURL string, sim *wechatsim.Server, apps demoApps, keys callbackKeys, n int, say func(string, ...any)) (*scanRun, error) {
	if n == 0 {
		return nil, nil
	}
	rc, err := config.ParseRedisURL(redisURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	rdb := rc.NewClient()
	defer rdb.Close()
	say("simulating %d scans of the campaign's codes, pushed to callback: new users follow, followers scan again, some unfollow", n)
	run, err := c.runScans(sim, rdb, apps, keys, n)
	if run == nil && err == nil {
		say("no Official Account code in the campaign: nothing to scan")
	}
	return run, err
}

// runScans makes n scans of the campaign's codes through callback (see
// audience). It reads the codes and the counts in the Redis at rdb.
func (c *commands) runScans(sim *wechatsim.Server, rdb redis.UniversalClient, apps demoApps, keys callbackKeys, n int) (*scanRun, error) {
	cat, err := catalog.NewWithConfig(rdb, catalog.Config{})
	if err != nil {
		return nil, err
	}
	codes, err := campaignCodes(c.ctx, cat, apps)
	if err != nil {
		return nil, fmt.Errorf("the campaign's codes: %w", err)
	}
	if len(codes.oa) == 0 {
		return nil, nil
	}
	srv, err := c.startCallback()
	if err != nil {
		return nil, err
	}
	run, err := c.countScans(rdb, cat, newAudience(sim, srv.url, apps, keys, codes, n), n)
	if stopErr := srv.stop(); err == nil {
		err = stopErr
	}
	return run, err
}

// countScans has the audience make n scans, and reads what Redis counted
// before and after.
func (c *commands) countScans(rdb redis.UniversalClient, cat *catalog.Catalog, a *audience, n int) (*scanRun, error) {
	store, err := scans.New(c.ctx, rdb, cat, scans.Config{})
	if err != nil {
		return nil, err
	}
	before, err := countedEvents(c.ctx, store)
	if err != nil {
		return nil, err
	}
	run := &scanRun{}
	if run.tally, err = a.simulate(c.ctx, n); err != nil {
		return nil, err
	}
	after, err := countedEvents(c.ctx, store)
	if err != nil {
		return nil, err
	}
	run.oa = after[a.apps.oa].minus(before[a.apps.oa])
	run.mp = after[a.apps.mp].minus(before[a.apps.mp])
	return run, nil
}

// report says what the simulation pushed, what callback counted, and where
// the counts show.
func (r *scanRun) report(say func(string, ...any), apps demoApps) {
	t := r.tally
	say("pushed %d events to callback as WeChat does, encrypted (safe mode): %d new users followed by scanning (subscribe), %d scans by followers (SCAN), %d unfollows (unsubscribe); %d of them delivered twice, as WeChat retries",
		t.pushes(), t.follows, t.scans, t.unfollows, t.repeated)
	say("callback answered %d of %d deliveries and counted %d events (%d attributed to the campaign's codes); %d deliveries were duplicates, not counted again",
		t.answered, t.deliveries, r.oa.counted, r.oa.attributed, int64(t.answered)-r.oa.counted)
	if t.launches > 0 {
		say("launches: %d Mini Program launches reported to /wxa/%s/launch: %d taken, %d counted (%d attributed)",
			t.launches, apps.mp, t.launchesTaken, r.mp.counted, r.mp.attributed)
	}
	say("the counts: above in enqueue status (per campaign), in the manifest's scans, new_follows, unfollows and unique_scanners columns (per code), on the monitor's /campaigns/%s page (per day)", campaign)
}
