// Command enqueue is wxqr's producer and operator tool: it queues the codes a
// campaign file or its flags describe, and shows, resumes, exports,
// reindexes, retires, regenerates and verifies what the workers made.
//
//	enqueue [flags] [FILE|-]     queue codes (run "enqueue -h" for the flags)
//	enqueue status               campaigns, queues, pauses and quota
//	enqueue resume               resume queues paused by a quota error
//	enqueue export               write the catalog as CSV or JSON lines
//	enqueue print                PDF label sheets, SVG or PNG files of a campaign's codes
//	enqueue reindex              rebuild the catalog from the bucket
//	enqueue retire               stop regenerating codes
//	enqueue regen                regenerate temporary codes about to expire
//	enqueue verify               check every stored image; queue repairs
//
// Configuration comes from the environment (REDIS_URL, WXQR_APPS,
// WXQR_STORAGE, ...; see the README). Exit status: 0 on success, 1 on a
// failure (Redis unreachable, interrupted...), 2 on bad usage,
// configuration or input, in which case nothing was changed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/internal/config"
	"github.com/wxqr/wxqr/jobfile"
	"github.com/wxqr/wxqr/scans"
	"github.com/wxqr/wxqr/tasks"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "enqueue:", err)
	}
	os.Exit(exitCode(err))
}

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1 // something failed while running
	exitInput   = 2 // bad usage, configuration or input: nothing was done
)

// inputError is bad usage, configuration or input, found before anything
// was changed.
type inputError struct{ err error }

func (e *inputError) Error() string { return e.err.Error() }
func (e *inputError) Unwrap() error { return e.err }

func inputErrorf(format string, args ...any) error {
	return &inputError{fmt.Errorf(format, args...)}
}

func exitCode(err error) int {
	var (
		input     *inputError
		fileInput *jobfile.InputError
	)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &input), errors.As(err, &fileInput):
		return exitInput
	default:
		return exitFailure
	}
}

// commands are the subcommands; anything else queues codes.
var commands = map[string]func(ctx context.Context, c *cli, args []string) error{
	"status":  runStatus,
	"resume":  runResume,
	"export":  runExport,
	"print":   runPrint,
	"reindex": runReindex,
	"retire":  runRetire,
	"regen":   runRegen,
	"verify":  runVerify,
}

// run is the whole command: main only adds the process around it. Output
// meant for scripts goes to stdout, everything else to stderr.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	c := &cli{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr, now: time.Now}
	defer c.close()
	if len(args) > 0 {
		if cmd, ok := commands[args[0]]; ok {
			return cmd(ctx, c, args[1:])
		}
	}
	return runQueue(ctx, c, args)
}

// cli is what every subcommand shares: its streams, the environment and the
// connections made from it.
type cli struct {
	getenv         func(string) string
	stdin          io.Reader
	stdout, stderr io.Writer
	now            func() time.Time

	cfg *config.Config
	log zerolog.Logger
	rdb redis.UniversalClient
}

// parse parses args with fs, whose usage text is usage. -h prints the usage
// on stdout and returns flag.ErrHelp; a bad flag is an inputError.
func (c *cli) parse(fs *flag.FlagSet, usage string, args []string) error {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(c.stdout, usage)
		return err
	}
	if err != nil {
		return inputErrorf("%v (run with -h for usage)", err)
	}
	return nil
}

// config loads the configuration, once.
func (c *cli) config() (*config.Config, error) {
	if c.cfg == nil {
		cfg, err := config.Load(c.getenv)
		if err != nil {
			return nil, &inputError{fmt.Errorf("configuration: %w", err)}
		}
		c.cfg = cfg
		c.log = cfg.Log.New(c.stderr)
	}
	return c.cfg, nil
}

// redis connects to Redis and checks that it answers. The connection is
// closed by close.
func (c *cli) redis(ctx context.Context) (redis.UniversalClient, error) {
	cfg, err := c.config()
	if err != nil {
		return nil, err
	}
	if c.rdb == nil {
		rdb := cfg.Redis.NewClient()
		if err := rdb.Ping(ctx).Err(); err != nil {
			rdb.Close()
			return nil, fmt.Errorf("connect to Redis at %s: %w", cfg.Redis, err)
		}
		c.rdb = rdb
	}
	return c.rdb, nil
}

// services returns what the operator commands work on: the catalog, asynq's
// inspector and the pause board, all on one Redis connection pool.
func (c *cli) services(ctx context.Context) (*catalog.Catalog, *asynq.Inspector, *tasks.Pauses, error) {
	rdb, err := c.redis(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	inspector := asynq.NewInspectorFromRedisClient(rdb)
	return catalog.New(rdb, c.cfg.Redis.KeyPrefix()), inspector, tasks.NewPauses(rdb, inspector), nil
}

// scans returns the scan counts, on the connection pool of services and
// attributed with its catalog cat. Reading counts hashes no openid: no key
// is configured.
func (c *cli) scans(ctx context.Context, cat *catalog.Catalog) (*scans.Store, error) {
	rdb, err := c.redis(ctx)
	if err != nil {
		return nil, err
	}
	return scans.New(ctx, rdb, cat, scans.Config{Prefix: c.cfg.Redis.KeyPrefix()})
}

func (c *cli) close() {
	if c.rdb != nil {
		c.rdb.Close()
	}
}

// listFlag is a flag that may be repeated and takes comma-separated values.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}
