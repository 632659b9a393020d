package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr/wechat/wechatsim"
)

// envMinIOBin names the MinIO binary, as for the tests (scripts/test.sh
// sets it).
const envMinIOBin = "WXQR_TEST_MINIO_BIN"

// errMissing is a service bench cannot start because it is not installed.
var errMissing = errors.New("not installed (./scripts/test.sh installs redis-server and builds the pinned MinIO)")

// startTimeout bounds how long a service may take to answer after start.
const startTimeout = time.Minute

// The app the simulator knows, the bucket, and the campaign of every run.
const (
	benchApp    = "wxbench0001"
	benchBucket = "wxqr-bench"
	campaign    = "bench"
)

// env is one bench run's world: the services, the built commands and the
// options. Its processes and directory go with close.
type env struct {
	o      *options
	dir    string // temporary: binaries, data, logs
	stderr io.Writer

	sim      *wechatsim.Server
	simHTTP  *httptest.Server
	simConns atomic.Int64 // connections the simulator accepted
	secret   string       // the app's secret

	redis     *exec.Cmd
	redisAddr string
	rdb       *redis.Client

	minio    *exec.Cmd
	s3URL    string
	s3Access string
	s3Secret string
}

// start builds the commands and starts the services. On an error it stops
// what it started.
func start(ctx context.Context, o *options, stderr io.Writer) (_ *env, err error) {
	dir, err := os.MkdirTemp("", "wxqr-bench-")
	if err != nil {
		return nil, err
	}
	e := &env{o: o, dir: dir, stderr: stderr, secret: rand.Text()}
	defer func() {
		if err != nil {
			e.close()
		}
	}()
	minioBin, err := findMinIO(o.minio)
	if err != nil {
		return nil, err
	}
	redisBin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server: %w", errMissing)
	}
	fmt.Fprintln(stderr, "bench: building worker, enqueue and naiveloop")
	if err := e.build(ctx); err != nil {
		return nil, err
	}
	e.startSimulator()
	if err := e.startRedis(ctx, redisBin); err != nil {
		return nil, err
	}
	if err := e.startMinIO(ctx, minioBin); err != nil {
		return nil, err
	}
	return e, nil
}

// close stops the services and removes the directory.
func (e *env) close() {
	if e.rdb != nil {
		e.rdb.Close()
	}
	for _, cmd := range []*exec.Cmd{e.redis, e.minio} {
		if cmd != nil && cmd.Process != nil {
			cmd.Process.Kill() //nolint:errcheck // it may be gone already
			cmd.Wait()         //nolint:errcheck // killed
		}
	}
	if e.simHTTP != nil {
		e.simHTTP.Close()
	}
	if e.sim != nil {
		e.sim.Close()
	}
	os.RemoveAll(e.dir)
}

// build builds the commands bench runs into e.dir.
func (e *env) build(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", e.dir+string(filepath.Separator),
		"github.com/wxqr/wxqr/cmd/worker", "github.com/wxqr/wxqr/cmd/enqueue", "github.com/wxqr/wxqr/cmd/bench/naiveloop")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build (run bench from inside the wxqr module): %w\n%s", err, out)
	}
	return nil
}

// startSimulator serves the simulator on a loopback port, counting the
// connections it accepts.
func (e *env) startSimulator() {
	sim, err := wechatsim.New(wechatsim.Config{
		Apps: map[string]wechatsim.App{benchApp: {Secret: e.secret, Type: wechatsim.OfficialAccount}},
		// No daily quota: the rounds make more than WeChat's 100,000 a day
		// allows when run often.
		Limits: wechatsim.Limits{Daily: map[string]int{wechatsim.APICreateQRCode: -1}},
	})
	if err != nil {
		panic(err) // the configuration above is valid
	}
	if e.o.latency > 0 {
		for _, api := range []string{wechatsim.APICreateQRCode, wechatsim.APIShowQRCode} {
			if err := sim.SetFaultRates(api, wechatsim.FaultRate{Kind: wechatsim.FaultLatency, P: 1, Delay: e.o.latency}); err != nil {
				panic(err)
			}
		}
	}
	e.sim = sim
	e.simHTTP = httptest.NewUnstartedServer(sim.Handler())
	e.simHTTP.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			e.simConns.Add(1)
		}
	}
	e.simHTTP.Start()
}

