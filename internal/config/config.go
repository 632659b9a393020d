// Package config reads wxqr's configuration from the environment: the
// variables that cmd/worker and cmd/enqueue share (see the README's
// configuration table). Libraries never read the environment: they take the
// typed values parsed here, or, for the few variables only one command
// reads, parsed in that command.
//
// No value parsed here ever shows a secret (an app secret, a Redis or S3
// password) when printed, logged or marshalled, and no error quotes one.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
)

// Environment variable names.
const (
	EnvRedisURL         = "REDIS_URL"
	EnvRedisMinReplicas = "WXQR_REDIS_MIN_REPLICAS"
	EnvApps             = "WXQR_APPS"
	EnvAPIBaseURL       = "WECHAT_API_BASE_URL"
	EnvMPBaseURL        = "WECHAT_MP_BASE_URL"
	EnvStorage          = "WXQR_STORAGE"
	EnvS3Endpoint       = "S3_ENDPOINT"
	EnvS3ForcePathStyle = "S3_FORCE_PATH_STYLE"
	EnvAWSAccessKeyID   = "AWS_ACCESS_KEY_ID"
	EnvAWSSecretKey     = "AWS_SECRET_ACCESS_KEY"
	EnvAWSSessionToken  = "AWS_SESSION_TOKEN"
	EnvAWSRegion        = "AWS_REGION"
	EnvConcurrency      = "WXQR_CONCURRENCY"
	EnvMonitorAddr      = "WXQR_MONITOR_ADDR"
	EnvPrintFont        = "WXQR_PRINT_FONT"
	EnvLogLevel         = "LOG_LEVEL"
	EnvLogFormat        = "LOG_FORMAT"
)

// Defaults of the variables that have one.
const (
	DefaultRedisURL    = "redis://127.0.0.1:6379/0"
	DefaultAPIBaseURL  = "https://api.weixin.qq.com"
	DefaultMPBaseURL   = "https://mp.weixin.qq.com"
	DefaultStorage     = "file://./out"
	DefaultConcurrency = 20
	DefaultMonitorAddr = "127.0.0.1:8080"
)

// MonitorOff, as the monitoring address, serves nothing.
const MonitorOff = "off"

// Config is wxqr's configuration as read from the environment. Commands
// override fields from their flags after Load.
type Config struct {
	// Redis holds queues, the catalog, tokens and limits. REDIS_URL; default
	// DefaultRedisURL.
	Redis Redis
	// RedisMinReplicas is how many replicas must acknowledge a code's lock,
	// staged result and record before a worker goes on (see
	// catalog.Config.MinReplicas). WXQR_REDIS_MIN_REPLICAS; default 1 with
	// redis-sentinel:// (a failover must not discard them), 0 otherwise.
	RedisMinReplicas int
	// Apps are the WeChat apps wxqr makes codes for. WXQR_APPS; default none
	// (commands that need an app say so).
	Apps Apps
	// APIBaseURL is the WeChat API host. WECHAT_API_BASE_URL; default
	// DefaultAPIBaseURL.
	APIBaseURL string
	// MPBaseURL is the host serving showqrcode. WECHAT_MP_BASE_URL; default
	// DefaultMPBaseURL.
	MPBaseURL string
	// Storage is where images go. WXQR_STORAGE, S3_ENDPOINT,
	// S3_FORCE_PATH_STYLE, AWS_*; default DefaultStorage.
	Storage Storage
	// Concurrency is the number of handler goroutines per worker.
	// WXQR_CONCURRENCY; default DefaultConcurrency.
	Concurrency int
	// MonitorAddr is where the worker serves the web UI, /metrics and health
	// checks, or MonitorOff. WXQR_MONITOR_ADDR; default DefaultMonitorAddr.
	MonitorAddr string
	// PrintFont is the TrueType font (.ttf) of the text on PDF print sheets,
	// for names Helvetica cannot print (Chinese, for one); commands load it
	// with printsheet.LoadFont. WXQR_PRINT_FONT; default "": Helvetica.
	PrintFont string
	// Log configures the logger. LOG_LEVEL (default info), LOG_FORMAT
	// (default json).
	Log Log
}

// Load reads the configuration through getenv (os.Getenv in production, a
// map in tests) and validates it. WXQR_APPS=@file reads the file from disk.
// The error lists every bad variable, each named, none quoting a secret.
func Load(getenv func(string) string) (*Config, error) {
	var errs []error
	check := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	orDefault := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}

	cfg := &Config{
		APIBaseURL:  orDefault(EnvAPIBaseURL, DefaultAPIBaseURL),
		MPBaseURL:   orDefault(EnvMPBaseURL, DefaultMPBaseURL),
		MonitorAddr: orDefault(EnvMonitorAddr, DefaultMonitorAddr),
		PrintFont:   getenv(EnvPrintFont),
	}
	var err error
	cfg.Redis, err = ParseRedisURL(orDefault(EnvRedisURL, DefaultRedisURL))
	check(prefixed(EnvRedisURL, err))
	cfg.RedisMinReplicas, err = minReplicas(getenv(EnvRedisMinReplicas), cfg.Redis)
	check(err)
	cfg.Apps, err = LoadApps(getenv(EnvApps), os.ReadFile)
	check(prefixed(EnvApps, err))
	check(checkBaseURL(EnvAPIBaseURL, cfg.APIBaseURL))
	check(checkBaseURL(EnvMPBaseURL, cfg.MPBaseURL))
	cfg.Storage, err = LoadStorage(getenv)
	check(err)
	cfg.Concurrency, err = positiveInt(EnvConcurrency, getenv(EnvConcurrency), DefaultConcurrency)
	check(err)
	if _, _, err := net.SplitHostPort(cfg.MonitorAddr); err != nil && cfg.MonitorAddr != MonitorOff {
		check(fmt.Errorf("%s: want host:port or %q, got %q", EnvMonitorAddr, MonitorOff, cfg.MonitorAddr))
	}
	cfg.Log, err = LoadLog(getenv)
	check(err)

	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return cfg, nil
}

func prefixed(name string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", name, err)
}

func checkBaseURL(name, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		// Not quoted: the text of a URL that does not parse cannot be
		// redacted reliably.
		return fmt.Errorf("%s: not a valid URL", name)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s: want an http(s) URL such as %s, got %q", name, DefaultAPIBaseURL, displayURL(u))
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		// A base URL is joined with API paths and query strings; credentials
		// or a query here would end up in every request and error, and the
		// WeChat client refuses a fragment.
		return fmt.Errorf("%s: must not carry credentials, a query or a fragment", name)
	}
	return nil
}

func minReplicas(raw string, r Redis) (int, error) {
	if raw == "" {
		if r.Sentinel() {
			return 1, nil
		}
		return 0, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s: want a non-negative integer, got %q", EnvRedisMinReplicas, raw)
	}
	return n, nil
}

func positiveInt(name, raw string, def int) (int, error) {
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s: want a positive integer, got %q", name, raw)
	}
	return n, nil
}

// displayURL is u as it may be shown: no password and no query (a query can
// carry a token as easily as the user info can). A user name without a
// password is hidden too: in "https://KEY@host/hook" it is the key.
func displayURL(u *url.URL) string {
	v := *u
	v.RawQuery, v.ForceQuery, v.Fragment, v.RawFragment = "", false, "", ""
	if v.User != nil {
		if _, hasPassword := v.User.Password(); !hasPassword {
			v.User = url.User("xxxxx")
		}
	}
	return v.Redacted()
}
