// Command callback receives what WeChat pushes to the apps' server URL and
// what Mini Programs report on launch, and records each scan, follow,
// unfollow and launch against the code that caused it (see package
// callback). It is the one wxqr server meant to face the internet, behind
// a TLS proxy; it keeps nothing in memory, so any number can run behind a
// load balancer.
//
// Point each Official Account's server URL at https://HOST/wechat/{app_id},
// with the token (and EncodingAESKey) set as callback_token (and
// callback_aes_key) in the apps file.
//
// Exit status: 0 after SIGINT/SIGTERM or --help, 1 on an error, 2 on bad
// flags or configuration.
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
	_ "time/tzdata" // scan days are Asia/Shanghai days, on any machine

	"github.com/wxqr/wxqr/internal/exitcode"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout)
	stop()
	exitcode.Exit("callback", err)
}

const usage = `Usage: callback [flags]

Serves WeChat's pushes at /wechat/{app_id} and Mini Program launch reports
at /wxa/{app_id}/launch until SIGINT/SIGTERM. Configuration comes from the
environment (REDIS_URL, WXQR_APPS with callback_token & co.,
WXQR_CALLBACK_ADDR, WXQR_OPENID_KEY, WXQR_SCAN_RETENTION, ...; see the
README); flags override it.

Exit status: 0 stopped by a signal, 1 error, 2 bad flags or configuration.

Flags:
`

// options are the command's flags.
type options struct {
	addr string
}

func parseFlags(args []string, out io.Writer) (*options, error) {
	var o options
	fs := flag.NewFlagSet("callback", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.addr, "addr", "", "address to listen on (default "+envAddr+", else "+defaultAddr+")")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, exitcode.UsageError(err)
	}
	if fs.NArg() > 0 {
		return nil, exitcode.UsageError(fmt.Errorf("unexpected arguments: %q (see callback -h)", fs.Args()))
	}
	return &o, nil
}
