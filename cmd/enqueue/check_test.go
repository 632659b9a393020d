package main

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"
)

func TestParseExpire(t *testing.T) {
	tests := []struct {
		in      string
		want    int
		wantErr bool
	}{
		{"7d", 7 * 86400, false},
		{"36h", 36 * 3600, false},
		{"1d12h", 36 * 3600, false},
		{"30d", 2592000, false},
		{"90s", 90, false},
		{"31d", 0, true},
		{"30d1s", 0, true},
		{"0s", 0, true},
		{"1.5s", 0, true},
		{"-1h", 0, true},
		{"d", 0, true},
		{"week", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseExpire(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parseExpire(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{nil, exitOK},
		{flag.ErrHelp, exitOK},
		{inputErrorf("bad"), exitInput},
		{fmt.Errorf("wrapped: %w", inputErrorf("bad")), exitInput},
		{errors.New("redis down"), exitFailure},
	}
	for _, tt := range tests {
		if got := exitCode(tt.err); got != tt.want {
			t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"status", "-h"}, {"resume", "-h"}, {"export", "-h"}, {"reindex", "-h"}, {"retire", "-h"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var stdout, stderr strings.Builder
			// No environment at all: help must not need configuration.
			err := run(t.Context(), args, func(string) string { return "" }, strings.NewReader(""), &stdout, &stderr)
			if exitCode(err) != exitOK {
				t.Errorf("exit code %d (%v), want 0", exitCode(err), err)
			}
			if !strings.HasPrefix(stdout.String(), "Usage: enqueue") || !strings.Contains(stdout.String(), "Example") {
				t.Errorf("stdout = %q, want the usage with examples", stdout.String())
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	apps := map[string]string{"WXQR_APPS": "wxoa:s3cr3t:oa", "REDIS_URL": "redis://127.0.0.1:1/0"}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"unknown flag", apps, []string{"--colour", "red"}, "colour"},
		{"nothing to queue", apps, nil, "nothing to queue"},
		{"two inputs", apps, []string{"--scene-ids", "1-2", "jobs.csv"}, "only one"},
		{"two files", apps, []string{"a.csv", "b.csv"}, "one jobs file"},
		{"flags without kind", apps, []string{"--app", "wxoa", "--scene-ids", "1-2"}, "--kind and --app"},
		{"bad range", apps, []string{"--app", "wxoa", "--kind", "oa_perm", "--scene-ids", "9-1"}, "--scene-ids"},
		{"bad expire", apps, []string{"--app", "wxoa", "--kind", "oa_temp", "--expire", "2w", "--scene-ids", "1"}, "--expire"},
		{"bad concurrency", apps, []string{"--concurrency", "0", "--scene-ids", "1"}, "--concurrency"},
		{"width for oa", apps, []string{"--app", "wxoa", "--kind", "oa_perm", "--width", "430", "--scene-ids", "1"}, "--width"},
		{"expire for perm", apps, []string{"--app", "wxoa", "--kind", "oa_perm", "--expire", "7d", "--scene-ids", "1"}, "--expire"},
		{"page for qrcode", apps, []string{"--app", "wxmp", "--kind", "wxa_qrcode", "--page", "p", "--scene-ids", "1"}, "--page"},
		{"bad kind", apps, []string{"--app", "wxoa", "--kind", "oa_forever", "--scene-ids", "1"}, "--kind"},
		{"bad width", apps, []string{"--app", "wxmp", "--kind", "wxa_qrcode", "--width", "2000", "--paths", "p.txt"}, "--width must be"},
		{"unconfigured app", apps, []string{"--app", "wxnope", "--kind", "oa_perm", "--scene-ids", "1"}, "--app wxnope"},
		{"no apps", map[string]string{}, []string{"--app", "wxoa", "--kind", "oa_perm", "--scene-ids", "1"}, "WXQR_APPS"},
		{"bad config", map[string]string{"WXQR_APPS": "wxoa:s3cr3t:web"}, []string{"--app", "wxoa", "--kind", "oa_perm", "--scene-ids", "1"}, "WXQR_APPS"},
		{"status argument", apps, []string{"status", "now"}, "no arguments"},
		{"resume what", apps, []string{"resume"}, "--app, --class or --all"},
		{"resume both", apps, []string{"resume", "--all", "--app", "wxoa"}, "not both"},
		{"resume class", apps, []string{"resume", "--class", "gold"}, "--class"},
		{"export format", apps, []string{"export", "--format", "xml"}, "csv or jsonl"},
		{"retire what", apps, []string{"retire"}, "--campaign or --id"},
		{"retire both", apps, []string{"retire", "--campaign", "c", "--id", "x"}, "--campaign or --id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			err := run(t.Context(), tt.args, func(k string) string { return tt.env[k] }, strings.NewReader(""), &stdout, &stderr)
			if exitCode(err) != exitInput {
				t.Fatalf("exit code %d (%v), want %d", exitCode(err), err, exitInput)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
			if strings.Contains(err.Error()+stdout.String()+stderr.String(), "s3cr3t") {
				t.Errorf("output shows the app secret")
			}
		})
	}
}
