package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/wxqr/wxqr/internal/exitcode"
	"github.com/wxqr/wxqr/internal/testenv"
)

// TestRunMonitorErrorsNeverEchoThePassword misconfigures the monitoring
// server with a password set and looks for it in the error and the log.
func TestRunMonitorErrorsNeverEchoThePassword(t *testing.T) {
	const password = "m0nitor-s3cr3t"
	opts := testenv.RedisOptions(t)
	base := map[string]string{
		"WXQR_APPS":             "wxa:app-secret:oa",
		"REDIS_URL":             fmt.Sprintf("redis://%s/%d", opts.Addr, opts.DB),
		"WXQR_STORAGE":          "file://" + t.TempDir(),
		"WXQR_MONITOR_ADDR":     "127.0.0.1:0",
		"WXQR_MONITOR_PASSWORD": password,
	}
	tests := []struct {
		name string
		env  map[string]string
	}{
		{"password without user", nil},
		{"bad read-only flag", map[string]string{"WXQR_MONITOR_USER": "wxqr", "WXQR_MONITOR_READONLY": "sometimes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string {
				if v, ok := tt.env[k]; ok {
					return v
				}
				return base[k]
			}
			var stderr bytes.Buffer
			err := run(t.Context(), []string{"--until-idle"}, getenv, &bytes.Buffer{}, &stderr)
			if exitcode.Of(err) != exitcode.Usage {
				t.Fatalf("run = %v, want exit status %d", err, exitcode.Usage)
			}
			if strings.Contains(err.Error()+stderr.String(), password) {
				t.Errorf("the monitor password shows in %q", err.Error()+stderr.String())
			}
		})
	}
}
