package wxqr_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestComposeFile reads docker-compose.yml back: it must parse, and wire the
// services the README promises with the variables the commands read.
func TestComposeFile(t *testing.T) {
	data, err := os.ReadFile("docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Build       any               `yaml:"build"`
			Command     []string          `yaml:"command"`
			Entrypoint  []string          `yaml:"entrypoint"`
			Environment map[string]string `yaml:"environment"`
			Ports       []string          `yaml:"ports"`
			Profiles    []string          `yaml:"profiles"`
			DependsOn   map[string]any    `yaml:"depends_on"`
		} `yaml:"services"`
		Volumes map[string]any `yaml:"volumes"`
	}
	if err := yaml.Unmarshal(data, &compose); err != nil {
		t.Fatalf("docker-compose.yml does not parse: %v", err)
	}
	for _, name := range []string{"redis", "minio", "create-bucket", "worker", "worker-2", "enqueue", "callback", "wechatsim"} {
		if _, ok := compose.Services[name]; !ok {
			t.Errorf("service %q is missing", name)
		}
	}
	redis := compose.Services["redis"]
	if !slices.Contains(redis.Command, "--appendonly") {
		t.Errorf("redis runs %v, want persistence (--appendonly yes)", redis.Command)
	}
	if _, ok := compose.Volumes["redis-data"]; !ok {
		t.Error("no redis-data volume: Redis would lose the queues with its container")
	}
	worker := compose.Services["worker"]
	for _, v := range []string{"REDIS_URL", "WXQR_APPS", "WXQR_STORAGE", "S3_ENDPOINT", "S3_FORCE_PATH_STYLE",
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "WXQR_MONITOR_ADDR", "WXQR_MONITOR_USER", "WXQR_MONITOR_PASSWORD"} {
		if _, ok := worker.Environment[v]; !ok {
			t.Errorf("worker has no %s", v)
		}
	}
	// The monitoring server listens on all interfaces in its container, so
	// it must have credentials and be published on loopback only.
	for _, p := range worker.Ports {
		if !strings.HasPrefix(p, "127.0.0.1:") {
			t.Errorf("worker publishes %q beyond loopback", p)
		}
	}
	// No password has a default: each is required, and compose stops with
	// the message when it is not set.
	if got := worker.Environment["WXQR_MONITOR_PASSWORD"]; !requiredVar.MatchString(got) || !strings.HasPrefix(got, "${WXQR_MONITOR_PASSWORD:?") {
		t.Errorf("worker's WXQR_MONITOR_PASSWORD is %q, want ${WXQR_MONITOR_PASSWORD:?message}: no default password", got)
	}
	redisPassword := argAfter(redis.Command, "--requirepass")
	if !requiredVar.MatchString(redisPassword) {
		t.Errorf("redis runs %v, want --requirepass ${VAR:?message}", redis.Command)
	}
	if got := redis.Environment["REDISCLI_AUTH"]; got != redisPassword {
		t.Errorf("redis health check authenticates with %q (REDISCLI_AUTH), want %q", got, redisPassword)
	}
	for name, s := range compose.Services {
		for _, v := range []string{"MINIO_ROOT_PASSWORD", "AWS_SECRET_ACCESS_KEY"} {
			if got, ok := s.Environment[v]; ok && !requiredVar.MatchString(got) {
				t.Errorf("service %s has %s %q, want ${VAR:?message}: no default password", name, v, got)
			}
		}
	}
	if argAfter(redis.Command, "--maxmemory-policy") != "noeviction" {
		t.Errorf("redis runs %v, want --maxmemory-policy noeviction: the worker refuses any other", redis.Command)
	}
	for name, s := range compose.Services {
		if u, ok := s.Environment["REDIS_URL"]; ok && !strings.HasPrefix(u, "redis://:"+redisPassword+"@redis:") {
			t.Errorf("service %s has REDIS_URL %q, want redis://:%s@redis:...", name, u, redisPassword)
		}
	}
	if !slices.Contains(compose.Services["wechatsim"].Profiles, "sim") {
		t.Error("the simulator must be an opt-in profile (sim)")
	}
	// The callback server trusts X-Real-IP: only the proxy on this machine
	// may reach it.
	callback := compose.Services["callback"]
	if !slices.Contains(callback.Profiles, "callback") {
		t.Error("the callback server must be an opt-in profile (callback): it needs callback settings")
	}
	for _, v := range []string{"REDIS_URL", "WXQR_APPS", "WXQR_CALLBACK_ADDR", "WXQR_CALLBACK_CLIENT_IP_HEADER", "WXQR_OPENID_KEY", "WXQR_SCAN_RETENTION"} {
		if _, ok := callback.Environment[v]; !ok {
			t.Errorf("callback has no %s", v)
		}
	}
	if len(callback.Ports) == 0 {
		t.Error("callback publishes no port for the proxy")
	}
	for _, p := range callback.Ports {
		if !strings.HasPrefix(p, "127.0.0.1:") {
			t.Errorf("callback publishes %q beyond loopback, where X-Real-IP could be forged", p)
		}
	}
	for name, s := range compose.Services {
		if s.Build != nil {
			if _, err := os.Stat("Dockerfile"); err != nil {
				t.Errorf("service %s builds from a Dockerfile that is missing: %v", name, err)
			}
		}
	}
}

// requiredVar is compose's form for a variable that must be set, with the
// message shown when it is not: ${VAR:?message}.
var requiredVar = regexp.MustCompile(`^\$\{[A-Z_]+:\?[^}]+\}$`)

// argAfter returns the argument that follows flag in args, or "".
func argAfter(args []string, flag string) string {
	i := slices.Index(args, flag)
	if i < 0 || i+1 >= len(args) {
		return ""
	}
	return args[i+1]
}
