package config

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/wxqr/wxqr/internal/testenv"
)

// TestCheckNoEviction runs the check against Redis servers of the test's
// own (the shared one must keep its policy), CONFIG and INFO disabled in
// turn as managed offerings do.
func TestCheckNoEviction(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantPolicy string // in an *EvictionError; "" for none
		wantWarn   bool
	}{
		{"noeviction", []string{"--maxmemory-policy", "noeviction"}, "", false},
		{"allkeys-lru", []string{"--maxmemory-policy", "allkeys-lru"}, "allkeys-lru", false},
		{"volatile-ttl", []string{"--maxmemory-policy", "volatile-ttl"}, "volatile-ttl", false},
		{"no CONFIG, allkeys-lfu", []string{"--maxmemory-policy", "allkeys-lfu", "--rename-command", "CONFIG", ""}, "allkeys-lfu", false},
		{"no CONFIG, noeviction", []string{"--rename-command", "CONFIG", ""}, "", false},
		{"no CONFIG nor INFO", []string{"--maxmemory-policy", "allkeys-lru", "--rename-command", "CONFIG", "", "--rename-command", "INFO", ""}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rdb := redis.NewClient(testenv.PrivateRedis(t, tt.args...))
			t.Cleanup(func() { rdb.Close() })
			var logs bytes.Buffer
			err := CheckNoEviction(t.Context(), rdb, zerolog.New(&logs))

			var evict *EvictionError
			switch {
			case tt.wantPolicy == "" && err != nil:
				t.Errorf("CheckNoEviction: %v", err)
			case tt.wantPolicy != "" && (!errors.As(err, &evict) || evict.Policy != tt.wantPolicy):
				t.Errorf("CheckNoEviction = %v, want an EvictionError for %s", err, tt.wantPolicy)
			case tt.wantPolicy != "" && !strings.Contains(err.Error(), "set maxmemory-policy noeviction"):
				t.Errorf("error %q does not say how to fix it", err)
			}
			if warned := strings.Contains(logs.String(), "maxmemory-policy"); warned != tt.wantWarn {
				t.Errorf("warned = %v, want %v; logs: %s", warned, tt.wantWarn, logs.String())
			}
		})
	}
}
