package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/internal/exitcode"
	"github.com/wxqr/wxqr/internal/testenv"
	"github.com/wxqr/wxqr/tasks"
	"github.com/wxqr/wxqr/wechat/wechatsim"
)

func TestRunRefusesBadInput(t *testing.T) {
	const apps = "wxa:s3cr3t-value:oa"
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string // in the error
	}{
		{"unknown flag", []string{"--fast"}, map[string]string{"WXQR_APPS": apps}, "-fast"},
		{"arguments", []string{"jobs.csv"}, map[string]string{"WXQR_APPS": apps}, "unexpected arguments"},
		{"no apps", nil, nil, "WXQR_APPS: no apps configured"},
		{"bad app kind", nil, map[string]string{"WXQR_APPS": "wxa:s3cr3t-value:web"}, "WXQR_APPS"},
		{"bad rate", nil, map[string]string{"WXQR_APPS": apps, "WXQR_RATE_LIMITS": "qrcode/create=fast"}, "WXQR_RATE_LIMITS"},
		{"bad budget", nil, map[string]string{"WXQR_APPS": apps, "WXQR_DAILY_BUDGETS": "qrcode/create=-5"}, "WXQR_DAILY_BUDGETS"},
		{"bad regen schedule", nil, map[string]string{"WXQR_APPS": apps, "WXQR_REGEN_SCHEDULE": "at three"}, "WXQR_REGEN_SCHEDULE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), tt.args, func(k string) string { return tt.env[k] }, &stdout, &stderr)
			if exitcode.Of(err) != exitcode.Usage {
				t.Fatalf("run = %v, want exit status %d", err, exitcode.Usage)
			}
			if !strings.Contains(err.Error(), tt.want) && !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("error %q (stderr %q) does not mention %q", err, stderr.String(), tt.want)
			}
			if strings.Contains(err.Error()+stderr.String(), "s3cr3t-value") {
				t.Errorf("the app secret shows in %q", err.Error()+stderr.String())
			}
		})
	}
}

// TestRunMonitorNeedsCredentialsOffLoopback checks that the worker refuses
// to serve its web UI beyond this machine without a password.
func TestRunMonitorNeedsCredentialsOffLoopback(t *testing.T) {
	opts := testenv.RedisOptions(t)
	env := map[string]string{
		"WXQR_APPS":         "wxa:secret:oa",
		"REDIS_URL":         fmt.Sprintf("redis://%s/%d", opts.Addr, opts.DB),
		"WXQR_STORAGE":      "file://" + t.TempDir(),
		"WXQR_MONITOR_ADDR": "0.0.0.0:0",
	}
	err := run(t.Context(), []string{"--until-idle"}, func(k string) string { return env[k] }, &bytes.Buffer{}, &bytes.Buffer{})
	if exitcode.Of(err) != exitcode.Usage || !strings.Contains(err.Error(), "without credentials") {
		t.Fatalf("run = %v, want a refusal to serve without credentials", err)
	}
}

// TestRunUntilIdle runs a worker in this process (so the race detector sees
// its handlers) over a few codes of each class.
func TestRunUntilIdle(t *testing.T) {
	sim := wechatsim.NewServer(wechatsim.Config{Apps: map[string]wechatsim.App{
		"wxoa": {Secret: "oa-secret", Type: wechatsim.OfficialAccount},
		"wxmp": {Secret: "mp-secret", Type: wechatsim.MiniProgram},
	}})
	t.Cleanup(sim.Close)
	opts := testenv.RedisOptions(t)
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	env := map[string]string{
		"WXQR_APPS":           "wxoa:oa-secret:oa,wxmp:mp-secret:mp",
		"REDIS_URL":           fmt.Sprintf("redis://%s/%d", opts.Addr, opts.DB),
		"WXQR_STORAGE":        "file://" + t.TempDir(),
		"WECHAT_API_BASE_URL": sim.URL(),
		"WECHAT_MP_BASE_URL":  sim.URL(),
		"WXQR_MONITOR_ADDR":   "127.0.0.1:0",
		"WXQR_REGEN_SCHEDULE": "off",
	}
	specs := []wxqr.Spec{
		{Kind: wxqr.KindOATemp, AppID: "wxoa", SceneID: 1},
		{Kind: wxqr.KindOATemp, AppID: "wxoa", SceneStr: "a+b/c"},
		{Kind: wxqr.KindOAPerm, AppID: "wxoa", SceneID: 2},
		{Kind: wxqr.KindWxaQRCode, AppID: "wxmp", Path: "pages/a?id=1"},
		{Kind: wxqr.KindWxaCode, AppID: "wxmp", Path: "pages/b?id=2", Width: 600},
		{Kind: wxqr.KindWxaUnlimited, AppID: "wxmp", SceneStr: "id=3", Path: "pages/c"},
	}
	client := asynq.NewClientFromRedisClient(rdb)
	for _, spec := range specs {
		task, err := tasks.NewGenerateTask(tasks.GeneratePayload{Spec: spec, Campaign: "c"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := client.Enqueue(task); err != nil {
			t.Fatal(err)
		}
	}

	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), []string{"--until-idle"}, func(k string) string { return env[k] }, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	cat := catalog.New(rdb, "")
	for _, spec := range specs {
		rec, err := cat.Get(t.Context(), spec.ID())
		if err != nil {
			t.Errorf("%s %s: %v", spec.Kind, spec.Scene()+spec.Path, err)
			continue
		}
		if rec.Size == 0 || rec.Generation != 1 {
			t.Errorf("%s: record %+v, want an image of generation 1", spec.Kind, rec)
		}
	}
	if strings.Contains(stderr.String(), "oa-secret") || strings.Contains(stderr.String(), "access_token=") {
		t.Errorf("the logs show a secret or a token:\n%s", stderr.String())
	}
}
