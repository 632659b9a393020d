package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/callback"
	"github.com/wxqr/wxqr/internal/exitcode"
)

// appsFile writes an apps file and returns its WXQR_APPS value.
func appsFile(t *testing.T, contents string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "apps.json")
	if err := os.WriteFile(path, []byte(contents), 0o600); err != nil {
		t.Fatal(err)
	}
	return "@" + path
}

const aesKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"

func TestRunRefusesBadConfig(t *testing.T) {
	good := appsFile(t, `[{"app_id": "wxoa", "secret": "s3cr3t-app", "kind": "oa", "callback_token": "s3cr3t-token"}]`)
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string // in the error
	}{
		{"unknown flag", []string{"--fast"}, map[string]string{"WXQR_APPS": good}, "-fast"},
		{"arguments", []string{"now"}, map[string]string{"WXQR_APPS": good}, "unexpected arguments"},
		{"no apps", nil, nil, "nothing to serve"},
		{"no app to serve", nil, map[string]string{"WXQR_APPS": "wxoa:s3cr3t-app:oa"}, "nothing to serve"},
		{"bad callback key", nil, map[string]string{"WXQR_APPS": appsFile(t,
			`[{"app_id": "wxoa", "secret": "s3cr3t-app", "kind": "oa", "callback_token": "s3cr3t-token", "callback_aes_key": "s3cr3t-key"}]`)}, "callback_aes_key"},
		{"bad address", nil, map[string]string{"WXQR_APPS": good, "WXQR_CALLBACK_ADDR": "8081"}, "WXQR_CALLBACK_ADDR"},
		{"bad address flag", []string{"--addr", "localhost"}, map[string]string{"WXQR_APPS": good}, "WXQR_CALLBACK_ADDR"},
		{"bad redis", nil, map[string]string{"WXQR_APPS": good, "REDIS_URL": "redis://:s3cr3t-redis@redis:port/0"}, "REDIS_URL"},
		{"short openid key", nil, map[string]string{"WXQR_APPS": good, "WXQR_OPENID_KEY": "s3cr3t-short"}, "WXQR_OPENID_KEY"},
		{"bad retention", nil, map[string]string{"WXQR_APPS": good, "WXQR_SCAN_RETENTION": "forever"}, "WXQR_SCAN_RETENTION"},
		{"bad client header", nil, map[string]string{"WXQR_APPS": good, "WXQR_CALLBACK_CLIENT_IP_HEADER": "X Real IP"}, "WXQR_CALLBACK_CLIENT_IP_HEADER"},
		{"bad log level", nil, map[string]string{"WXQR_APPS": good, "LOG_LEVEL": "loud"}, "LOG_LEVEL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(t.Context(), tt.args, func(k string) string { return tt.env[k] }, &out)
			if exitcode.Of(err) != exitcode.Usage {
				t.Fatalf("run = %v, want exit status %d", err, exitcode.Usage)
			}
			if !strings.Contains(err.Error(), tt.want) && !strings.Contains(out.String(), tt.want) {
				t.Errorf("error %q (output %q) does not mention %q", err, out.String(), tt.want)
			}
			if strings.Contains(err.Error()+out.String(), "s3cr3t") {
				t.Errorf("a secret shows in %q", err.Error()+out.String())
			}
		})
	}
}

func TestRunHelp(t *testing.T) {
	var out bytes.Buffer
	err := run(t.Context(), []string{"--help"}, func(string) string { return "" }, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("run --help = %v, want flag.ErrHelp (exit 0)", err)
	}
	for _, want := range []string{"Usage: callback", "/wechat/{app_id}", "-addr", "WXQR_CALLBACK_ADDR"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help does not mention %q:\n%s", want, out.String())
		}
	}
}

func TestRunRedisDown(t *testing.T) {
	env := map[string]string{
		"WXQR_APPS": "wxmp:s3cr3t-app:mp",
		"REDIS_URL": "redis://127.0.0.1:1/0?max_retries=-1",
	}
	var out bytes.Buffer
	err := run(t.Context(), nil, func(k string) string { return env[k] }, &out)
	if err == nil || !strings.Contains(err.Error(), "redis at redis://127.0.0.1:1/0") {
		t.Fatalf("run = %v, want a Redis error", err)
	}
	if code := exitcode.Of(err); code != exitcode.Error {
		t.Errorf("exit status %d, want %d: the configuration is fine, Redis is not", code, exitcode.Error)
	}
}

func TestLoadConfig(t *testing.T) {
	apps := appsFile(t, `[
		{"app_id": "wxoa", "secret": "s", "kind": "oa", "callback_token": "tok", "callback_aes_key": "`+aesKey+`", "callback_forward": "https://bot.internal/wx"},
		{"app_id": "wxquiet", "secret": "s", "kind": "oa"},
		{"app_id": "wxmp", "secret": "s", "kind": "mp"}
	]`)
	env := map[string]string{
		"WXQR_APPS":                      apps,
		"WXQR_OPENID_KEY":                "0123456789abcdef0123456789abcdef",
		"WXQR_SCAN_RETENTION":            "30d",
		"WXQR_CALLBACK_CLIENT_IP_HEADER": "X-Real-IP",
	}
	t.Run("from the environment", func(t *testing.T) {
		cc, err := loadConfig(nil, func(k string) string { return env[k] }, &bytes.Buffer{})
		if err != nil {
			t.Fatalf("loadConfig: %v", err)
		}
		want := []callback.App{
			{ID: "wxoa", Type: wxqr.AppOA, Token: "tok", AESKey: aesKey, Forward: "https://bot.internal/wx"},
			{ID: "wxmp", Type: wxqr.AppMP},
		}
		if !slices.Equal(cc.apps, want) {
			t.Errorf("apps = %v, want %v", cc.apps, want)
		}
		if cc.addr != defaultAddr || cc.retention != 30*24*time.Hour || string(cc.openIDKey) != env["WXQR_OPENID_KEY"] || cc.clientIPHeader != "X-Real-IP" {
			t.Errorf("config = %+v", cc)
		}
	})
	t.Run("defaults and flags", func(t *testing.T) {
		cc, err := loadConfig([]string{"--addr", "0.0.0.0:9000"}, func(k string) string {
			if k == "WXQR_APPS" {
				return apps
			}
			return ""
		}, &bytes.Buffer{})
		if err != nil {
			t.Fatalf("loadConfig: %v", err)
		}
		if cc.addr != "0.0.0.0:9000" || cc.retention != defaultScanRetention || cc.openIDKey != nil || cc.clientIPHeader != "" {
			t.Errorf("config = %+v", cc)
		}
	})
}
