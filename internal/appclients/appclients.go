// Package appclients makes the WeChat client of every configured app, each
// with the token source its configuration names, for the commands that
// call WeChat (the worker makes codes; enqueue asks for quotas).
package appclients

import (
	"fmt"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/wxqr/wxqr/internal/config"
	"github.com/wxqr/wxqr/wechat"
)

// DefaultHTTPTimeout is the default of Options.HTTPClient's timeout.
const DefaultHTTPTimeout = 30 * time.Second

// Options are what the clients share. The zero value is valid.
type Options struct {
	// HTTPClient sends every client's and token source's requests. Default:
	// an http.Client with a DefaultHTTPTimeout (30 s) timeout over one
	// wechat.NewTransport that keeps the configuration's Concurrency idle
	// connections per WeChat host.
	HTTPClient *http.Client
	// Logger receives the clients' and token sources' events; they name
	// the app themselves. Default: the zero logger, which logs nothing.
	Logger zerolog.Logger
	// OnFetch, if set, is called after each token fetched from WeChat, for
	// metrics (wechat.TokenConfig.OnFetch). Default: nil.
	OnFetch func(appID string)
}

// New returns a client per app of cfg, by app id. Stable and classic
// tokens are shared through rdb with every other process of the fleet. The
// clients share one HTTP client, and so its pool of connections: one pool
// per app would keep hundreds of apps' idle connections to the same hosts.
func New(cfg *config.Config, rdb redis.UniversalClient, opts Options) (map[string]*wechat.Client, error) {
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: DefaultHTTPTimeout, Transport: wechat.NewTransport(cfg.Concurrency)}
	}
	clients := make(map[string]*wechat.Client, len(cfg.Apps))
	for _, app := range cfg.Apps {
		tokens, err := tokenSource(cfg, app, rdb, opts)
		if err != nil {
			return nil, fmt.Errorf("app %s: %w", app.AppID, err)
		}
		client, err := wechat.NewClient(wechat.Config{
			AppID: app.AppID, Tokens: tokens, HTTPClient: opts.HTTPClient,
			APIBaseURL: cfg.APIBaseURL, MPBaseURL: cfg.MPBaseURL,
			Logger: opts.Logger,
		})
		if err != nil {
			return nil, fmt.Errorf("app %s: %w", app.AppID, err)
		}
		clients[app.AppID] = client
	}
	return clients, nil
}

// tokenSource returns the token source app's configuration names.
func tokenSource(cfg *config.Config, app config.App, rdb redis.UniversalClient, opts Options) (wechat.TokenSource, error) {
	tc := wechat.TokenConfig{
		AppID: app.AppID, Secret: app.Secret, Redis: rdb,
		APIBaseURL: cfg.APIBaseURL, HTTPClient: opts.HTTPClient,
		Logger: opts.Logger, OnFetch: opts.OnFetch,
	}
	switch app.Token.Kind {
	case config.TokenClassic:
		return wechat.NewClassicTokenSource(tc)
	case config.TokenRedis:
		return wechat.NewRedisKeyTokenSource(rdb, app.Token.Ref), nil
	case config.TokenURL:
		return wechat.NewURLTokenSource(app.Token.Ref, opts.HTTPClient), nil
	default:
		return wechat.NewStableTokenSource(tc)
	}
}
