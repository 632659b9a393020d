// Command bench measures wxqr against a naive loop on the same machine, in
// one run: it starts the WeChat simulator (in this process), a MinIO and a
// redis-server of its own (free loopback ports, temporary directories), then
// measures, round after round, alternating so that the machine's drift
// falls on both:
//
//   - raw S3 PUTs of a 30 KB object at the concurrency: the storage ceiling;
//   - the naive loop (cmd/bench/naiveloop): qrcode/create, showqrcode and an
//     S3 PUT per code, the codes shared by C goroutines, no queue;
//   - the naive loop on asynq (naiveloop --asynq): the same work, one asynq
//     task per code, run by an asynq server of concurrency C: what the queue
//     alone costs;
//   - wxqr: the codes queued with the enqueue command, then the worker
//     (--until-idle, WXQR_CONCURRENCY=C) until every task has run; with
//     --idle-apps N, the worker also serves N apps with nothing queued;
//
// and prints the medians over the rounds: codes/s, CPU per code of the
// process making the codes, of MinIO and of Redis, Redis bytes per finished
// code (and what each kind of key costs), new connections to the simulator,
// and the ratios of wxqr to the naive loop and to the loop on asynq.
//
// The worker, enqueue and the naive loop run as processes built from this
// module (go build, so run bench from inside it): each one's CPU time is
// then its own, apart from the simulator's and bench's, and the worker is
// the real one, wiring and all. MinIO is the pinned binary the tests use
// (WXQR_TEST_MINIO_BIN, .cache/bin/minio, or $(go env GOPATH)/bin/minio;
// ./scripts/test.sh builds it), or --minio.
//
// Usage:
//
//	go run ./cmd/bench [--codes 5000] [--concurrency 32] [--rounds 3] [--latency 0s] [--idle-apps 0] [--worker-profile file]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// options are bench's flags.
type options struct {
	codes       int
	concurrency int
	rounds      int
	latency     time.Duration
	minio       string
	// idleApps are Official Accounts the worker serves besides the bench's
	// own, with nothing queued for them: two empty queues each.
	idleApps int
	// workerProfile is where the worker writes a CPU profile of its run
	// (the last round's); empty: none.
	workerProfile string
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (*options, error) {
	o := options{minio: getenv(envMinIOBin)}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.codes, "codes", 5000, "codes per run (and raw S3 PUTs per round)")
	fs.IntVar(&o.concurrency, "concurrency", 32, "codes made (PUTs sent) at once, by the naive loop and the worker alike")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds of raw PUTs, naive loop, wxqr; medians are reported")
	fs.DurationVar(&o.latency, "latency", 0, "latency the simulator adds to qrcode/create and showqrcode")
	fs.IntVar(&o.idleApps, "idle-apps", 0, "more apps the worker serves, whose queues stay empty (two each): a fleet of many apps with work in one")
	fs.StringVar(&o.workerProfile, "worker-profile", "", "write a CPU profile of the worker's run (the last round's) to this file, for go tool pprof")
	fs.StringVar(&o.minio, "minio", o.minio, "MinIO binary (default "+envMinIOBin+", .cache/bin/minio, $(go env GOPATH)/bin/minio)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	case o.codes < 1 || o.concurrency < 1 || o.rounds < 1:
		return nil, errors.New("--codes, --concurrency and --rounds must be positive")
	case o.latency < 0:
		return nil, errors.New("--latency must not be negative")
	case o.idleApps < 0:
		return nil, errors.New("--idle-apps must not be negative")
	}
	if o.workerProfile != "" {
		// The worker runs elsewhere than bench's working directory.
		abs, err := filepath.Abs(o.workerProfile)
		if err != nil {
			return nil, fmt.Errorf("--worker-profile: %w", err)
		}
		o.workerProfile = abs
	}
	return &o, nil
}

// run is the whole command: the tests call it too.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, getenv, stderr)
	if err != nil {
		return err
	}
	env, err := start(ctx, o, stderr)
	if err != nil {
		return err
	}
	defer env.close()
	var rounds []round
	for i := range o.rounds {
		fmt.Fprintf(stderr, "bench: round %d of %d\n", i+1, o.rounds)
		r, err := env.round(ctx, i)
		if err != nil {
			return fmt.Errorf("round %d: %w", i+1, err)
		}
		fmt.Fprintf(stderr, "bench: %s\n", r)
		rounds = append(rounds, r)
	}
	report(stdout, o, rounds)
	return nil
}
