package config

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/wxqr/wxqr"
)

// env returns a getenv reading m.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadDefaults(t *testing.T) {
	cfg, err := Load(env(nil))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"redis", cfg.Redis.String(), DefaultRedisURL},
		{"redis min replicas", cfg.RedisMinReplicas, 0},
		{"apps", len(cfg.Apps), 0},
		{"api base", cfg.APIBaseURL, DefaultAPIBaseURL},
		{"mp base", cfg.MPBaseURL, DefaultMPBaseURL},
		{"storage", cfg.Storage.URL, DefaultStorage},
		{"concurrency", cfg.Concurrency, DefaultConcurrency},
		{"monitor", cfg.MonitorAddr, DefaultMonitorAddr},
		{"log level", cfg.Log.Level, zerolog.InfoLevel},
		{"log format", cfg.Log.Format, ""}, // JSON, or console on a terminal
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestLoadMinReplicasFollowsSentinel(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want int
	}{
		{"single server", map[string]string{EnvRedisURL: "redis://127.0.0.1:6379/0"}, 0},
		{"sentinel", map[string]string{EnvRedisURL: "redis-sentinel://127.0.0.1:26379/mymaster"}, 1},
		{"sentinel, none asked", map[string]string{EnvRedisURL: "redis-sentinel://127.0.0.1:26379/mymaster", EnvRedisMinReplicas: "0"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load(env(tt.env))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if cfg.RedisMinReplicas != tt.want {
				t.Errorf("RedisMinReplicas = %d, want %d", cfg.RedisMinReplicas, tt.want)
			}
		})
	}
}

func TestLoadAll(t *testing.T) {
	cfg, err := Load(env(map[string]string{
		EnvRedisURL:         "redis://:pw@redis.internal:6380/3",
		EnvApps:             "wxoa:s3cr3t-one:oa,wxmp:s3cr3t-two:mp",
		EnvAPIBaseURL:       "http://127.0.0.1:9999",
		EnvMPBaseURL:        "http://127.0.0.1:9998",
		EnvStorage:          "s3://codes/prod",
		EnvS3Endpoint:       "http://minio:9000",
		EnvS3ForcePathStyle: "true",
		EnvAWSAccessKeyID:   "AKIDEXAMPLE",
		EnvAWSSecretKey:     "s3cr3t-aws",
		EnvAWSRegion:        "cn-north-1",
		EnvConcurrency:      "7",
		EnvMonitorAddr:      ":9090",
		EnvLogLevel:         "debug",
		EnvLogFormat:        "console",
		EnvRedisMinReplicas: "2",
	}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"redis", cfg.Redis.String(), "redis://:xxxxx@redis.internal:6380/3"},
		{"redis min replicas", cfg.RedisMinReplicas, 2},
		{"apps", len(cfg.Apps), 2},
		{"app 2 type", cfg.Apps[1].Type, wxqr.AppMP},
		{"app 2 secret", cfg.Apps[1].Secret, "s3cr3t-two"},
		{"api base", cfg.APIBaseURL, "http://127.0.0.1:9999"},
		{"mp base", cfg.MPBaseURL, "http://127.0.0.1:9998"},
		{"storage", cfg.Storage.URL, "s3://codes/prod"},
		{"s3 endpoint", cfg.Storage.S3.Endpoint, "http://minio:9000"},
		{"s3 path style", cfg.Storage.S3.ForcePathStyle, true},
		{"s3 access key", cfg.Storage.S3.AccessKey, "AKIDEXAMPLE"},
		{"s3 secret key", cfg.Storage.S3.SecretKey, "s3cr3t-aws"},
		{"s3 region", cfg.Storage.S3.Region, "cn-north-1"},
		{"concurrency", cfg.Concurrency, 7},
		{"monitor", cfg.MonitorAddr, ":9090"},
		{"log level", cfg.Log.Level, zerolog.DebugLevel},
		{"log format", cfg.Log.Format, LogConsole},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string // substrings of the error
	}{
		{"redis scheme", map[string]string{EnvRedisURL: "http://x"}, []string{"REDIS_URL", "scheme"}},
		{"redis min replicas", map[string]string{EnvRedisMinReplicas: "-1"}, []string{"WXQR_REDIS_MIN_REPLICAS", "non-negative"}},
		{"apps", map[string]string{EnvApps: "wx1:s3cr3t:xx"}, []string{"WXQR_APPS", "entry 1", "kind"}},
		{"api base", map[string]string{EnvAPIBaseURL: "ftp://x"}, []string{"WECHAT_API_BASE_URL"}},
		{"api base credentials", map[string]string{EnvAPIBaseURL: "https://u:s3cr3t@x"}, []string{"WECHAT_API_BASE_URL", "credentials"}},
		{"mp base", map[string]string{EnvMPBaseURL: "mp.weixin.qq.com"}, []string{"WECHAT_MP_BASE_URL"}},
		{"mp base fragment", map[string]string{EnvMPBaseURL: "https://mp.example#top"}, []string{"WECHAT_MP_BASE_URL", "fragment"}},
		{"path style", map[string]string{EnvS3ForcePathStyle: "yes please"}, []string{"S3_FORCE_PATH_STYLE"}},
		{"concurrency zero", map[string]string{EnvConcurrency: "0"}, []string{"WXQR_CONCURRENCY"}},
		{"concurrency text", map[string]string{EnvConcurrency: "many"}, []string{"WXQR_CONCURRENCY"}},
		{"monitor", map[string]string{EnvMonitorAddr: "8080"}, []string{"WXQR_MONITOR_ADDR"}},
		{"log level", map[string]string{EnvLogLevel: "loud"}, []string{"LOG_LEVEL"}},
		{"log format", map[string]string{EnvLogFormat: "xml"}, []string{"LOG_FORMAT"}},
		{"several at once", map[string]string{EnvConcurrency: "-1", EnvLogFormat: "xml"}, []string{"WXQR_CONCURRENCY", "LOG_FORMAT"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load(env(tt.env))
			if err == nil {
				t.Fatalf("Load = %v, want an error", cfg)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error %q shows a secret", err)
			}
		})
	}
}

// TestConfigNeverShowsSecrets loads every secret the environment can hold
// and prints and marshals the whole configuration.
func TestConfigNeverShowsSecrets(t *testing.T) {
	cfg, err := Load(env(map[string]string{
		EnvRedisURL:       "redis://wxqr:s3cr3t-redis@redis.internal:6379/0?dial_timeout=1s",
		EnvApps:           "wxoa:s3cr3t-app:oa",
		EnvStorage:        "s3://codes/prod",
		EnvAWSSecretKey:   "s3cr3t-aws",
		EnvAWSAccessKeyID: "AKID",
	}))
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{"json": string(data)}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x"} {
		outputs[verb] = fmt.Sprintf(verb, cfg)
		outputs[verb+" value"] = fmt.Sprintf(verb, *cfg)
	}
	for name, out := range outputs {
		if strings.Contains(out, "s3cr3t") {
			t.Errorf("%s shows a secret: %s", name, out)
		}
	}
	if !strings.Contains(outputs["json"], `"secret_key":"[redacted]"`) || !strings.Contains(outputs["json"], "redis://wxqr:xxxxx@redis.internal:6379/0") {
		t.Errorf("json = %s, want the storage secret and the Redis password redacted but marked", outputs["json"])
	}
}
