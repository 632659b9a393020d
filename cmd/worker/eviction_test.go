package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

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
	var st *exitStatus
	if !errors.As(err, &st) || st.code != exitUsage {
		t.Fatalf("run = %v, want exit status %d", err, exitUsage)
	}
	for _, want := range []string{opts.Addr, "maxmemory-policy is allkeys-lru", "noeviction"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}
