package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/internal/exitcode"
	"github.com/wxqr/wxqr/internal/testenv"
	"github.com/wxqr/wxqr/tasks"
	"github.com/wxqr/wxqr/wechat/wechatsim"
)

func TestParseGuards(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	gs, err := parseGuards(env())
	if err != nil {
		t.Fatal(err)
	}
	if gs.breakerOff || gs.breaker != (tasks.BreakerConfig{}).WithDefaults() || gs.storage != (tasks.StorageHealthConfig{}).WithDefaults() {
		t.Errorf("defaults = %+v", gs)
	}
	gs, err = parseGuards(env(envBreaker, "failures=7, ratio=0.25,window=1m,pause=10s,max_pause=1h,probe_failures=2",
		envStorageFailures, "4", envStorageProbe, "2s", envStagedMaxBytes, "1048576"))
	if err != nil {
		t.Fatal(err)
	}
	want := tasks.BreakerConfig{Failures: 7, Ratio: 0.25, Window: time.Minute, Pause: 10 * time.Second,
		MaxPause: time.Hour, ProbeFailures: 2}.WithDefaults()
	if gs.breaker != want {
		t.Errorf("breaker = %+v, want %+v", gs.breaker, want)
	}
	if gs.storage != (tasks.StorageHealthConfig{Failures: 4, ProbeInterval: 2 * time.Second, MaxStagedBytes: 1 << 20}).WithDefaults() {
		t.Errorf("storage = %+v", gs.storage)
	}
	if gs, err := parseGuards(env(envBreaker, "OFF")); err != nil || !gs.breakerOff {
		t.Errorf("WXQR_BREAKER=OFF: %+v, %v; want the breaker off", gs, err)
	}
	for _, kv := range [][2]string{
		{envBreaker, "failures=0"},
		{envBreaker, "ratio=2"},
		{envBreaker, "speed=3"},
		{envBreaker, "20"},
		{envBreaker, "pause=soon"},
		{envBreaker, "pause=1m,max_pause=10s"}, // parses, but the breaker refuses it
		{envBreaker, "window=500us"},
		{envStorageFailures, "-1"},
		{envStorageProbe, "0s"},
		{envStorageProbe, "500us"}, // parses, but the storage watch refuses it
		{envStagedMaxBytes, "256MiB"},
	} {
		if _, err := parseGuards(env(kv[0], kv[1])); err == nil || !strings.Contains(err.Error(), kv[0]) {
			t.Errorf("%s=%s: %v, want an error naming the variable", kv[0], kv[1], err)
		}
	}
}

// TestRunRefusesStorageThatDoesNotAnswer checks that a worker that cannot
// write to its storage does not start.
func TestRunRefusesStorageThatDoesNotAnswer(t *testing.T) {
	opts := testenv.RedisOptions(t)
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"WXQR_APPS":         "wxa:secret:oa",
		"REDIS_URL":         fmt.Sprintf("redis://%s/%d", opts.Addr, opts.DB),
		"WXQR_STORAGE":      "file://" + filepath.Join(notADir, "out"),
		"WXQR_MONITOR_ADDR": "off",
	}
	err := run(t.Context(), []string{"--until-idle"}, func(k string) string { return env[k] }, &bytes.Buffer{}, &syncBuffer{})
	if err == nil || !strings.Contains(err.Error(), "does not answer") {
		t.Fatalf("run = %v, want a refusal to start: storage does not answer", err)
	}
}

// syncBuffer is a bytes.Buffer that the worker's goroutines may write to
// at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRunThroughWeChatOutage runs a worker while WeChat fails every create
// call for a while (-1, HTTP 500, connection resets): the breaker pauses the
// queue and resumes it by itself, no task is archived, and every code is
// made once.
func TestRunThroughWeChatOutage(t *testing.T) {
	sim := wechatsim.NewServer(wechatsim.Config{Apps: map[string]wechatsim.App{
		"wxoa": {Secret: "oa-secret", Type: wechatsim.OfficialAccount},
	}})
	t.Cleanup(sim.Close)
	for _, kind := range []wechatsim.FaultKind{wechatsim.FaultSystemBusy, wechatsim.FaultHTTP500, wechatsim.FaultReset} {
		sim.InjectFault(wechatsim.APICreateQRCode, wechatsim.Fault{Kind: kind, Count: 15})
	}
	opts := testenv.RedisOptions(t)
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	env := map[string]string{
		"WXQR_APPS":           "wxoa:oa-secret:oa",
		"REDIS_URL":           fmt.Sprintf("redis://%s/%d", opts.Addr, opts.DB),
		"WXQR_STORAGE":        "file://" + t.TempDir(),
		"WECHAT_API_BASE_URL": sim.URL(),
		"WECHAT_MP_BASE_URL":  sim.URL(),
		"WXQR_MONITOR_ADDR":   "off",
		"WXQR_REGEN_SCHEDULE": "off",
		"WXQR_CONCURRENCY":    "5",
		"WXQR_BREAKER":        "failures=5,pause=500ms,max_pause=1s,probe_failures=3",
		"WXQR_STORAGE_PROBE":  "200ms",
	}
	const codes = 40
	client := asynq.NewClientFromRedisClient(rdb)
	var specs []wxqr.Spec
	for i := range codes {
		spec := wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: "wxoa", SceneID: int64(i + 1)}
		specs = append(specs, spec)
		task, err := tasks.NewGenerateTask(tasks.GeneratePayload{Spec: spec, Campaign: "c"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := client.Enqueue(task); err != nil {
			t.Fatal(err)
		}
	}

	var stderr syncBuffer
	err := run(t.Context(), []string{"--until-idle"}, func(k string) string { return env[k] }, &bytes.Buffer{}, &stderr)
	if err != nil {
		t.Fatalf("run: %v (exit status %d)\n%s", err, exitcode.Of(err), stderr.String())
	}
	if !strings.Contains(stderr.String(), "circuit breaker open") {
		t.Errorf("the breaker never opened:\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), `"reason":"wechat_unavailable"`) {
		t.Errorf("no queue was resumed after the breaker's pause:\n%s", stderr.String())
	}
	if logs := strings.ReplaceAll(stderr.String(), "access_token=REDACTED", ""); strings.Contains(logs, "oa-secret") || strings.Contains(logs, "access_token=") {
		t.Errorf("the logs show a secret or a token:\n%s", stderr.String())
	}
	cat := catalog.New(rdb, "")
	for _, spec := range specs {
		if rec, err := cat.Get(t.Context(), spec.ID()); err != nil || rec.Size == 0 {
			t.Errorf("scene %d: %+v, %v; want it made", spec.SceneID, rec, err)
		}
	}
	if got := sim.CallsByErrcode(wechatsim.APICreateQRCode, 0); got != codes {
		t.Errorf("qrcode/create answered %d codes, want exactly one per code (%d)", got, codes)
	}
	inspector := asynq.NewInspector(asynq.RedisClientOpt{Addr: opts.Addr, DB: opts.DB})
	defer inspector.Close()
	info, err := inspector.GetQueueInfo(tasks.QueueName("wxoa", wxqr.ClassOAPerm))
	if err != nil || info.Archived != 0 || info.Paused {
		t.Errorf("queue: %+v, %v; want nothing archived, running", info, err)
	}
}
