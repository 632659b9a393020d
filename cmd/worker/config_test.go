package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxqr/wxqr/internal/exitcode"
)

// Secrets of the configurations below, which no error may show.
const (
	testAppSecret     = "app-s3cr3t"
	testAWSSecret     = "aws-s3cr3t"
	testMonitorSecret = "m0nitor-s3cr3t"
)

// countingListener accepts TCP connections, counts them and closes each at
// once, so that whatever connects to it fails fast and is seen.
type countingListener struct {
	addr  string
	conns atomic.Int64
}

func listenCounting(t *testing.T) *countingListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed
			}
			cl.conns.Add(1)
			c.Close()
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return cl
}

// goodEnv is a valid configuration whose Redis, storage and WeChat are all
// cl: a worker started on it connects there, and fails.
func goodEnv(cl *countingListener) map[string]string {
	return map[string]string{
		"WXQR_APPS":             "wxa:" + testAppSecret + ":oa",
		"REDIS_URL":             "redis://" + cl.addr + "/0",
		"WXQR_STORAGE":          "s3://codes/qr",
		"S3_ENDPOINT":           "http://" + cl.addr,
		"AWS_REGION":            "us-east-1",
		"AWS_ACCESS_KEY_ID":     "wxqr",
		"AWS_SECRET_ACCESS_KEY": testAWSSecret,
		"WECHAT_API_BASE_URL":   "http://" + cl.addr,
		"WECHAT_MP_BASE_URL":    "http://" + cl.addr,
		"WXQR_MONITOR_ADDR":     "127.0.0.1:0",
	}
}

