// Command demo runs wxqr end to end on this machine with no WeChat
// credentials: it builds the commands, starts the WeChat simulator, queues a
// sample campaign with `enqueue`, runs `worker --until-idle`, then starts
// `callback` and has the simulator push a few hundred users' scans of the
// campaign's codes to it (and reports Mini Program launches), exports the
// manifest, shows `enqueue status`, and says what was counted and where
// everything is.
//
// It uses the Redis at REDIS_URL (default redis://127.0.0.1:6379/0) or, when
// none answers, an in-memory one it starts itself (and says so). Images go to
// ./out unless --out says otherwise, with the manifest; each code's record
// and metadata go to its hidden folder, out/.wxqr. The demo apps are named for that
// directory (out/.wxqr-demo keeps their id): running the demo again into the
// same directory makes no new WeChat call, as the codes exist already, and a
// new or emptied directory gets codes of its own.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/wechat/wechatsim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

const campaign = "demo"

// The demo apps' secrets: the simulator's, not WeChat's.
const (
	oaSecret = "demo-oa-secret"
	mpSecret = "demo-mp-secret"
)

// demoApps are the demo's two apps.
type demoApps struct{ oa, mp string }

// appsFor returns the demo apps of the output directory out, named by an id
// kept in out/.wxqr-demo: the same directory, the same apps (and so the
// codes the catalog already has); a new directory, new apps. A catalog that
// remembers codes whose images are gone with a deleted directory never
// leaves a demo with nothing to show.
func appsFor(out string) (demoApps, error) {
	path := filepath.Join(out, ".wxqr-demo")
	id, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		var b [4]byte
		if _, err := rand.Read(b[:]); err != nil {
			return demoApps{}, err
		}
		id = []byte(hex.EncodeToString(b[:]))
		err = os.WriteFile(path, id, 0o644)
	}
	if err != nil {
		return demoApps{}, fmt.Errorf("demo id in %s: %w", path, err)
	}
	suffix := strings.TrimSpace(string(id))
	return demoApps{oa: "wxdemooa" + suffix, mp: "wxdemomp" + suffix}, nil
}

type options struct {
	out                string
	temp, perm, mini   int
	scans              int
	redisURL, logLevel string
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (*options, error) {
	o := &options{redisURL: getenv("REDIS_URL")}
	if o.redisURL == "" {
		o.redisURL = "redis://127.0.0.1:6379/0"
	}
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.out, "out", "out", "directory for the images and the manifest")
	fs.IntVar(&o.temp, "temp", 1000, "temporary OA codes (oa_temp) to make")
	fs.IntVar(&o.perm, "perm", 200, "permanent OA codes (oa_perm) to make")
	fs.IntVar(&o.mini, "mini", 200, "Mini Program codes (wxa_qrcode) to make")
	fs.IntVar(&o.scans, "scans", 300, "scans of the OA codes to push to callback once the codes are made, and a Mini Program launch for every ten; 0 to skip")
	fs.StringVar(&o.logLevel, "log-level", "warn", "log level of the worker")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if o.temp < 0 || o.perm < 0 || o.perm > wxqr.MaxPermSceneID || o.mini < 0 || o.scans < 0 {
		return nil, fmt.Errorf("--temp, --perm (at most %d), --mini and --scans must be >= 0", wxqr.MaxPermSceneID)
	}
	return o, nil
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	opts, err := parseFlags(args, getenv, stderr)
	if err != nil {
		return err
	}
	out, apps, err := prepareOut(opts.out)
	if err != nil {
		return err
	}
	say := sayTo(stdout)

	work, err := os.MkdirTemp("", "wxqr-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	say("building worker, enqueue, callback")
	if err := build(ctx, filepath.Join(work, "bin"), stderr); err != nil {
		return err
	}

	redisURL, closeRedis, err := redisFor(ctx, opts.redisURL, say)
	if err != nil {
		return err
	}
	defer closeRedis()

	sim := startSimulator(apps)
	defer sim.Close()
	say("WeChat simulator at %s (apps %s, %s)", sim.URL(), apps.oa, apps.mp)

	if err := writeCampaign(filepath.Join(work, "demo.csv"), opts, apps); err != nil {
		return err
	}
	keys := newCallbackKeys()
	appsFile := filepath.Join(work, "apps.json")
	if err := writeApps(appsFile, apps, keys); err != nil {
		return err
	}
	c := &commands{
		ctx: ctx, dir: work, stdout: stdout, stderr: stderr,
		env: commandEnv(redisURL, sim.URL(), out, opts.logLevel, appsFile),
	}
	say("queueing %d temporary, %d permanent and %d Mini Program codes (campaign %q)", opts.temp, opts.perm, opts.mini, campaign)
	elapsed, err := c.makeCodes()
	if err != nil {
		return err
	}
	scanned, err := c.scan(redisURL, sim, apps, keys, opts.scans, say)
	if err != nil {
		return err
	}
	manifest := filepath.Join(out, "manifest.csv")
	if err := c.showCodes(manifest); err != nil {
		return err
	}
	if err := report(stdout, sim, out, manifest, elapsed); err != nil {
		return err
	}
	if scanned != nil {
		scanned.report(say, apps)
	}
	return nil
}

// sayTo returns a function that prints the demo's own lines to w, set apart
// from the commands' output.
func sayTo(w io.Writer) func(format string, args ...any) {
	return func(format string, args ...any) { fmt.Fprintf(w, "==> "+format+"\n", args...) }
}

// prepareOut makes the output directory and returns its absolute path and
// the demo apps named for it.
func prepareOut(dir string) (string, demoApps, error) {
	out, err := filepath.Abs(dir)
	if err != nil {
		return "", demoApps{}, err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", demoApps{}, err
	}
	apps, err := appsFor(out)
	if err != nil {
		return "", demoApps{}, err
	}
	return out, apps, nil
}

// startSimulator starts a WeChat simulator that knows the demo apps.
func startSimulator(apps demoApps) *wechatsim.Server {
	return wechatsim.NewServer(wechatsim.Config{Apps: map[string]wechatsim.App{
		apps.oa: {Secret: oaSecret, Type: wechatsim.OfficialAccount},
		apps.mp: {Secret: mpSecret, Type: wechatsim.MiniProgram},
	}})
}

// commandEnv is the environment of the commands the demo runs: this
// process's, pointed at the demo's Redis, apps file, simulator and
// directory.
func commandEnv(redisURL, simURL, out, logLevel, appsFile string) []string {
	return append(os.Environ(),
		"REDIS_URL="+redisURL,
		"WXQR_APPS=@"+appsFile,
		"WECHAT_API_BASE_URL="+simURL,
		"WECHAT_MP_BASE_URL="+simURL,
		"WXQR_STORAGE=file://"+out,
		"WXQR_MONITOR_ADDR=off",
		"LOG_LEVEL="+logLevel,
		"LOG_FORMAT=console",
	)
}

// commands runs the built commands in dir, showing each command line
// before its output.
type commands struct {
	ctx            context.Context
	dir            string
	env            []string
	stdout, stderr io.Writer
}

func (c *commands) run(name string, args ...string) error {
	fmt.Fprintf(c.stdout, "\n$ %s %s\n", name, strings.Join(args, " "))
	cmd := exec.CommandContext(c.ctx, filepath.Join(c.dir, "bin", name), args...)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = c.dir, c.env, c.stdout, c.stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// makeCodes queues the campaign in dir/demo.csv and runs a worker until the
// queues are idle. It returns how long the worker took.
func (c *commands) makeCodes() (time.Duration, error) {
	if err := c.run("enqueue", "--campaign", campaign, "demo.csv"); err != nil {
		return 0, err
	}
	start := time.Now()
	if err := c.run("worker", "--until-idle"); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// showCodes exports the campaign's manifest and shows the queues' and
// campaigns' status.
func (c *commands) showCodes(manifest string) error {
	if err := c.run("enqueue", "export", "--campaign", campaign, "-o", manifest); err != nil {
		return err
	}
	return c.run("enqueue", "status")
}

// report says what the run made and where it is.
func report(stdout io.Writer, sim *wechatsim.Server, out, manifest string, elapsed time.Duration) error {
	calls := sim.Calls(wechatsim.APICreateQRCode) + sim.Calls(wechatsim.APICreateWxaQRCode)
	images, err := countImages(out)
	if err != nil {
		return err
	}
	say := sayTo(stdout)
	fmt.Fprintln(stdout)
	say("done in %s: WeChat made %d codes this run", elapsed.Round(100*time.Millisecond), calls)
	say("images:   %s (%d in all)", out, images)
	say("manifest: %s", manifest)
	return nil
}

// build compiles the commands the demo runs, as a user would install them.
func build(ctx context.Context, dir string, stderr io.Writer) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", dir+string(filepath.Separator),
		"github.com/wxqr/wxqr/cmd/worker", "github.com/wxqr/wxqr/cmd/enqueue", "github.com/wxqr/wxqr/cmd/callback")
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build the commands (run the demo from the repository): %w", err)
	}
	return nil
}

