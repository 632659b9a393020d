package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/notify"
	"github.com/wxqr/wxqr/tasks"
)

// Environment variables of the notices.
const (
	envNotifyURL    = "WXQR_NOTIFY_URL"
	envNotifySecret = "WXQR_NOTIFY_SECRET"
	envNotifyFormat = "WXQR_NOTIFY_FORMAT"
)

// weComPrefix, before WXQR_NOTIFY_URL, says the URL is a WeCom group
// robot's, as WXQR_NOTIFY_FORMAT=wecom does.
const weComPrefix = "wecom:"

// parseNotify reads WXQR_NOTIFY_URL (empty: no notices), WXQR_NOTIFY_FORMAT
// (json, the default, or wecom; a "wecom:" prefix on the URL says wecom too)
// and WXQR_NOTIFY_SECRET (required with json), and checks them as the
// notifier will. It returns nil when notices are off. Errors name the
// variables, never quote the URL or the secret.
func parseNotify(getenv func(string) string) (*notify.WebhookConfig, error) {
	raw := strings.TrimSpace(getenv(envNotifyURL))
	if raw == "" {
		return nil, nil
	}
	format := notify.Format(strings.ToLower(strings.TrimSpace(getenv(envNotifyFormat))))
	if rest, ok := strings.CutPrefix(raw, weComPrefix); ok {
		if format != "" && format != notify.FormatWeCom {
			return nil, fmt.Errorf("%s has the %q prefix of a WeCom robot, but %s is %q", envNotifyURL, weComPrefix, envNotifyFormat, format)
		}
		raw, format = rest, notify.FormatWeCom
	}
	cfg := notify.WebhookConfig{URL: raw, Format: format, Secret: getenv(envNotifySecret)}.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s, %s, %s: %w", envNotifyURL, envNotifyFormat, envNotifySecret, err)
	}
	return &cfg, nil
}

// newNotifier makes the worker's notifier, or nil when notices are off
// (webhook nil). loadConfig has checked webhook.
func newNotifier(webhook *notify.WebhookConfig, rdb redis.UniversalClient, keyPrefix string, cat *catalog.Catalog,
	now func() time.Time, log zerolog.Logger) (*notify.Notifier, error) {
	if webhook == nil {
		return nil, nil
	}
	log = log.With().Str("component", "notify").Logger()
	n, err := notify.New(notify.Config{Redis: rdb, Prefix: keyPrefix, Campaigns: cat, Webhook: *webhook, Now: now, Logger: log})
	if err != nil {
		return nil, err
	}
	log.Info().Str("webhook", n.Webhook().Host()).Str("format", string(webhook.Format)).Msg("notices on")
	return n, nil
}

// notices is the notifier as tasks takes it: nil, not a nil pointer, when
// notices are off.
func (s *services) notices() tasks.Notices {
	if s.notifier == nil {
		return nil
	}
	return s.notifier
}

// startNotices runs the notifier until stopNotices, which stopWork calls
// once asynq has finished the tasks under way: what they tell of is sent
// too. Off, it does nothing.
func (s *services) startNotices(ctx context.Context) {
	if s.notifier == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.notifier.Run(ctx)
	}()
	s.stopNotices = func() {
		cancel()
		<-done
	}
}
