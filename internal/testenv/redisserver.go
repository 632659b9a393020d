package testenv

import (
	"bytes"
	"context"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// startTimeout bounds how long a private redis-server may take to answer.
const startTimeout = 10 * time.Second

// PrivateRedis starts a redis-server of the test's own, for tests that
// change the server's configuration (which the shared Redis must never
// see), and returns how to reach it. It listens on a free loopback port,
// keeps nothing on disk, and takes args as extra command-line options
// ("--maxmemory-policy", "allkeys-lru"). It is stopped when the test ends.
// Without a redis-server binary the test is skipped, or fails under CI=true.
func PrivateRedis(tb testing.TB, args ...string) *redis.Options {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		unavailable(tb, "no redis-server binary (%v)", err)
	}
	// The free port is found by listening on port 0 and closing: another
	// process may take it before redis-server does, so try a few.
	var out string
	for range 3 {
		var opts *redis.Options
		if opts, out = startRedisServer(tb, bin, args); opts != nil {
			return opts
		}
	}
	tb.Fatalf("testenv: redis-server did not start:\n%s", out)
	return nil
}

// startRedisServer starts bin on a free port and waits until it answers. It
// returns the options to reach it, or nil and the server's output when it
// exited.
func startRedisServer(tb testing.TB, bin string, args []string) (*redis.Options, string) {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("testenv: find a free port: %v", err)
	}
	addr := l.Addr().(*net.TCPAddr)
	l.Close()

	dir := tb.TempDir()
	var out bytes.Buffer
	cmd := exec.Command(bin, append([]string{"--bind", "127.0.0.1", "--port", strconv.Itoa(addr.Port),
		"--dir", dir, "--save", "", "--appendonly", "no"}, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		tb.Fatalf("testenv: start redis-server: %v", err)
	}
	// out is read only once the process has exited: until then, exec's
	// goroutine writes to it.
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	stop := func() {
		cmd.Process.Kill() // an error only if it has exited already
		<-exited
	}
	tb.Cleanup(stop)

	opts := &redis.Options{Addr: addr.String()}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(tb.Context(), startTimeout)
	defer cancel()
	for {
		err := rdb.Ping(ctx).Err()
		if err == nil {
			return opts, ""
		}
		select {
		case <-exited:
			return nil, out.String()
		case <-ctx.Done():
			stop()
			tb.Fatalf("testenv: redis-server did not answer within %s (%v):\n%s", startTimeout, err, out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
