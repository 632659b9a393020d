package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"
)

// The callback server's timings in the demo.
const (
	// callbackStartTimeout bounds the wait for /healthz: the server pings
	// Redis and reads the openid key first.
	callbackStartTimeout = 15 * time.Second
	// callbackStopTimeout lets the server answer what is under way (it
	// allows itself 10 s) before it is killed.
	callbackStopTimeout = 15 * time.Second
	// healthPollInterval is how often /healthz is asked while it starts.
	healthPollInterval = 50 * time.Millisecond
)

// clientIPHeader is the header in which the demo, standing in for the TLS
// proxy in front of callback, names each simulated phone reporting a
// launch: the launch rate limit is per client.
const clientIPHeader = "X-Real-IP"

// callbackKeys are the OA app's server configuration at WeChat, made anew
// for each run: the token that signs its pushes and the EncodingAESKey that
// encrypts them (safe mode).
type callbackKeys struct{ token, aesKey string }

// newCallbackKeys returns random keys. rand.Text is base32 (A-Z, 2-7): its
// characters are letters and digits, as an EncodingAESKey's 43 must be.
func newCallbackKeys() callbackKeys {
	return callbackKeys{token: rand.Text(), aesKey: (rand.Text() + rand.Text())[:43]}
}

// appEntry is an app in a WXQR_APPS file.
type appEntry struct {
	AppID          string `json:"app_id"`
	Secret         string `json:"secret"`
	Kind           string `json:"kind"`
	CallbackToken  string `json:"callback_token,omitempty"`
	CallbackAESKey string `json:"callback_aes_key,omitempty"`
}

// writeApps writes the apps file every command of the demo reads: the two
// apps with the simulator's secrets, the OA app with keys for callback.
func writeApps(path string, apps demoApps, keys callbackKeys) error {
	data, err := json.MarshalIndent([]appEntry{
		{AppID: apps.oa, Secret: oaSecret, Kind: "oa", CallbackToken: keys.token, CallbackAESKey: keys.aesKey},
		{AppID: apps.mp, Secret: mpSecret, Kind: "mp"},
	}, "", "  ")
	if err != nil {
		return err
	}
	// Secrets, if only the demo's: readable by this user only.
	return os.WriteFile(path, data, 0o600)
}

// callbackServer is a callback command running in the background.
type callbackServer struct {
	url    string // http://127.0.0.1:PORT
	cmd    *exec.Cmd
	exited chan error // receives Wait's result once the process ends
}

// startCallback starts callback on a free loopback port and waits until it
// answers /healthz.
func (c *commands) startCallback() (*callbackServer, error) {
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(c.ctx, filepath.Join(c.dir, "bin", "callback"))
	cmd.Dir, cmd.Stdout, cmd.Stderr = c.dir, c.stdout, c.stderr
	cmd.Env = append(slices.Clone(c.env), "WXQR_CALLBACK_ADDR="+addr, "WXQR_CALLBACK_CLIENT_IP_HEADER="+clientIPHeader)
	fmt.Fprintf(c.stdout, "\n$ WXQR_CALLBACK_ADDR=%s callback &\n", addr)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("callback: %w", err)
	}
	s := &callbackServer{url: "http://" + addr, cmd: cmd, exited: make(chan error, 1)}
	go func() { s.exited <- cmd.Wait() }()
	if err := s.waitHealthy(c.ctx); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// freeLoopbackAddr returns a loopback address with a port free now. Another
// process could take it before callback listens: callback would then fail
// to start, and say so.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port for callback: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitHealthy waits until the server answers GET /healthz with 200, or
// fails when it exits or takes longer than callbackStartTimeout.
func (s *callbackServer) waitHealthy(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, callbackStartTimeout)
	defer cancel()
	tick := time.NewTicker(healthPollInterval)
	defer tick.Stop()
	for {
		if s.healthy(ctx) {
			return nil
		}
		select {
		case err := <-s.exited:
			s.exited <- err // for stop
			return fmt.Errorf("callback exited before it answered /healthz: %v", err)
		case <-ctx.Done():
			return fmt.Errorf("callback did not answer %s/healthz: %w", s.url, ctx.Err())
		case <-tick.C:
		}
	}
}

func (s *callbackServer) healthy(ctx context.Context) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/healthz", nil)
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

// stop asks the server to shut down, as SIGINT does, and waits for it; it
// kills it after callbackStopTimeout.
func (s *callbackServer) stop() error {
	if err := s.cmd.Process.Signal(os.Interrupt); err != nil && !errors.Is(err, os.ErrProcessDone) {
		s.cmd.Process.Kill()
	}
	select {
	case err := <-s.exited:
		if err != nil {
			return fmt.Errorf("callback: %w", err)
		}
		return nil
	case <-time.After(callbackStopTimeout):
		s.cmd.Process.Kill()
		<-s.exited
		return fmt.Errorf("callback did not stop within %s: killed", callbackStopTimeout)
	}
}
