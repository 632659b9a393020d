package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/internal/testenv"
	"github.com/wxqr/wxqr/storage"
	"github.com/wxqr/wxqr/wechat/wechatsim"
)

// binDir holds the commands under test, built once by TestMain.
var binDir string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "wxqr-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, "github.com/wxqr/wxqr/cmd/worker", "github.com/wxqr/wxqr/cmd/enqueue", "github.com/wxqr/wxqr/cmd/callback")
	build := exec.Command("go", args...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building the commands:", err)
		return 1
	}
	binDir = dir
	return m.Run()
}

// The apps every test configures, in the simulator and in WXQR_APPS.
const (
	oaApp    = "wxe2eoa0001"
	mpApp    = "wxe2emp0001"
	appsEnv  = oaApp + ":oa-secret-0001:oa," + mpApp + ":mp-secret-0001:mp"
	campaign = "e2e"
)

// harness is one test's world: a simulator, a Redis database, a bucket, and
// the environment that points the commands at them.
type harness struct {
	t     *testing.T
	sim   *wechatsim.Server
	rdb   redis.UniversalClient
	opt   asynq.RedisConnOpt
	store storage.Store
	cat   *catalog.Catalog
	env   []string
}

// newHarness starts a simulator with limits and points a fresh Redis database
// and bucket at it. extraEnv entries (NAME=value) override the defaults.
func newHarness(t *testing.T, limits wechatsim.Limits, extraEnv ...string) *harness {
	t.Helper()
	sim := wechatsim.NewServer(wechatsim.Config{
		Apps: map[string]wechatsim.App{
			oaApp: {Secret: "oa-secret-0001", Type: wechatsim.OfficialAccount},
			mpApp: {Secret: "mp-secret-0001", Type: wechatsim.MiniProgram},
		},
		Limits: limits,
	})
	t.Cleanup(sim.Close)
	return newHarnessWith(t, sim, sim.URL(), extraEnv...)
}

// newHarnessWith is newHarness for a simulator the test started itself,
// reached at simURL (which may be a proxy in front of it).
func newHarnessWith(t *testing.T, sim *wechatsim.Server, simURL string, extraEnv ...string) *harness {
	t.Helper()
	return newHarnessOn(t, sim, simURL, testenv.RedisOptions(t), testenv.S3(t), extraEnv...)
}

// newHarnessOn is newHarnessWith on a Redis and a bucket the test chose.
func newHarnessOn(t *testing.T, sim *wechatsim.Server, simURL string, ropts *redis.Options, s3 testenv.S3Config, extraEnv ...string) *harness {
	t.Helper()
	rdb := redis.NewClient(ropts)
	t.Cleanup(func() { rdb.Close() })
	store, err := storage.NewS3(t.Context(), storage.S3Config{
		Bucket: s3.Bucket, Prefix: "codes", Endpoint: s3.Endpoint, Region: s3.Region,
		ForcePathStyle: true, AccessKey: s3.AccessKey, SecretKey: s3.SecretKey,
	})
	if err != nil {
		t.Fatalf("open bucket: %v", err)
	}
	env := map[string]string{
		"PATH":                  os.Getenv("PATH"),
		"HOME":                  os.Getenv("HOME"),
		"REDIS_URL":             fmt.Sprintf("redis://%s/%d", ropts.Addr, ropts.DB),
		"WXQR_APPS":             appsEnv,
		"WECHAT_API_BASE_URL":   simURL,
		"WECHAT_MP_BASE_URL":    simURL,
		"WXQR_STORAGE":          "s3://" + s3.Bucket + "/codes",
		"S3_ENDPOINT":           s3.Endpoint,
		"S3_FORCE_PATH_STYLE":   "true",
		"AWS_ACCESS_KEY_ID":     s3.AccessKey,
		"AWS_SECRET_ACCESS_KEY": s3.SecretKey,
		"AWS_REGION":            s3.Region,
		"WXQR_CONCURRENCY":      "8",
		"WXQR_MONITOR_ADDR":     "127.0.0.1:0",
		"LOG_LEVEL":             "info",
		"LOG_FORMAT":            "json",
	}
	for _, kv := range extraEnv {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	h := &harness{
		t: t, sim: sim, rdb: rdb, store: store,
		opt: asynq.RedisClientOpt{Addr: ropts.Addr, DB: ropts.DB},
		cat: catalog.New(rdb, ""),
	}
	for k, v := range env {
		h.env = append(h.env, k+"="+v)
	}
	return h
}

// result is what a command did.
type result struct {
	code           int
	stdout, stderr string
}

// run runs a command to its end and returns what it did; stdin may be nil.
func (h *harness) run(stdin io.Reader, name string, args ...string) result {
	h.t.Helper()
	p := h.start(stdin, name, args...)
	return p.wait()
}

// mustRun runs a command that must exit with want.
func (h *harness) mustRun(want int, name string, args ...string) result {
	h.t.Helper()
	r := h.run(nil, name, args...)
	if r.code != want {
		h.t.Fatalf("%s %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), r.code, want, r.stdout, tail(r.stderr, 40))
	}
	return r
}

// proc is a command running in the background.
type proc struct {
	t              *testing.T
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	done           chan struct{}
	err            error
}

func (h *harness) start(stdin io.Reader, name string, args ...string) *proc {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, name), args...)
	cmd.Env = h.env
	cmd.Stdin = stdin
	p := &proc{t: h.t, cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		cancel()
		h.t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		cancel()
		close(p.done)
	}()
	h.t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *proc) wait() result {
	<-p.done
	r := result{stdout: p.stdout.String(), stderr: p.stderr.String()}
	var exit *exec.ExitError
	switch {
	case p.err == nil:
	case errors.As(p.err, &exit):
		r.code = exit.ExitCode()
	default:
		p.t.Fatalf("%s: %v", p.cmd.Path, p.err)
	}
	return r
}

// syncBuffer is a bytes.Buffer that a running command writes while the test
// reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func tail(s string, lines int) string {
	all := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// writeCSV writes a campaign file and returns its path.
func writeCSV(t *testing.T, header string, rows []string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "jobs.csv")
	data := header + "\n" + strings.Join(rows, "\n") + "\n"
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// export runs `enqueue export` and returns the records it lists.
func (h *harness) export() []wxqr.Record {
	h.t.Helper()
	r := h.mustRun(0, "enqueue", "export", "--format", "jsonl")
	var recs []wxqr.Record
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	for dec.More() {
		var rec wxqr.Record
		if err := dec.Decode(&rec); err != nil {
			h.t.Fatalf("export: bad JSON line: %v", err)
		}
		recs = append(recs, rec)
	}
	return recs
}
