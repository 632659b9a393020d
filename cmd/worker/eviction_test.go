package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/wxqr/wxqr/internal/exitcode"
	"github.com/wxqr/wxqr/internal/testenv"
)

// TestRunRefusesEvictingRedis starts the worker on a Redis of its own that
// may evict keys.
func TestRunRefusesEvictingRedis(t *testing.T) {
	opts := testenv.PrivateRedis(t, "--maxmemory-policy", "allkeys-lru")
	env := map[string]string{
		"WXQR_APPS":         "wxa:app-secret:oa",
		"REDIS_URL":         "redis://" + opts.Addr + "/0",
		"WXQR_STORAGE":      "file://" + t.TempDir(),
		"WXQR_MONITOR_ADDR": "off",
	}
	err := run(t.Context(), []string{"--until-idle"}, func(k string) string { return env[k] }, &bytes.Buffer{}, &bytes.Buffer{})
	if exitcode.Of(err) != exitcode.Usage {
		t.Fatalf("run = %v, want exit status %d", err, exitcode.Usage)
	}
	for _, want := range []string{opts.Addr, "maxmemory-policy is allkeys-lru", "noeviction"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}
