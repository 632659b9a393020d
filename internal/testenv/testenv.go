// Package testenv gives integration tests the real services that
// ./scripts/test.sh starts: a Redis database and an S3 bucket of their own,
// emptied around each test, so tests in different packages (which go test
// runs at once) never see each other's data.
//
// It reads the environment, as only test helpers may:
//
//	WXQR_TEST_REDIS_URL       Redis to use (default redis://127.0.0.1:6379)
//	WXQR_TEST_S3_ENDPOINT     S3-compatible server, e.g. http://127.0.0.1:9000
//	WXQR_TEST_S3_ACCESS_KEY   its access key
//	WXQR_TEST_S3_SECRET_KEY   its secret key
//	WXQR_TEST_SENTINEL_ADDRS  Redis Sentinels, host:port,host:port,... (see Sentinel)
//	WXQR_TEST_SENTINEL_MASTER the name of the master they watch
//	WXQR_TEST_CLUSTER_ADDRS   Redis Cluster nodes, host:port,... (see Cluster)
//	CI                        when true, a missing service fails the test
//
// When a service is missing, a test is skipped locally (with a hint to run
// ./scripts/test.sh) but fails under CI=true: CI must never pass by
// skipping.
package testenv

import (
	"context"
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Environment variables read by this package.
const (
	EnvRedisURL    = "WXQR_TEST_REDIS_URL"
	EnvS3Endpoint  = "WXQR_TEST_S3_ENDPOINT"
	EnvS3AccessKey = "WXQR_TEST_S3_ACCESS_KEY"
	EnvS3SecretKey = "WXQR_TEST_S3_SECRET_KEY"
)

// DefaultRedisURL is the Redis used when WXQR_TEST_REDIS_URL is unset.
const DefaultRedisURL = "redis://127.0.0.1:6379"

const (
	// firstDB..lastDB are the Redis databases handed to tests. DB 0 gets
	// nothing but the leases: it may hold someone else's data.
	firstDB, lastDB = 1, 15
	// leaseTTL bounds how long a crashed test process keeps a database.
	// It outlasts go test's default timeout (10 minutes), so a test that
	// runs under it keeps its lease to the end.
	leaseTTL = 11 * time.Minute
	// maxWait is how long a test waits for a database when all are taken
	// (by at most the test's own deadline).
	maxWait = 2 * time.Minute
	// cleanupTimeout bounds each clean-up's I/O; the test's own context is
	// already cancelled when clean-ups run.
	cleanupTimeout = 30 * time.Second
)

func leaseKey(db int) string { return "wxqr-test:db:" + strconv.Itoa(db) }

// release deletes a lease only if it is still ours: one that expired and
// was taken by another test must survive.
var release = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("DEL", KEYS[1])
end
return 0`)

// Redis returns a client on a Redis database reserved for the calling test
// (one of 1..15), flushed before it is returned and again when the test
// ends, when the client is also closed. See RedisOptions.
func Redis(tb testing.TB) *redis.Client {
	tb.Helper()
	rdb := redis.NewClient(RedisOptions(tb))
	tb.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// RedisOptions reserves a Redis database (one of 1..15) for the calling test
// and returns the options to reach it, for clients that want them rather
// than a client (asynq.RedisClientOpt{Addr: o.Addr, DB: o.DB, ...}). The
// database is flushed now and when the test ends.
//
// A reservation is a lease key in DB 0, taken with SET NX and released when
// the test ends. When all databases are taken, RedisOptions waits for one
// (up to two minutes, and never past the test's deadline), then fails. If
// Redis does not answer, the test is skipped, or fails under CI=true.
func RedisOptions(tb testing.TB) *redis.Options {
	tb.Helper()
	base := redisBase(tb)
	adminOpts := withDB(base, 0)
	// A missing Redis should be reported at once, not after retries.
	adminOpts.DialerRetries, adminOpts.MaxRetries = 1, -1
	admin := redis.NewClient(adminOpts)
	ctx := tb.Context()
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err := admin.Ping(pingCtx).Err()
	cancel()
	if err != nil {
		_ = admin.Close()
		unavailable(tb, "Redis at %s does not answer (%v)", base.Addr, err)
	}

	wait := maxWait
	if d, ok := tb.(interface{ Deadline() (time.Time, bool) }); ok {
		if deadline, ok := d.Deadline(); ok {
			// Fail with a message a little before go test panics.
			wait = min(wait, time.Until(deadline)-5*time.Second)
		}
	}
	waitCtx, cancel := context.WithTimeout(ctx, wait)
	db, token, err := reserve(waitCtx, admin)
	cancel()
	if err != nil {
		_ = admin.Close()
		tb.Fatalf("testenv: reserve a Redis database at %s: %v", base.Addr, err)
	}
	opts := withDB(base, db)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if err := flush(ctx, opts); err != nil {
			tb.Errorf("testenv: %v", err)
		}
		if err := release.Run(ctx, admin, []string{leaseKey(db)}, token).Err(); err != nil {
			tb.Errorf("testenv: release Redis database %d: %v", db, err)
		}
		_ = admin.Close()
	})
	if err := flush(ctx, opts); err != nil {
		tb.Fatalf("testenv: %v", err)
	}
	return withDB(opts, db) // a copy, which the caller may change
}

// redisBase returns the options that WXQR_TEST_REDIS_URL names.
func redisBase(tb testing.TB) *redis.Options {
	tb.Helper()
	raw := os.Getenv(EnvRedisURL)
	if raw == "" {
		raw = DefaultRedisURL
	}
	base, err := redis.ParseURL(raw)
	if err != nil {
		tb.Fatalf("testenv: %s=%q: %v", EnvRedisURL, raw, err)
	}
	return base
}

// withDB returns a copy of o on database db.
func withDB(o *redis.Options, db int) *redis.Options {
	c := *o
	c.DB = db
	return &c
}

// reserve takes the lease of a free database, waiting with backoff while
// none is free, and returns the database and the lease's token.
func reserve(ctx context.Context, admin *redis.Client) (db int, token string, err error) {
	token = rand.Text()
	n := lastDB - firstDB + 1
	backoff := 20 * time.Millisecond
	for {
		// Start at a random database so that concurrent tests rarely race
		// for the same lease.
		start := mrand.IntN(n)
		for i := range n {
			db := firstDB + (start+i)%n
			ok, err := admin.SetNX(ctx, leaseKey(db), token, leaseTTL).Result()
			if err != nil {
				return 0, "", err
			}
			if ok {
				return db, token, nil
			}
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, "", fmt.Errorf("all databases %d..%d are in use by other tests: %w", firstDB, lastDB, ctx.Err())
		case <-t.C:
		}
		backoff = min(2*backoff, time.Second)
	}
}

// flush empties the database of opts.
func flush(ctx context.Context, opts *redis.Options) error {
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		return fmt.Errorf("flush Redis database %d: %w", opts.DB, err)
	}
	return nil
}

// unavailable stops a test whose service is missing: a failure under CI,
// a skip otherwise.
func unavailable(tb testing.TB, format string, args ...any) {
	tb.Helper()
	msg := "testenv: " + fmt.Sprintf(format, args...)
	if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
		tb.Fatalf("%s; CI is set, so this is a failure; ./scripts/test.sh starts the services the tests need", msg)
	}
	tb.Skipf("%s; run ./scripts/test.sh, which starts the services the tests need", msg)
}
