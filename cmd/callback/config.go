package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/callback"
	"github.com/wxqr/wxqr/internal/config"
	"github.com/wxqr/wxqr/internal/exitcode"
)

// The command's own variables; the shared ones are in internal/config.
const (
	envAddr           = "WXQR_CALLBACK_ADDR"
	envClientIPHeader = "WXQR_CALLBACK_CLIENT_IP_HEADER"
	envOpenIDKey      = "WXQR_OPENID_KEY"
	envScanRetention  = "WXQR_SCAN_RETENTION"
)

// Defaults of the command's variables.
const (
	defaultAddr          = "127.0.0.1:8081"
	defaultScanRetention = 90 * 24 * time.Hour
	// minOpenIDKeyBytes: a shorter key could be guessed, and with it every
	// openid hash reversed from the few billion openids there are.
	minOpenIDKeyBytes = 16
)

// callbackConfig is everything the command reads from its flags and its
// environment, parsed and checked before it connects to anything.
type callbackConfig struct {
	// addr is where the server listens (--addr, WXQR_CALLBACK_ADDR).
	addr string
	// redis holds the catalog, the counts and the launch limits (REDIS_URL).
	redis config.Redis
	// apps are the apps served: those with a callback_token take pushes,
	// Mini Programs take launches (WXQR_APPS).
	apps []callback.App
	// clientIPHeader names the header with a launch's client address, set
	// by the proxy in front (WXQR_CALLBACK_CLIENT_IP_HEADER); "" for the
	// connection's address.
	clientIPHeader string
	// openIDKey keys the openid hashes (WXQR_OPENID_KEY); nil for the
	// fleet's random key kept in Redis.
	openIDKey []byte
	// retention is how long an attributed follow is remembered, to count
	// its unfollow (WXQR_SCAN_RETENTION).
	retention time.Duration
	log       config.Log
}

// loadConfig parses the flags and the environment. Its errors carry exit
// status exitcode.Usage (flag.ErrHelp for -h), name the flag or variable at
// fault and never quote a secret.
func loadConfig(args []string, getenv func(string) string, out io.Writer) (*callbackConfig, error) {
	opts, err := parseFlags(args, out)
	if err != nil {
		return nil, err
	}
	var errs []error
	check := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	cc := &callbackConfig{addr: opts.addr, clientIPHeader: strings.TrimSpace(getenv(envClientIPHeader)), retention: defaultScanRetention}
	if cc.addr == "" {
		cc.addr = getenv(envAddr)
	}
	if cc.addr == "" {
		cc.addr = defaultAddr
	}
	if _, _, err := net.SplitHostPort(cc.addr); err != nil {
		check(fmt.Errorf("%s: want host:port, got %q", envAddr, cc.addr))
	}
	redisURL := getenv(config.EnvRedisURL)
	if redisURL == "" {
		redisURL = config.DefaultRedisURL
	}
	cc.redis, err = config.ParseRedisURL(redisURL)
	check(prefixed(config.EnvRedisURL, err))
	apps, err := config.LoadApps(getenv(config.EnvApps), os.ReadFile)
	check(prefixed(config.EnvApps, err))
	if err == nil {
		cc.apps, err = servedApps(apps)
		check(err)
	}
	if strings.ContainsAny(cc.clientIPHeader, " \t:") {
		check(fmt.Errorf("%s: want a header name such as X-Real-IP, got %q", envClientIPHeader, cc.clientIPHeader))
	}
	if key := getenv(envOpenIDKey); key != "" {
		if len(key) < minOpenIDKeyBytes {
			// Not quoted, nor its length: it is a secret.
			check(fmt.Errorf("%s: want a random secret of at least %d characters (e.g. openssl rand -hex 32)", envOpenIDKey, minOpenIDKeyBytes))
		}
		cc.openIDKey = []byte(key)
	}
	if raw := getenv(envScanRetention); raw != "" {
		cc.retention, err = config.ParseDuration(raw)
		check(prefixed(envScanRetention, err))
	}
	cc.log, err = config.LoadLog(getenv)
	check(err)
	if err := errors.Join(errs...); err != nil {
		return nil, exitcode.UsageError(err)
	}
	return cc, nil
}

// servedApps are the apps the server has something to do for: those with a
// callback token (pushes) and the Mini Programs (launches).
func servedApps(apps config.Apps) ([]callback.App, error) {
	var served []callback.App
	for _, a := range apps {
		if a.Callback.Token == "" && a.Type != wxqr.AppMP {
			continue
		}
		served = append(served, callback.App{
			ID: a.AppID, Type: a.Type,
			Token: a.Callback.Token, AESKey: a.Callback.AESKey, PreviousAESKey: a.Callback.PreviousAESKey,
			Forward: a.Callback.Forward,
		})
	}
	if len(served) == 0 {
		return nil, fmt.Errorf("%s: no app takes pushes (callback_token, in an apps file) or launches (kind mp): nothing to serve", config.EnvApps)
	}
	return served, nil
}

func prefixed(name string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", name, err)
}
