package testenv

import (
	"context"
	"crypto/rand"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/redis/go-redis/v9"
)

func TestRedisOptionsReservesDistinctDatabases(t *testing.T) {
	a := RedisOptions(t)
	b := RedisOptions(t)
	if a.DB == b.DB {
		t.Errorf("two reservations held at once share database %d", a.DB)
	}
	admin := redis.NewClient(withDB(a, 0))
	t.Cleanup(func() { _ = admin.Close() })
	for _, o := range []*redis.Options{a, b} {
		if o.DB < firstDB || o.DB > lastDB {
			t.Errorf("reserved database %d, want %d..%d", o.DB, firstDB, lastDB)
		}
		if n, err := admin.Exists(t.Context(), leaseKey(o.DB)).Result(); err != nil || n != 1 {
			t.Errorf("lease of database %d: exists = %d, %v; want 1", o.DB, n, err)
		}
	}
}

func TestReserveConcurrently(t *testing.T) {
	admin := redis.NewClient(withDB(RedisOptions(t), 0)) // skips if Redis is missing
	t.Cleanup(func() { _ = admin.Close() })

	const n = 4
	type lease struct {
		db    int
		token string
		err   error
	}
	leases := make([]lease, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			db, token, err := reserve(t.Context(), admin)
			leases[i] = lease{db, token, err}
		})
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, l := range leases {
			if l.err == nil {
				_ = release.Run(context.Background(), admin, []string{leaseKey(l.db)}, l.token).Err()
			}
		}
	})
	seen := map[int]bool{}
	for _, l := range leases {
		if l.err != nil {
			t.Fatalf("reserve: %v", l.err)
		}
		if seen[l.db] {
			t.Errorf("database %d reserved twice", l.db)
		}
		seen[l.db] = true
	}
}

func TestReleaseDeletesOnlyItsOwnLease(t *testing.T) {
	admin := redis.NewClient(withDB(RedisOptions(t), 0))
	t.Cleanup(func() { _ = admin.Close() })
	db, token, err := reserve(t.Context(), admin)
	if err != nil {
		t.Fatalf("reserve: %v", err)
	}
	t.Cleanup(func() { _ = admin.Del(context.Background(), leaseKey(db)).Err() })

	tests := []struct {
		name      string
		token     string
		wantExist int64
	}{
		{"another token", "not-" + token, 1},
		{"own token", token, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := release.Run(t.Context(), admin, []string{leaseKey(db)}, tt.token).Err(); err != nil {
				t.Fatalf("release: %v", err)
			}
			if got, err := admin.Exists(t.Context(), leaseKey(db)).Result(); err != nil || got != tt.wantExist {
				t.Errorf("lease exists = %d, %v; want %d", got, err, tt.wantExist)
			}
		})
	}
}

func TestRedisFlushesWhenTheTestEnds(t *testing.T) {
	Redis(t) // skips if Redis is missing, so the subtest cannot
	key := "testenv-flush-" + rand.Text()
	var opts *redis.Options
	t.Run("use", func(t *testing.T) {
		rdb := Redis(t)
		opts = rdb.Options()
		if err := rdb.Set(t.Context(), key, "x", 0).Err(); err != nil {
			t.Fatalf("set: %v", err)
		}
	})
	if opts == nil {
		t.Fatal("the subtest got no database")
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	if n, err := rdb.Exists(t.Context(), key).Result(); err != nil || n != 0 {
		t.Errorf("after the test, %s exists = %d, %v; want 0", key, n, err)
	}
}

func TestS3GivesEachTestItsOwnBucket(t *testing.T) {
	S3(t) // skips if S3 is missing, so the subtests cannot
	var cfgs []S3Config
	for i := range 2 {
		t.Run(fmt.Sprint("test", i), func(t *testing.T) {
			cfg := S3(t)
			client := newClient(cfg)
			if _, err := client.HeadBucket(t.Context(), &s3.HeadBucketInput{Bucket: aws.String(cfg.Bucket)}); err != nil {
				t.Fatalf("head bucket: %v", err)
			}
			// An object left in the bucket must not stop its deletion.
			if _, err := client.PutObject(t.Context(), &s3.PutObjectInput{
				Bucket: aws.String(cfg.Bucket), Key: aws.String("left/over"), Body: strings.NewReader("x"),
			}); err != nil {
				t.Fatalf("put: %v", err)
			}
			cfgs = append(cfgs, cfg)
		})
	}
	if len(cfgs) != 2 {
		t.Fatalf("got %d buckets, want 2", len(cfgs))
	}
	if cfgs[0].Bucket == cfgs[1].Bucket {
		t.Errorf("both tests got bucket %s", cfgs[0].Bucket)
	}
	for _, cfg := range cfgs {
		_, err := newClient(cfg).HeadBucket(t.Context(), &s3.HeadBucketInput{Bucket: aws.String(cfg.Bucket)})
		if err == nil {
			t.Errorf("bucket %s still exists after its test", cfg.Bucket)
		}
	}
}

func newClient(cfg S3Config) *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(cfg.Endpoint),
		Region:       cfg.Region,
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, ""),
	})
}

func TestMissingServiceFailsUnderCIAndSkipsOtherwise(t *testing.T) {
	helpers := []struct {
		name  string
		unset func(t *testing.T)
		call  func(tb testing.TB)
	}{
		{
			name:  "Redis",
			unset: func(t *testing.T) { t.Setenv(EnvRedisURL, "redis://127.0.0.1:1") }, // nothing listens on port 1
			call:  func(tb testing.TB) { RedisOptions(tb) },
		},
		{
			name:  "S3",
			unset: func(t *testing.T) { t.Setenv(EnvS3Endpoint, "") },
			call:  func(tb testing.TB) { S3(tb) },
		},
	}
	for _, h := range helpers {
		for _, ci := range []string{"true", ""} {
			t.Run(h.name+"/CI="+ci, func(t *testing.T) {
				h.unset(t)
				t.Setenv("CI", ci)
				r := runFake(t, h.call)
				if ci == "true" && (!r.failed || r.skipped) {
					t.Errorf("under CI: failed = %v, skipped = %v; want a failure", r.failed, r.skipped)
				}
				if ci == "" && (r.failed || !r.skipped) {
					t.Errorf("locally: failed = %v, skipped = %v; want a skip", r.failed, r.skipped)
				}
				if !strings.Contains(r.msg, "./scripts/test.sh") {
					t.Errorf("message %q does not say to run ./scripts/test.sh", r.msg)
				}
			})
		}
	}
}

// fakeTB records how a helper stops a test, instead of stopping it.
type fakeTB struct {
	testing.TB
	failed, skipped bool
	msg             string
	cleanups        []func()
}

func (f *fakeTB) Helper()           {}
func (f *fakeTB) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }
func (f *fakeTB) Errorf(format string, args ...any) {
	f.failed = true
	f.msg = fmt.Sprintf(format, args...)
}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.Errorf(format, args...)
	runtime.Goexit()
}
func (f *fakeTB) Skipf(format string, args ...any) {
	f.skipped = true
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// runFake runs fn with a fakeTB in its own goroutine, as testing runs a
// test (Fatalf and Skipf end the goroutine), then its clean-ups.
func runFake(t *testing.T, fn func(testing.TB)) *fakeTB {
	f := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
	return f
}