// runWith runs the worker on goodEnv with over laid on top ("" unsets a
// variable), bounded so that a worker that hangs fails the test. out is
// the error and the log.
func runWith(t *testing.T, cl *countingListener, args []string, over map[string]string) (out string, err error) {
	t.Helper()
	env := goodEnv(cl)
	for k, v := range over {
		env[k] = v
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	err = run(ctx, args, func(k string) string { return env[k] }, &bytes.Buffer{}, &stderr)
	if err != nil {
		out = err.Error() + "\n"
	}
	return out + stderr.String(), err
}

// TestRunConnectsToTheConfiguredServices checks the premise of
// TestRunRefusesBadValuesBeforeConnecting: on a valid configuration the
// worker does connect to the listener, and fails as a connection fails.
func TestRunConnectsToTheConfiguredServices(t *testing.T) {
	cl := listenCounting(t)
	_, err := runWith(t, cl, []string{"--until-idle"}, nil)
	if err == nil || exitcode.Of(err) != exitcode.Error {
		t.Fatalf("run = %v, want a connection error (exit status %d)", err, exitcode.Error)
	}
	if cl.conns.Load() == 0 {
		t.Fatalf("run = %v, and nothing connected to the listener", err)
	}
}

// TestRunRefusesBadValuesBeforeConnecting gives the worker one bad flag or
// variable at a time, with Redis, storage and WeChat at a listener that
// counts connections: each is exit status 2, named, and nothing connects.
func TestRunRefusesBadValuesBeforeConnecting(t *testing.T) {
	for _, tt := range badValues() {
		t.Run(tt.name, func(t *testing.T) {
			cl := listenCounting(t)
			out, err := runWith(t, cl, tt.args, tt.env)
			if exitcode.Of(err) != exitcode.Usage {
				t.Fatalf("run = %v, want exit status %d", err, exitcode.Usage)
			}
			if !strings.Contains(out, tt.want) {
				t.Errorf("error %q does not mention %q", out, tt.want)
			}
			for _, secret := range []string{testAppSecret, testAWSSecret, testMonitorSecret} {
				if strings.Contains(out, secret) {
					t.Errorf("error %q shows a secret", out)
				}
			}
			if n := cl.conns.Load(); n != 0 {
				t.Errorf("%d connections before the worker refused its configuration, want none", n)
			}
		})
	}
}

type badValue struct {
	name string
	args []string
	env  map[string]string // over goodEnv
	want string            // in the error
}

// badValues are a bad value of every flag and variable the worker reads.
func badValues() []badValue {
	env := func(k, v string) map[string]string { return map[string]string{k: v} }
	return []badValue{
		{"unknown flag", []string{"--fast"}, nil, "-fast"},
		{"arguments", []string{"jobs.csv"}, nil, "unexpected arguments"},
		{"--concurrency negative", []string{"--concurrency=-1"}, nil, "--concurrency"},
		{"--concurrency text", []string{"--concurrency=many"}, nil, "concurrency"},
		{"--monitor-addr", []string{"--monitor-addr=8080"}, nil, `address "8080"`},
		{"--monitor-addr reachable", []string{"--monitor-addr=0.0.0.0:0"}, nil, "without credentials"},
		{"no apps", nil, env("WXQR_APPS", ""), "WXQR_APPS: no apps configured"},
		{"app kind", nil, env("WXQR_APPS", "wxa:"+testAppSecret+":web"), "WXQR_APPS"},
		{"redis scheme", nil, env("REDIS_URL", "http://"), "REDIS_URL"},
		{"redis database", nil, env("REDIS_URL", "redis://127.0.0.1:6379/x"), "REDIS_URL"},
		{"min replicas", nil, env("WXQR_REDIS_MIN_REPLICAS", "-1"), "WXQR_REDIS_MIN_REPLICAS"},
		{"concurrency", nil, env("WXQR_CONCURRENCY", "0"), "WXQR_CONCURRENCY"},
		{"rate limits", nil, env("WXQR_RATE_LIMITS", "qrcode/create=fast"), "WXQR_RATE_LIMITS"},
		{"daily budgets", nil, env("WXQR_DAILY_BUDGETS", "qrcode/create=-5"), "WXQR_DAILY_BUDGETS"},
		{"regen schedule", nil, env("WXQR_REGEN_SCHEDULE", "at three"), "WXQR_REGEN_SCHEDULE"},
		{"regen zone", nil, env("WXQR_REGEN_TZ", "Mars/Olympus"), "WXQR_REGEN_TZ"},
		{"regen horizon", nil, env("WXQR_REGEN_HORIZON", "soon"), "WXQR_REGEN_HORIZON"},
		{"breaker setting", nil, env("WXQR_BREAKER", "speed=3"), "WXQR_BREAKER"},
		{"breaker pauses", nil, env("WXQR_BREAKER", "pause=1m,max_pause=10s"), "WXQR_BREAKER"},
		{"storage failures", nil, env("WXQR_STORAGE_FAILURES", "0"), "WXQR_STORAGE_FAILURES"},
		{"storage probe", nil, env("WXQR_STORAGE_PROBE", "500us"), "WXQR_STORAGE_PROBE"},
		{"staged max bytes", nil, env("WXQR_STAGED_MAX_BYTES", "256MiB"), "WXQR_STAGED_MAX_BYTES"},
		{"storage url", nil, env("WXQR_STORAGE", "s3://wxqr:"+testAWSSecret+"@codes"), "WXQR_STORAGE"},
		{"s3 endpoint", nil, env("S3_ENDPOINT", "http://wxqr:"+testAWSSecret+"@127.0.0.1:9000"), "S3_ENDPOINT"},
		{"s3 path style", nil, env("S3_FORCE_PATH_STYLE", "maybe"), "S3_FORCE_PATH_STYLE"},
		{"api base url", nil, env("WECHAT_API_BASE_URL", "ftp://api.example"), "WECHAT_API_BASE_URL"},
		{"mp base url", nil, env("WECHAT_MP_BASE_URL", "https://mp.example#top"), "WECHAT_MP_BASE_URL"},
		{"monitor address", nil, env("WXQR_MONITOR_ADDR", "8080"), "WXQR_MONITOR_ADDR"},
		{"monitor reachable", nil, env("WXQR_MONITOR_ADDR", "0.0.0.0:0"), "without credentials"},
		{"monitor user alone", nil, env("WXQR_MONITOR_USER", "ops"), "username and a password"},
		{"monitor password alone", nil, env("WXQR_MONITOR_PASSWORD", testMonitorSecret), "username and a password"},
		{"monitor read-only", nil, env("WXQR_MONITOR_READONLY", "sometimes"), "WXQR_MONITOR_READONLY"},
		{"log level", nil, env("LOG_LEVEL", "loud"), "LOG_LEVEL"},
		{"log format", nil, env("LOG_FORMAT", "xml"), "LOG_FORMAT"},
	}
}

// TestLoadConfig reads a configuration that sets everything the worker
// reads of its own, and checks that the flags win over the environment.
func TestLoadConfig(t *testing.T) {
	env := map[string]string{
		"WXQR_APPS":             "wxa:" + testAppSecret + ":oa",
		"WXQR_CONCURRENCY":      "4",
		"WXQR_MONITOR_ADDR":     "127.0.0.1:0",
		"WXQR_MONITOR_USER":     "ops",
		"WXQR_MONITOR_PASSWORD": testMonitorSecret,
		"WXQR_MONITOR_READONLY": "true",
		"WXQR_REGEN_SCHEDULE":   "off",
		"WXQR_REGEN_HORIZON":    "3d",
		"WXQR_BREAKER":          "off",
		"WXQR_STORAGE_PROBE":    "2s",
		"WXQR_DAILY_BUDGETS":    "qrcode/create=100",
	}
	wc, err := loadConfig([]string{"--until-idle", "--concurrency=9", "--monitor-addr=0.0.0.0:0"},
		func(k string) string { return env[k] }, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"until idle", wc.untilIdle, true},
		{"concurrency (flag)", wc.shared.Concurrency, 9},
		{"monitor address (flag)", wc.shared.MonitorAddr, "0.0.0.0:0"},
		{"monitor", wc.monitor, monitorSettings{user: "ops", password: testMonitorSecret, readOnly: true}},
		{"regen scheduled", wc.regen.schedule != nil, false},
		{"regen horizon", wc.regen.horizon, 72 * time.Hour},
		{"breaker off", wc.guards.breakerOff, true},
		{"storage probe", wc.guards.storage.ProbeInterval, 2 * time.Second},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if budget, ok := wc.budgets.Lookup("wxa:qrcode/create"); !ok || budget != 100 {
		t.Errorf("budget of wxa's qrcode/create = %d, %v; want 100", budget, ok)
	}
}
