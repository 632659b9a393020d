package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/internal/fakeclock"
	"github.com/wxqr/wxqr/internal/testenv"
	"github.com/wxqr/wxqr/notify"
	"github.com/wxqr/wxqr/tasks"
)

// start is the fleet's clock when a test begins.
var start = time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)

// fleet is n workers' notifiers on one Redis (a client each), one catalog
// and one clock, their Runs started.
type fleet struct {
	notifiers []*notify.Notifier
	catalog   *catalog.Catalog
	clock     *fakeclock.Clock
	rdb       *redis.Client
	stop      func() // cancels the Runs and waits for their drains
}

// startFleet starts n notifiers made from cfg (Redis, Campaigns, Now and
// Interval are filled in), and stops them when the test ends.
func startFleet(t *testing.T, n int, cfg notify.Config) *fleet {
	t.Helper()
	opts := testenv.RedisOptions(t)
	f := &fleet{clock: fakeclock.New(start), rdb: redis.NewClient(opts)}
	t.Cleanup(func() { f.rdb.Close() })
	f.catalog = catalog.New(f.rdb, "")
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	var wg sync.WaitGroup
	for range n {
		rdb := redis.NewClient(opts)
		t.Cleanup(func() { rdb.Close() })
		c := cfg
		c.Redis, c.Campaigns, c.Now, c.Interval = rdb, catalog.New(rdb, ""), f.clock.Now, 5*time.Millisecond
		if c.Webhook.Backoff == 0 {
			c.Webhook.Backoff = time.Millisecond
		}
		nt, err := notify.New(c)
		if err != nil {
			t.Fatal(err)
		}
		f.notifiers = append(f.notifiers, nt)
		wg.Go(func() { nt.Run(ctx) })
	}
	var once sync.Once
	f.stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(f.stop)
	return f
}

// plan plans n codes of campaign and returns their payloads.
func (f *fleet) plan(t *testing.T, campaign string, n int) []tasks.GeneratePayload {
	t.Helper()
	var ps []tasks.GeneratePayload
	var ids []string
	for i := range n {
		spec := wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: "wxoa", SceneStr: fmt.Sprintf("%s-%d", campaign, i)}.Normalize()
		ps = append(ps, tasks.GeneratePayload{ID: spec.ID(), Spec: spec, Campaign: campaign})
		ids = append(ids, spec.ID())
	}
	if err := f.catalog.Plan(t.Context(), campaign, ids...); err != nil {
		t.Fatal(err)
	}
	return ps
}

// make records p's code in the catalog, as the generator does before it
// tells notices.
func (f *fleet) make(t *testing.T, p tasks.GeneratePayload) {
	t.Helper()
	rec := &wxqr.Record{ID: p.ID, Spec: p.Spec, Campaign: p.Campaign, Generation: 1, CreatedAt: start}
	if err := f.catalog.Put(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
}

// fail records p's code as failed, as the error handler does before it
// tells notices.
func (f *fleet) fail(t *testing.T, p tasks.GeneratePayload, reason string) {
	t.Helper()
	if err := f.catalog.Fail(t.Context(), p.Campaign, p.ID, reason); err != nil {
		t.Fatal(err)
	}
}

// drained waits until Redis holds nothing for the notifiers to do: no
// event unsent, no batch or finish waiting, failing t after 20 s.
func (f *fleet) drained(t *testing.T) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for deadline := time.Now().Add(20 * time.Second); ; <-tick.C {
		var n int64
		for _, key := range []string{"wxqr:notify:outbox", "wxqr:notify:failures", "wxqr:notify:finishing"} {
			c, err := f.rdb.Exists(t.Context(), key).Result()
			if err != nil {
				t.Fatal(err)
			}
			if key == "wxqr:notify:outbox" && c == 1 {
				c, err = f.rdb.XLen(t.Context(), key).Result()
				if err != nil {
					t.Fatal(err)
				}
			}
			n += c
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("notices still pending after 20 s:\n%s", testenv.Dump(t, f.rdb))
		}
	}
}

// pauseOf is a 45029 pause of the OA permanent queue, as the generator
// records it.
var pauseOf = tasks.PauseState{Queue: "wxoa.oa_perm", AppID: "wxoa", Class: wxqr.ClassOAPerm, Errcode: 45029,
	Reason: "lifetime quota of 100,000 codes spent (45029)", PausedAt: start}

