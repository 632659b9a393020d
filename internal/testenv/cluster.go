package testenv

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// EnvClusterAddrs names the nodes of the Redis Cluster of the cluster tests,
// host:port,host:port,...
const EnvClusterAddrs = "WXQR_TEST_CLUSTER_ADDRS"

// ClusterEnv is a test's share of the Redis Cluster: the cluster's nodes, a
// key prefix of the test's own, and a client.
type ClusterEnv struct {
	Addrs []string
	// KeyPrefix is "{wxqr-test-<random>}:": every key under it hashes to
	// one slot, as wxqr's keys under "{wxqr}:" do, and no other test's key
	// starts with it.
	KeyPrefix string
	// Client reaches the cluster; it is closed when the test ends.
	Client *redis.ClusterClient
}

// URL returns the REDIS_URL of the cluster, with the test's key prefix.
func (c ClusterEnv) URL() string {
	return "redis-cluster://" + strings.Join(c.Addrs, ",") + "/?key_prefix=" + url.QueryEscape(c.KeyPrefix)
}

// Cluster gives the calling test the Redis Cluster named by
// WXQR_TEST_CLUSTER_ADDRS, shared with other tests: the test keeps its own
// keys under KeyPrefix, which are deleted when it ends (keys it makes
// outside the prefix, such as asynq's, are its own to clean up). If the
// variable is unset or the cluster does not answer, the test is skipped,
// or fails under CI=true.
func Cluster(tb testing.TB) ClusterEnv {
	tb.Helper()
	addrs := os.Getenv(EnvClusterAddrs)
	if addrs == "" {
		unavailable(tb, "no Redis Cluster is configured (%s must be set)", EnvClusterAddrs)
	}
	env := ClusterEnv{
		Addrs:     strings.Split(addrs, ","),
		KeyPrefix: "{wxqr-test-" + strings.ToLower(rand.Text()) + "}:",
	}
	env.Client = redis.NewClusterClient(&redis.ClusterOptions{Addrs: env.Addrs})
	ctx, cancel := context.WithTimeout(tb.Context(), 5*time.Second)
	err := env.Client.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		return node.Ping(ctx).Err()
	})
	cancel()
	if err != nil {
		_ = env.Client.Close()
		unavailable(tb, "the Redis Cluster at %s does not answer (%v)", addrs, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if err := DeleteClusterKeys(ctx, env.Client, env.KeyPrefix+"*"); err != nil {
			tb.Errorf("testenv: %v", err)
		}
		_ = env.Client.Close()
	})
	return env
}

// DeleteClusterKeys deletes every key matching pattern on every master of
// rdb.
func DeleteClusterKeys(ctx context.Context, rdb *redis.ClusterClient, pattern string) error {
	return rdb.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		iter := node.Scan(ctx, 0, pattern, 1000).Iterator()
		for iter.Next(ctx) {
			// One key at a time: keys of one pattern may lie in many slots.
			if err := node.Del(ctx, iter.Val()).Err(); err != nil {
				return fmt.Errorf("delete %s on %s: %w", iter.Val(), node.Options().Addr, err)
			}
		}
		if err := iter.Err(); err != nil {
			return fmt.Errorf("scan %s on %s: %w", pattern, node.Options().Addr, err)
		}
		return nil
	})
}
