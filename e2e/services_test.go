package e2e

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr/internal/testenv"
)

// EnvMinIOBin names the MinIO binary for tests that run their own MinIO
// (scripts/test.sh sets it).
const EnvMinIOBin = "WXQR_TEST_MINIO_BIN"

// startTimeout bounds how long a service may take to answer after start.
const startTimeout = time.Minute

// missing skips the test when a service it needs is not installed, or fails
// it under CI=true, as testenv does for the shared services.
func missing(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...) + " (run ./scripts/test.sh)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// freePort returns a loopback port that nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// service is a server process of the test's own, which the test kills
// (SIGKILL, as a crash) and restarts on the same port and data directory.
type service struct {
	t     *testing.T
	name  string
	args  []string
	env   []string
	log   *os.File
	ready func(context.Context) bool
	cmd   *exec.Cmd
	done  chan struct{}
}

func newService(t *testing.T, name string, args, env []string, ready func(context.Context) bool) *service {
	t.Helper()
	log, err := os.Create(filepath.Join(t.TempDir(), filepath.Base(name)+".log"))
	if err != nil {
		t.Fatal(err)
	}
	s := &service{t: t, name: name, args: args, env: env, log: log, ready: ready}
	t.Cleanup(func() {
		s.kill()
		log.Close()
	})
	return s
}

// start starts the process and waits until it answers.
func (s *service) start() {
	s.t.Helper()
	cmd := exec.Command(s.name, s.args...)
	cmd.Env = append(os.Environ(), s.env...)
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start %s: %v", s.name, err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait() //nolint:errcheck // killed on purpose, or reported by ready
		close(done)
	}()
	s.cmd, s.done = cmd, done
	ctx, cancel := context.WithTimeout(s.t.Context(), startTimeout)
	defer cancel()
	for !s.ready(ctx) {
		select {
		case <-done:
			s.t.Fatalf("%s exited at start; its log:\n%s", s.name, s.logTail())
		case <-ctx.Done():
			s.t.Fatalf("%s did not answer within %v; its log:\n%s", s.name, startTimeout, s.logTail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// kill SIGKILLs the process and waits for it to be gone.
func (s *service) kill() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGKILL) //nolint:errcheck // it may be gone already
	<-s.done
	s.cmd = nil
}

func (s *service) logTail() string {
	data, _ := os.ReadFile(s.log.Name())
	return tail(string(data), 20)
}

// logText is everything the process (every run of it) wrote.
func (s *service) logText() string {
	data, _ := os.ReadFile(s.log.Name())
	return string(data)
}

// startRedis runs a redis-server of the test's own, persisting to an
// append-only file, and returns it with the options to reach it. The AOF is
// written and synced before each reply (appendfsync always), so a SIGKILL
// loses nothing Redis acknowledged: what the test then checks is wxqr, not
// the durability setting.
func startRedis(t *testing.T) (*service, *redis.Options) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		missing(t, "redis-server is not installed")
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	host, port, _ := strings.Cut(addr, ":")
	opts := &redis.Options{Addr: addr}
	args := []string{"--bind", host, "--port", port, "--dir", t.TempDir(), "--appendonly", "yes",
		"--appendfsync", "always", "--save", "", "--daemonize", "no", "--protected-mode", "no"}
	ready := func(ctx context.Context) bool {
		rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
		defer rdb.Close()
		return rdb.Ping(ctx).Err() == nil
	}
	s := newService(t, bin, args, nil, ready)
	s.start()
	return s, opts
}

// minioBinary finds the pinned MinIO: WXQR_TEST_MINIO_BIN, else the copy
// scripts/test.sh keeps in .cache/bin, else $(go env GOPATH)/bin.
func minioBinary(t *testing.T) string {
	t.Helper()
	candidates := []string{os.Getenv(EnvMinIOBin), filepath.Join("..", ".cache", "bin", "minio")}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
			candidates = append(candidates, filepath.Join(dir, "bin", "minio"))
		}
	}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if info, err := os.Stat(c); err == nil && !info.IsDir() {
			abs, err := filepath.Abs(c)
			if err != nil {
				t.Fatal(err)
			}
			return abs
		}
	}
	missing(t, "no MinIO binary: set %s", EnvMinIOBin)
	return ""
}

// startMinIO runs a MinIO of the test's own with a bucket, and returns it
// with how to reach the bucket.
func startMinIO(t *testing.T) (*service, testenv.S3Config) {
	t.Helper()
	cfg := testenv.S3Config{
		Endpoint:  fmt.Sprintf("http://127.0.0.1:%d", freePort(t)),
		Region:    "us-east-1",
		AccessKey: "wxqr" + strings.ToLower(rand.Text()[:12]),
		SecretKey: rand.Text(),
		Bucket:    "wxqr-chaos",
	}
	env := []string{"MINIO_ROOT_USER=" + cfg.AccessKey, "MINIO_ROOT_PASSWORD=" + cfg.SecretKey,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off"}
	args := []string{"server", "--quiet", "--address", strings.TrimPrefix(cfg.Endpoint, "http://"), t.TempDir()}
	ready := func(ctx context.Context) bool {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, cfg.Endpoint+"/minio/health/live", nil)
		if err != nil {
			return false
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	s := newService(t, minioBinary(t), args, env, ready)
	s.start()
	client := s3.New(s3.Options{
		BaseEndpoint: aws.String(cfg.Endpoint),
		Region:       cfg.Region,
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, ""),
	})
	// MinIO may answer its health check a moment before it takes requests.
	ctx, cancel := context.WithTimeout(t.Context(), startTimeout)
	defer cancel()
	for {
		_, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(cfg.Bucket)})
		if err == nil {
			break
		}
		if ctx.Err() != nil || !errors.As(err, new(*net.OpError)) {
			t.Fatalf("create bucket on %s: %v", cfg.Endpoint, err)
		}
		select { // a retry's pause
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	return s, cfg
}
