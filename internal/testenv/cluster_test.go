package testenv

import (
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestCluster(t *testing.T) {
	var env ClusterEnv
	key := ""
	t.Run("a test's keys", func(t *testing.T) {
		env = Cluster(t)
		if !strings.HasPrefix(env.KeyPrefix, "{wxqr-test-") || !strings.HasSuffix(env.KeyPrefix, "}:") {
			t.Fatalf("KeyPrefix = %q, want a hash tag of its own", env.KeyPrefix)
		}
		key = env.KeyPrefix + "k"
		if err := env.Client.Set(t.Context(), key, "v", 0).Err(); err != nil {
			t.Fatalf("SET: %v", err)
		}
		// Keys of one test share a slot, so a multi-key command works.
		if err := env.Client.MSet(t.Context(), key, "v", env.KeyPrefix+"other", "w").Err(); err != nil {
			t.Fatalf("MSET in one slot: %v", err)
		}
	})
	if t.Failed() || t.Skipped() || env.Client == nil {
		return
	}
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: env.Addrs})
	defer rdb.Close()
	n, err := rdb.Exists(t.Context(), key, env.KeyPrefix+"other").Result()
	if err != nil {
		t.Fatalf("EXISTS: %v", err)
	}
	if n != 0 {
		t.Errorf("%d keys under %s outlived the test", n, env.KeyPrefix)
	}
	if !strings.Contains(env.URL(), "key_prefix=%7Bwxqr-test-") {
		t.Errorf("URL() = %q, want the key prefix in it", env.URL())
	}
}
