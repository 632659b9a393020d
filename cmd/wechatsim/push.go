package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/wxqr/wxqr/wechat/wechatsim"
)

// runPush pushes the scan event the flags describe and prints what each
// delivery got back. It fails unless every delivery was answered with
// HTTP 200, so that scripts can tell.
func runPush(ctx context.Context, args []string, stdout io.Writer) error {
	p, err := parsePushFlags(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	// The pushing Server issues no codes: the flags name the scene.
	sim, err := wechatsim.New(wechatsim.Config{})
	if err != nil {
		return err
	}
	defer sim.Close()
	res, err := sim.PushScan(ctx, p)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "pushed %s, EventKey %q, Ticket %q, CreateTime %d\n", p.Event, res.EventKey, res.Ticket, res.CreateTime)
	failed := 0
	for i, d := range res.Deliveries {
		fmt.Fprintf(stdout, "delivery %d: %s\n", i+1, describe(d))
		if !d.OK() {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d deliveries not answered with HTTP 200", failed, len(res.Deliveries))
	}
	return nil
}

// parsePushFlags parses the push subcommand's command line; -h gives
// flag.ErrHelp.
func parsePushFlags(args []string, stdout io.Writer) (wechatsim.Push, error) {
	var p wechatsim.Push
	fs := flag.NewFlagSet("wechatsim push", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() {
		fmt.Fprint(stdout, "usage: wechatsim push -url URL -app APPID -token TOKEN -event subscribe|SCAN|unsubscribe [-scene S [-ticket T]] [flags]\n\n"+
			"Pushes one scan event to an account's server URL as WeChat does, and prints each delivery's answer.\n\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&p.URL, "url", "", "the account's server URL, e.g. http://127.0.0.1:8081/wechat/APPID (required)")
	fs.StringVar(&p.AppID, "app", "", "the account's app id, which an encrypted push carries (required)")
	fs.StringVar(&p.Token, "token", "", "the token of the account's server configuration, which signs the push (required)")
	fs.StringVar(&p.AESKey, "aes-key", "", "the EncodingAESKey (43 characters): safe mode; none: plain mode")
	fs.StringVar(&p.Event, "event", "", "subscribe, SCAN or unsubscribe (required)")
	fs.StringVar(&p.Scene, "scene", "", "the scanned code's scene: EventKey qrscene_<scene> on subscribe, <scene> on SCAN; none on subscribe: a follow from elsewhere")
	fs.StringVar(&p.Ticket, "ticket", "", "the scanned code's ticket, with -scene; default: a new one")
	fs.StringVar(&p.OpenID, "openid", "", "the user's openid; default: a new user")
	fs.IntVar(&p.Deliveries, "deliveries", 1, "how many times the same push is sent, 1..4, as WeChat retries")
	fs.DurationVar(&p.Timeout, "timeout", 5*time.Second, "how long each delivery may take, as WeChat waits")
	fs.BoolVar(&p.BadSignature, "bad-signature", false, "sign with a wrong token, as a forger would: the server must answer 403")
	if err := fs.Parse(args); err != nil {
		return wechatsim.Push{}, err
	}
	if fs.NArg() > 0 {
		return wechatsim.Push{}, fmt.Errorf("push: unexpected arguments %q", fs.Args())
	}
	if p.Ticket != "" && p.Scene == "" {
		return wechatsim.Push{}, errors.New("push: -ticket needs -scene: the simulator that issued the ticket is another process")
	}
	return p, nil
}

// maxShownAnswer is how much of an answer's body describe shows.
const maxShownAnswer = 200

// describe says what a delivery got back, in one line.
func describe(d wechatsim.Delivery) string {
	took := d.Duration.Round(100 * time.Microsecond)
	if d.Status == 0 {
		return fmt.Sprintf("no answer after %v: %v", took, d.Err)
	}
	body := d.Body
	if len(body) > maxShownAnswer {
		body = body[:maxShownAnswer]
	}
	line := fmt.Sprintf("HTTP %d in %v, %d bytes %q", d.Status, took, len(d.Body), body)
	if d.Err != nil {
		line += fmt.Sprintf(", cut short: %v", d.Err)
	}
	return line
}
