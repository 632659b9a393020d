package notify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/internal/testenv"
	"github.com/wxqr/wxqr/notify"
)

// eventIDs returns the ids of the JSON events in calls, in order.
func eventIDs(t *testing.T, calls []call) []string {
	t.Helper()
	var ids []string
	for _, c := range calls {
		var ev notify.Event
		if err := json.Unmarshal(c.body, &ev); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ev.ID)
	}
	return ids
}

// TestFinishedOncePerPlan checks that a campaign found finished again (its
// codes regenerated) is not told of again, and that one that grows and
// finishes again is.
func TestFinishedOncePerPlan(t *testing.T) {
	r := newReceiver(t, nil)
	f := startFleet(t, 1, notify.Config{Webhook: notify.WebhookConfig{URL: r.srv.URL, Secret: testSecret}})
	n, ctx := f.notifiers[0], t.Context()
	first := f.plan(t, "winter", 1)[0]
	f.make(t, first)
	n.Made(ctx, first)
	f.clock.Advance(time.Minute)
	r.wait(t, 1)

	n.Made(ctx, first) // regenerated: the campaign is still finished, at the same size
	f.clock.Advance(time.Minute)
	f.drained(t)

	grown := f.plan(t, "winter", 2)[1]
	n.Made(ctx, first) // one code planned is not made: not finished
	f.make(t, grown)
	n.Made(ctx, grown)
	f.clock.Advance(time.Minute)
	r.wait(t, 2)
	f.drained(t)
	f.stop()
	ids := eventIDs(t, r.got())
	if want := []string{"campaign_finished:winter:1", "campaign_finished:winter:2"}; strings.Join(ids, " ") != strings.Join(want, " ") {
		t.Errorf("events %q, want %q", ids, want)
	}
}

// TestDrainSendsWhatIsPending checks that a notifier stopping (a worker
// run with --until-idle that is done) sends the batch of failures and the
// finish it knows of without waiting for the window and the grace.
func TestDrainSendsWhatIsPending(t *testing.T) {
	r := newReceiver(t, nil)
	f := startFleet(t, 1, notify.Config{Webhook: notify.WebhookConfig{URL: r.srv.URL, Secret: testSecret}})
	n, ctx := f.notifiers[0], t.Context()
	ps := f.plan(t, "once", 2)
	f.make(t, ps[0])
	n.Made(ctx, ps[0])
	f.fail(t, ps[1], "invalid page")
	n.Failed(ctx, ps[1], "invalid page")
	if got := len(r.got()); got != 0 {
		t.Fatalf("%d calls before the window ended, want none", got)
	}
	f.stop()
	ids := eventIDs(t, r.got())
	if len(ids) != 2 || !strings.HasPrefix(ids[0], "codes_failed:once:") || ids[1] != "campaign_finished:once:2" {
		t.Errorf("events at the drain %q, want the batch of failures, then the finish", ids)
	}
}

// TestEventOfAWorkerGoneIsSent checks that an event a worker took and
// stopped sending (it was shut down mid-send) is sent by another worker
// after ReclaimAfter, with the same id.
func TestEventOfAWorkerGoneIsSent(t *testing.T) {
	opts := testenv.RedisOptions(t)
	arrived := make(chan struct{}, 1)
	stuck := newReceiver(t, func(_ http.ResponseWriter, req *http.Request) {
		arrived <- struct{}{}
		<-req.Context().Done() // never answers: the sender gives up when stopped
	})
	live := newReceiver(t, nil)
	newNotifier := func(url string, timeout, reclaim time.Duration) *notify.Notifier {
		rdb := redis.NewClient(opts)
		t.Cleanup(func() { rdb.Close() })
		n, err := notify.New(notify.Config{Redis: rdb, Campaigns: catalog.New(rdb, ""), Interval: 5 * time.Millisecond,
			ReclaimAfter: reclaim, DrainTimeout: 50 * time.Millisecond,
			Webhook: notify.WebhookConfig{URL: url, Secret: testSecret, Timeout: timeout, Attempts: 1}})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	gone := newNotifier(stuck.srv.URL, time.Minute, 2*time.Minute)
	gone.Paused(t.Context(), pauseOf, "", 1)
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() { gone.Run(ctx) })
	<-arrived
	cancel()
	wg.Wait()

	other := newNotifier(live.srv.URL, 20*time.Millisecond, 200*time.Millisecond)
	ctx, cancel = context.WithCancel(t.Context())
	wg.Go(func() { other.Run(ctx) })
	live.wait(t, 1)
	cancel()
	wg.Wait()
	ids := append(eventIDs(t, stuck.got()), eventIDs(t, live.got())...)
	if len(ids) != 2 || ids[0] != ids[1] {
		t.Errorf("events %q, want the same event twice: tried by the worker gone, then sent by the other", ids)
	}
}

// TestLogsKeepSecrets checks that no log line of a notifier that cannot
// deliver shows the webhook's key, path or secret.
func TestLogsKeepSecrets(t *testing.T) {
	refusals := map[notify.Format]http.HandlerFunc{
		notify.FormatJSON: func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) },
		notify.FormatWeCom: func(w http.ResponseWriter, _ *http.Request) {
			w.Write([]byte(`{"errcode":93000,"errmsg":"invalid webhook url"}`))
		},
	}
	for format, refuse := range refusals {
		t.Run(string(format), func(t *testing.T) {
			r := newReceiver(t, refuse)
			var logs lockedBuffer
			f := startFleet(t, 1, notify.Config{Logger: zerolog.New(&logs),
				Webhook: notify.WebhookConfig{URL: r.srv.URL + "/hook/path-token?key=robot-key", Format: format, Secret: testSecret, Attempts: 2}})
			f.notifiers[0].Paused(t.Context(), pauseOf, "autumn", 1)
			f.drained(t)
			f.stop()
			out := logs.String()
			if !strings.Contains(out, "not delivered") {
				t.Fatalf("no log line says the notice was not delivered:\n%s", out)
			}
			for _, secret := range []string{"robot-key", "path-token", testSecret} {
				if strings.Contains(out, secret) {
					t.Errorf("the logs show %q:\n%s", secret, out)
				}
			}
		})
	}
}

// lockedBuffer is a log sink the notifier may write to from its Run.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
