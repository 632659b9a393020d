package testenv

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/wxqr/wxqr/internal/redisinfo"
)

// Environment variables naming the Redis Sentinel set of the failover tests.
const (
	EnvSentinelAddrs  = "WXQR_TEST_SENTINEL_ADDRS"  // host:port,host:port,...
	EnvSentinelMaster = "WXQR_TEST_SENTINEL_MASTER" // the master's name
)

// healthyTimeout bounds the wait for the Sentinel set to be whole again: a
// master with a replica in sync, which a failover test leaves behind only
// once the demoted master has caught up.
const healthyTimeout = time.Minute

// sentinelLease is the key, in database 0 of the Sentinel master, that gives
// one test at a time the whole set: the tests that use it pause replicas and
// force failovers, which would upset any other test on the set.
const sentinelLease = "wxqr-test:sentinel"

// sentinelDB is the database that a test holding the set gets.
const sentinelDB = firstDB

// Sentinel gives the calling test, alone until it ends, the Redis Sentinel
// set named by WXQR_TEST_SENTINEL_ADDRS and WXQR_TEST_SENTINEL_MASTER, and
// returns the options to reach a database of its master through the
// sentinels. The test may pause the replica or force a failover. The
// database is flushed now and when the test ends.
//
// Another test holding the set is waited for (never past the test's
// deadline). Then Sentinel waits until the master has a replica online, so
// that the test starts from a set that can fail over. If the variables are
// unset or the sentinels do not answer, the test is skipped, or fails under
// CI=true.
func Sentinel(tb testing.TB) *redis.FailoverOptions {
	tb.Helper()
	addrs, master := os.Getenv(EnvSentinelAddrs), os.Getenv(EnvSentinelMaster)
	if addrs == "" || master == "" {
		unavailable(tb, "no Redis Sentinel set is configured (%s and %s must be set)", EnvSentinelAddrs, EnvSentinelMaster)
	}
	base := &redis.FailoverOptions{MasterName: master, SentinelAddrs: strings.Split(addrs, ",")}
	ctx := tb.Context()
	sentinel := redis.NewSentinelClient(&redis.Options{Addr: base.SentinelAddrs[0]})
	defer sentinel.Close()
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err := sentinel.Ping(pingCtx).Err()
	cancel()
	if err != nil {
		unavailable(tb, "the sentinel at %s does not answer (%v)", base.SentinelAddrs[0], err)
	}

	admin := redis.NewFailoverClient(failoverWithDB(base, 0))
	wait := leaseTTL
	if d, ok := tb.(interface{ Deadline() (time.Time, bool) }); ok {
		if deadline, ok := d.Deadline(); ok {
			wait = min(wait, time.Until(deadline)-5*time.Second)
		}
	}
	waitCtx, cancel := context.WithTimeout(ctx, wait)
	token, err := acquire(waitCtx, admin, sentinelLease)
	cancel()
	if err != nil {
		_ = admin.Close()
		tb.Fatalf("testenv: take the Sentinel set %s: %v", master, err)
	}
	opts := failoverWithDB(base, sentinelDB)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if err := flushFailover(ctx, opts); err != nil {
			tb.Errorf("testenv: %v", err)
		}
		if err := release.Run(ctx, admin, []string{sentinelLease}, token).Err(); err != nil {
			tb.Errorf("testenv: release the Sentinel set %s: %v", master, err)
		}
		_ = admin.Close()
	})
	waitCtx, cancel = context.WithTimeout(ctx, healthyTimeout)
	err = waitReplicated(waitCtx, admin)
	cancel()
	if err != nil {
		tb.Fatalf("testenv: Sentinel master %s has no replica in sync: %v", master, err)
	}
	if err := flushFailover(ctx, opts); err != nil {
		tb.Fatalf("testenv: %v", err)
	}
	return failoverWithDB(opts, sentinelDB) // a copy, which the caller may change
}

// acquire takes the lease key, waiting with backoff while another holds it,
// and returns the lease's token.
func acquire(ctx context.Context, admin *redis.Client, key string) (string, error) {
	token := rand.Text()
	backoff := 50 * time.Millisecond
	for {
		ok, err := admin.SetNX(ctx, key, token, leaseTTL).Result()
		if err != nil {
			return "", err
		}
		if ok {
			return token, nil
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return "", fmt.Errorf("another test holds it: %w", ctx.Err())
		case <-t.C:
		}
		backoff = min(2*backoff, time.Second)
	}
}

// waitReplicated polls until the master rdb reaches has a replica online
// that acknowledged the replication stream within the last second.
func waitReplicated(ctx context.Context, rdb *redis.Client) error {
	var last error
	for {
		info, err := rdb.Info(ctx, "replication").Result()
		switch {
		case err != nil:
			last = err
		case inSync(info):
			return nil
		default:
			last = fmt.Errorf("replication: %s", strings.Join(strings.Fields(info), " "))
		}
		t := time.NewTimer(200 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
		case <-t.C:
		}
	}
}

// inSync reports whether INFO replication shows a master with a replica
// online and a lag of at most a second.
func inSync(info string) bool {
	fields := redisinfo.Parse(info)
	online := false
	for k, v := range fields {
		if strings.HasPrefix(k, "slave") && strings.HasPrefix(v, "ip=") {
			// slave0:ip=127.0.0.1,port=6380,state=online,offset=123,lag=0
			attrs := map[string]string{}
			for _, a := range strings.Split(v, ",") {
				name, value, _ := strings.Cut(a, "=")
				attrs[name] = value
			}
			online = online || attrs["state"] == "online" && (attrs["lag"] == "0" || attrs["lag"] == "1")
		}
	}
	return fields["role"] == "master" && online
}

// failoverWithDB returns a copy of o on database db.
func failoverWithDB(o *redis.FailoverOptions, db int) *redis.FailoverOptions {
	c := *o
	c.SentinelAddrs = append([]string(nil), o.SentinelAddrs...)
	c.DB = db
	return &c
}

// flushFailover empties the database of opts on the current master.
func flushFailover(ctx context.Context, opts *redis.FailoverOptions) error {
	rdb := redis.NewFailoverClient(failoverWithDB(opts, opts.DB))
	defer rdb.Close()
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		return fmt.Errorf("flush database %d on Sentinel master %s: %w", opts.DB, opts.MasterName, err)
	}
	return nil
}
