package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"net"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/wxqr/wxqr/callback"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/internal/config"
	"github.com/wxqr/wxqr/internal/exitcode"
	"github.com/wxqr/wxqr/scans"
)

// Timings of the server.
const (
	// shutdownTimeout lets the pushes under way be answered: each is due
	// within callback.DefaultBudget.
	shutdownTimeout = 10 * time.Second
	// readTimeout bounds reading a request, body included: WeChat sends a
	// few KB at once.
	readTimeout = 10 * time.Second
	// writeTimeout bounds a whole exchange: the handler answers within its
	// budget, well before.
	writeTimeout = 15 * time.Second
)

// run is the whole command; main only adds the signals and the exit
// status. It loads the configuration (every value checked before any
// connection), connects to Redis, serves until ctx ends, then shuts down.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cc, err := loadConfig(args, getenv, stdout)
	if err != nil {
		return err
	}
	log := cc.log.New(stdout).With().Str("component", "callback").Logger()

	rdb := cc.redis.NewClient()
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis at %s: %w", cc.redis, err)
	}
	// An evicted count or deduplication key would count a retry twice.
	if err := config.CheckNoEviction(ctx, rdb, log); err != nil {
		return exitcode.UsageError(fmt.Errorf("redis at %s: %w", cc.redis, err))
	}
	h, err := newHandler(ctx, cc, rdb, log)
	if err != nil {
		return err
	}
	return serve(ctx, cc.addr, h, log)
}

// newHandler builds the recorder over the catalog, and the handler.
func newHandler(ctx context.Context, cc *callbackConfig, rdb redis.UniversalClient, log zerolog.Logger) (*callback.Handler, error) {
	cat, err := catalog.NewWithConfig(rdb, catalog.Config{Prefix: cc.redis.KeyPrefix()})
	if err != nil {
		return nil, err
	}
	store, err := scans.New(ctx, rdb, cat, scans.Config{Prefix: cc.redis.KeyPrefix(), OpenIDKey: cc.openIDKey, Retention: cc.retention})
	if err != nil {
		return nil, fmt.Errorf("scans: %w", err)
	}
	h, err := callback.New(callback.Config{
		Apps:           cc.apps,
		Recorder:       store,
		Redis:          rdb,
		ClientIPHeader: cc.clientIPHeader,
		Logger:         log,
	})
	if err != nil {
		return nil, exitcode.UsageError(err)
	}
	return h, nil
}

// serve serves h on addr until ctx ends, then lets the requests under way
// finish.
func serve(ctx context.Context, addr string, h http.Handler, log zerolog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          stdlog.New(log.With().Str("component", "http").Logger(), "", 0),
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	log.Info().Str("addr", ln.Addr().String()).Msg("callback listening")

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info().Msg("shutting down: answering the requests under way")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
