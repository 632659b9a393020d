package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/internal/exitcode"
	"github.com/wxqr/wxqr/internal/testenv"
	"github.com/wxqr/wxqr/notify"
	"github.com/wxqr/wxqr/tasks"
	"github.com/wxqr/wxqr/wechat/wechatsim"
)

func TestParseNotify(t *testing.T) {
	const secret, key = "n0tify-s3cr3t", "robot-k3y"
	robot := "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=" + key
	tests := []struct {
		name       string
		env        map[string]string
		wantOff    bool
		wantFormat notify.Format
		wantErr    string // in the error; "" for none
	}{
		{"off", nil, true, "", ""},
		{"json", map[string]string{envNotifyURL: "https://hooks.example.com/wxqr", envNotifySecret: secret}, false, notify.FormatJSON, ""},
		{"json without a secret", map[string]string{envNotifyURL: "https://hooks.example.com/wxqr"}, false, "", envNotifySecret},
		{"wecom by prefix", map[string]string{envNotifyURL: "wecom:" + robot}, false, notify.FormatWeCom, ""},
		{"wecom by format", map[string]string{envNotifyURL: robot, envNotifyFormat: "WeCom"}, false, notify.FormatWeCom, ""},
		{"prefix and another format", map[string]string{envNotifyURL: "wecom:" + robot, envNotifyFormat: "json", envNotifySecret: secret}, false, "", envNotifyFormat},
		{"unknown format", map[string]string{envNotifyURL: robot, envNotifyFormat: "slack"}, false, "", envNotifyFormat},
		{"not a URL", map[string]string{envNotifyURL: "hooks.example.com/?key=" + key, envNotifySecret: secret}, false, "", envNotifyURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseNotify(func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseNotify = %v, want an error naming %s", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), key) {
					t.Errorf("error %q shows the secret or the key", err)
				}
				return
			}
			switch {
			case err != nil:
				t.Fatalf("parseNotify = %v", err)
			case tt.wantOff != (cfg == nil):
				t.Fatalf("parseNotify = %+v, want off %v", cfg, tt.wantOff)
			case cfg != nil && (cfg.Format != tt.wantFormat || strings.HasPrefix(cfg.URL, "wecom:")):
				t.Errorf("format %s, URL prefix kept %v; want %s and no prefix", cfg.Format, strings.HasPrefix(cfg.URL, "wecom:"), tt.wantFormat)
			}
		})
	}
}

// eventSink is a webhook receiver that keeps the JSON events whose
// signature verifies.
type eventSink struct {
	mu       sync.Mutex
	events   []notify.Event
	unsigned int
}

func (s *eventSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var ev notify.Event
	s.mu.Lock()
	defer s.mu.Unlock()
	if !notify.Verify(testNotifySecret, body, r.Header.Get(notify.HeaderSignature)) || json.Unmarshal(body, &ev) != nil {
		s.unsigned++
		return
	}
	s.events = append(s.events, ev)
}

const testNotifySecret = "n0tify-s3cr3t"

// TestRunUntilIdleNotifies runs a worker whose campaigns finish, fail and
// pause, and checks that it tells of each once before it exits.
func TestRunUntilIdleNotifies(t *testing.T) {
	sim := wechatsim.NewServer(wechatsim.Config{Apps: map[string]wechatsim.App{
		"wxoa": {Secret: "oa-secret", Type: wechatsim.OfficialAccount},
		"wxmp": {Secret: "mp-secret", Type: wechatsim.MiniProgram},
	}})
	t.Cleanup(sim.Close)
	sim.InjectFault(wechatsim.APICreateWxaQRCode, wechatsim.Fault{Kind: wechatsim.FaultErrcode, Code: 41030})
	sim.InjectFault(wechatsim.APICreateQRCode, wechatsim.Fault{Kind: wechatsim.FaultErrcode, Code: 45029, Count: 10})
	sink := &eventSink{}
	receiver := httptest.NewServer(sink)
	t.Cleanup(receiver.Close)
	opts := testenv.RedisOptions(t)
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	env := map[string]string{
		"WXQR_APPS":           "wxoa:oa-secret:oa,wxmp:mp-secret:mp",
		"REDIS_URL":           fmt.Sprintf("redis://%s/%d", opts.Addr, opts.DB),
		"WXQR_STORAGE":        "file://" + t.TempDir(),
		"WECHAT_API_BASE_URL": sim.URL(),
		"WECHAT_MP_BASE_URL":  sim.URL(),
		"WXQR_MONITOR_ADDR":   "off",
		"WXQR_REGEN_SCHEDULE": "off",
		envNotifyURL:          receiver.URL + "/hooks?token=hook-t0ken",
		envNotifySecret:       testNotifySecret,
		"WXQR_CONCURRENCY":    "1", // the fault hits the first Mini Program code, whichever it is
	}
	queueCampaign(t, rdb, "fair", wxqr.Spec{Kind: wxqr.KindWxaQRCode, AppID: "wxmp", Path: "pages/a?id=1"},
		wxqr.Spec{Kind: wxqr.KindWxaQRCode, AppID: "wxmp", Path: "pages/a?id=2"},
		wxqr.Spec{Kind: wxqr.KindWxaQRCode, AppID: "wxmp", Path: "pages/a?id=3"})
	queueCampaign(t, rdb, "stuck", wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: "wxoa", SceneID: 1})

	var stderr bytes.Buffer
	err := run(t.Context(), []string{"--until-idle"}, func(k string) string { return env[k] }, &bytes.Buffer{}, &stderr)
	if exitcode.Of(err) != exitPaused {
		t.Fatalf("run = %v, want exit status %d (the paused campaign)\n%s", err, exitPaused, stderr.String())
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	var got []string
	for _, ev := range sink.events {
		got = append(got, fmt.Sprintf("%s %s %s %s", ev.Kind, ev.Campaign, ev.Reason, mustCounts(t, ev.Counts)))
	}
	sort.Strings(got)
	want := []string{
		`campaign_finished fair  {"failed":1,"generated":2,"planned":3}`,
		`campaign_paused stuck total_quota {"tasks_waiting":1}`,
		`codes_failed fair  {"failed":1,"failed_total":1,"generated":2,"planned":3}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") || sink.unsigned > 0 {
		t.Errorf("events (%d unsigned):\n%s\nwant:\n%s", sink.unsigned, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, secret := range []string{testNotifySecret, "hook-t0ken"} {
		if strings.Contains(stderr.String(), secret) {
			t.Errorf("the logs show %q", secret)
		}
	}
}

// queueCampaign plans and queues the codes of specs in campaign, as
// enqueue does.
func queueCampaign(t *testing.T, rdb *redis.Client, campaign string, specs ...wxqr.Spec) {
	t.Helper()
	client := asynq.NewClientFromRedisClient(rdb)
	var ids []string
	for _, spec := range specs {
		task, err := tasks.NewGenerateTask(tasks.GeneratePayload{Spec: spec, Campaign: campaign})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := client.Enqueue(task); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, spec.Normalize().ID())
	}
	if err := catalog.New(rdb, "").Plan(t.Context(), campaign, ids...); err != nil {
		t.Fatal(err)
	}
}

func mustCounts(t *testing.T, counts map[string]int) string {
	t.Helper()
	data, err := json.Marshal(counts)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