// freeAddr returns a loopback address that nothing listens on now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startRedis runs a redis-server that keeps nothing on disk.
func (e *env) startRedis(ctx context.Context, bin string) error {
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	_, port, _ := net.SplitHostPort(addr)
	dir := filepath.Join(e.dir, "redis")
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	e.redis, err = e.startProcess(bin, nil, "--bind", "127.0.0.1", "--port", port, "--dir", dir,
		"--save", "", "--appendonly", "no", "--protected-mode", "no")
	if err != nil {
		return err
	}
	e.redisAddr = addr
	e.rdb = redis.NewClient(&redis.Options{Addr: addr})
	return e.waitFor(ctx, "redis-server", e.redis, func(ctx context.Context) bool {
		return e.rdb.Ping(ctx).Err() == nil
	})
}

// startMinIO runs MinIO with fresh keys and makes the bucket.
func (e *env) startMinIO(ctx context.Context, bin string) error {
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	e.s3URL = "http://" + addr
	e.s3Access, e.s3Secret = "bench"+strings.ToLower(rand.Text()[:12]), rand.Text()
	e.minio, err = e.startProcess(bin, []string{"MINIO_ROOT_USER=" + e.s3Access, "MINIO_ROOT_PASSWORD=" + e.s3Secret,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off"}, "server", "--quiet", "--address", addr, filepath.Join(e.dir, "minio"))
	if err != nil {
		return err
	}
	client := e.s3Client()
	// MinIO may say it is live a moment before it takes requests: the
	// bucket's creation is the test.
	return e.waitFor(ctx, "minio", e.minio, func(ctx context.Context) bool {
		_, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(benchBucket)})
		return err == nil
	})
}

// s3Client is a plain client of the MinIO, for the bucket's creation.
func (e *env) s3Client() *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(e.s3URL),
		Region:       "us-east-1",
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(e.s3Access, e.s3Secret, ""),
	})
}

// startProcess starts a service, its output to a log in e.dir.
func (e *env) startProcess(bin string, extraEnv []string, args ...string) (*exec.Cmd, error) {
	log, err := os.Create(filepath.Join(e.dir, filepath.Base(bin)+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), extraEnv...)
	cmd.Stdout, cmd.Stderr = log, log
	err = cmd.Start()
	log.Close() // the child has its own descriptor
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	return cmd, nil
}

// waitFor polls ready until it holds, the process exits or startTimeout
// passes.
func (e *env) waitFor(ctx context.Context, name string, cmd *exec.Cmd, ready func(context.Context) bool) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		attempt, cancelAttempt := context.WithTimeout(ctx, 2*time.Second)
		ok := ready(attempt)
		cancelAttempt()
		if ok {
			return nil
		}
		if !processAlive(cmd) {
			return fmt.Errorf("%s exited at start; see %s", name, e.logTail(filepath.Base(cmd.Path)))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer within %v: %w; its log: %s", name, startTimeout, ctx.Err(), e.logTail(filepath.Base(cmd.Path)))
		case <-tick.C:
		}
	}
}

// processAlive reports whether cmd's process still runs (not a zombie).
func processAlive(cmd *exec.Cmd) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/stat")
	if err != nil {
		return false
	}
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}

// logTail is the end of a service's log.
func (e *env) logTail(name string) string {
	data, _ := os.ReadFile(filepath.Join(e.dir, name+".log"))
	if len(data) > 2000 {
		data = data[len(data)-2000:]
	}
	return string(data)
}

// findMinIO finds the MinIO binary: flag (or WXQR_TEST_MINIO_BIN), then
// .cache/bin/minio at the module's root, then GOPATH's bin.
func findMinIO(given string) (string, error) {
	if given != "" {
		if _, err := os.Stat(given); err != nil {
			return "", fmt.Errorf("minio: %w", err)
		}
		return given, nil
	}
	var candidates []string
	if out, err := exec.Command("go", "env", "GOMOD").Output(); err == nil && strings.TrimSpace(string(out)) != "" {
		candidates = append(candidates, filepath.Join(filepath.Dir(strings.TrimSpace(string(out))), ".cache", "bin", "minio"))
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
			candidates = append(candidates, filepath.Join(dir, "bin", "minio"))
		}
	}
	for _, c := range candidates {
		if info, err := os.Stat(c); err == nil && !info.IsDir() {
			return c, nil
		}
	}
	return "", fmt.Errorf("minio (set --minio or %s): %w", envMinIOBin, errMissing)
}