// TestFleetSendsEachEventOnce runs three workers' notifiers, each told of
// the same events (the same pause, a campaign's last codes, failures of
// one campaign), and checks that the receiver gets one call per event:
// signed, for JSON; a robot's markdown, for WeCom.
func TestFleetSendsEachEventOnce(t *testing.T) {
	for _, format := range []notify.Format{notify.FormatJSON, notify.FormatWeCom} {
		t.Run(string(format), func(t *testing.T) {
			r := newReceiver(t, nil)
			f := startFleet(t, 3, notify.Config{Webhook: notify.WebhookConfig{URL: r.srv.URL + "/send?key=robot-key", Format: format, Secret: testSecret}})
			ctx := t.Context()
			autumn, spring := f.plan(t, "autumn", 2), f.plan(t, "spring", 3)
			for _, p := range autumn {
				f.make(t, p)
			}
			for i, p := range spring {
				f.fail(t, p, fmt.Sprintf("invalid scene %d", i))
			}
			outage := tasks.PauseState{Queue: "wxoa.oa_temp", AppID: "wxoa", Reason: tasks.ReasonWeChatUnavailable,
				PausedAt: start, ResumeAt: start.Add(time.Minute)}
			for i, n := range f.notifiers {
				n.Paused(ctx, pauseOf, "autumn", 7)
				n.Paused(ctx, outage, "autumn", 7) // the breaker's: not told of
				n.Made(ctx, autumn[i%2])
				n.Failed(ctx, spring[i], fmt.Sprintf("invalid scene %d", i))
			}
			f.clock.Advance(2 * time.Minute) // past the failure window and the finish grace
			r.wait(t, 4)
			f.drained(t)
			f.stop()
			calls := r.got()
			if len(calls) != 4 {
				t.Fatalf("%d calls, want 4 (a pause, a batch of failures, two finishes)", len(calls))
			}
			wantEvents(t, format, calls)
		})
	}
}

// wantEvents checks the four calls of TestFleetSendsEachEventOnce.
func wantEvents(t *testing.T, format notify.Format, calls []call) {
	t.Helper()
	if format == notify.FormatWeCom {
		var contents []string
		for _, c := range calls {
			contents = append(contents, wantWeComBody(t, c.body))
		}
		all := strings.Join(contents, "\n")
		for _, want := range []string{"campaign `autumn` finished", "campaign `spring` finished", "3</font> codes of campaign `spring` failed",
			"work paused", "`wxoa.oa_perm`", "7 tasks wait"} {
			if !strings.Contains(all, want) {
				t.Errorf("no message says %q:\n%s", want, all)
			}
		}
		return
	}
	got := map[string]notify.Event{}
	for _, c := range calls {
		if !notify.Verify(testSecret, c.body, c.header.Get(notify.HeaderSignature)) {
			t.Errorf("signature %q does not verify", c.header.Get(notify.HeaderSignature))
		}
		var ev notify.Event
		if err := json.Unmarshal(c.body, &ev); err != nil {
			t.Fatal(err)
		}
		if c.header.Get(notify.HeaderEvent) != string(ev.Kind) {
			t.Errorf("X-Wxqr-Event %q for a %s", c.header.Get(notify.HeaderEvent), ev.Kind)
		}
		got[ev.ID] = ev
	}
	want := map[string]string{
		"campaign_finished:autumn:2":                                      `{"failed":0,"generated":2,"planned":2}`,
		"campaign_finished:spring:3":                                      `{"failed":3,"generated":0,"planned":3}`,
		fmt.Sprintf("codes_failed:spring:%d", start.UnixMilli()):          `{"failed":3,"failed_total":3,"generated":0,"planned":3}`,
		fmt.Sprintf("campaign_paused:wxoa.oa_perm:%d", start.UnixMilli()): `{"tasks_waiting":7}`,
	}
	for id, counts := range want {
		ev, ok := got[id]
		if !ok {
			t.Errorf("no event %s; got %v", id, slices.Collect(maps.Keys(got)))
			continue
		}
		if c := mustJSON(t, ev.Counts); c != counts {
			t.Errorf("%s counts = %s, want %s", id, c, counts)
		}
	}
	if ev := got[fmt.Sprintf("codes_failed:spring:%d", start.UnixMilli())]; len(ev.Failures) != 3 {
		t.Errorf("codes_failed lists %v, want the 3 codes", ev.Failures)
	}
	if ev := got[fmt.Sprintf("campaign_paused:wxoa.oa_perm:%d", start.UnixMilli())]; ev.Reason != tasks.CauseTotalQuota || ev.Campaign != "autumn" || ev.Errcode != 45029 {
		t.Errorf("pause event = %+v, want total_quota, campaign autumn, errcode 45029", ev)
	}
}
