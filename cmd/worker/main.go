// Command worker runs wxqr's workers: it takes code-generation tasks from the
// app × quota-class queues in Redis, calls WeChat within the fleet's rate
// limits and budgets, stores the images and records every code.
//
// Run as many workers, on as many machines, as WeChat's limits allow: every
// limit, token and pause lives in Redis.
//
// Exit status: 0 when done (with --until-idle: nothing left to run), 1 on an
// error, 2 on bad flags or configuration, 3 (--until-idle) when work remains
// held by a pause (a quota or account error), 4 (--until-idle) when tasks
// failed for good (archived).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/wxqr/wxqr/internal/exitcode"
)

// The worker's own exit statuses, beyond exitcode's; see the package doc.
const (
	exitPaused = 3
	exitFailed = 4
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	exitcode.Exit("worker", err)
}

const usage = `Usage: worker [flags]

Runs wxqr workers until SIGINT/SIGTERM (or, with --until-idle, until the
queues hold nothing runnable). Configuration comes from the environment
(REDIS_URL, WXQR_APPS, WXQR_STORAGE, ...; see the README); flags override it.

Exit status: 0 done, 1 error, 2 bad flags or configuration,
3 work remains paused by a quota or account error (--until-idle),
4 tasks failed for good and wait in the archive (--until-idle).

Flags:
`

// options are the worker's flags.
type options struct {
	untilIdle   bool
	concurrency int
	monitorAddr string
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	var o options
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	fs.BoolVar(&o.untilIdle, "until-idle", false, "exit once the queues hold nothing runnable (for one-off campaigns and cron jobs)")
	fs.IntVar(&o.concurrency, "concurrency", 0, "handler goroutines (default WXQR_CONCURRENCY, else 20)")
	fs.StringVar(&o.monitorAddr, "monitor-addr", "", "address of the web UI, /metrics and health checks (default WXQR_MONITOR_ADDR, else 127.0.0.1:8080; \"off\" to disable)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, exitcode.UsageError(err)
	}
	if fs.NArg() > 0 {
		return nil, exitcode.Withf(exitcode.Usage, "unexpected arguments: %q (see worker -h)", fs.Args())
	}
	if o.concurrency < 0 {
		return nil, exitcode.Withf(exitcode.Usage, "--concurrency must be positive, got %d", o.concurrency)
	}
	return &o, nil
}