// redisFor returns the URL of the Redis to use: rawURL if it answers, else
// an in-memory Redis started here, which close stops.
func redisFor(ctx context.Context, rawURL string, say func(string, ...any)) (string, func(), error) {
	opt, err := redis.ParseURL(rawURL)
	if err == nil {
		rdb := redis.NewClient(opt)
		pingCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err = rdb.Ping(pingCtx).Err()
		cancel()
		rdb.Close()
		if err == nil {
			say("Redis at %s", opt.Addr)
			return rawURL, func() {}, nil
		}
	}
	mem := miniredis.NewMiniRedis()
	if err := mem.StartAddr("127.0.0.1:0"); err != nil {
		return "", nil, fmt.Errorf("no Redis at %s, and no in-memory one either: %w", rawURL, err)
	}
	say("no Redis answered at %s: using an in-memory Redis at %s for this run (its queues and catalog go when the demo ends; the images stay)", rawURL, mem.Addr())
	return "redis://" + mem.Addr() + "/0", mem.Close, nil
}

// writeCampaign writes the sample campaign file.
func writeCampaign(path string, o *options, apps demoApps) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "kind,app_id,scene_id,scene_str,path,width,expire_seconds")
	for i := 1; i <= o.temp; i++ {
		if i%2 == 0 {
			fmt.Fprintf(w, "oa_temp,%s,,coupon-%05d,,,604800\n", apps.oa, i)
		} else {
			fmt.Fprintf(w, "oa_temp,%s,%d,,,,604800\n", apps.oa, 100000+i)
		}
	}
	for i := 1; i <= o.perm; i++ {
		fmt.Fprintf(w, "oa_perm,%s,%d,,,,\n", apps.oa, i)
	}
	for i := 1; i <= o.mini; i++ {
		fmt.Fprintf(w, "wxa_qrcode,%s,,,pages/item/index?id=%d,430,\n", apps.mp, i)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// countImages counts the images in dir, where people look: not in the
// hidden folder, where the store keeps each code's metadata and record.
func countImages(dir string) (int, error) {
	n := 0
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && path != dir && strings.HasPrefix(d.Name(), "."):
			return filepath.SkipDir
		case !d.IsDir() && strings.HasSuffix(path, ".jpg"):
			n++
		}
		return nil
	})
	return n, err
}
