package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/wxqr/wxqr/wechat/wechatsim"
)

// startRun runs run in the background with the given arguments and
// environment and returns the URL it prints, a function returning everything
// it wrote to stdout, and the channel that receives run's result.
func startRun(t *testing.T, ctx context.Context, args []string, env map[string]string) (string, func() string, <-chan error) {
	t.Helper()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, args, func(k string) string { return env[k] }, pw)
		pw.Close()
	}()

	var (
		mu  sync.Mutex
		out strings.Builder
	)
	first := make(chan string, 1)
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		sc := bufio.NewScanner(pr)
		for n := 0; sc.Scan(); n++ {
			mu.Lock()
			out.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if n == 0 {
				first <- sc.Text()
			}
		}
		close(first)
	}()
	output := func() string {
		<-drained
		mu.Lock()
		defer mu.Unlock()
		return out.String()
	}

	line, ok := <-first
	if !ok {
		t.Fatalf("run printed nothing; it returned %v", <-done)
	}
	base, found := strings.CutPrefix(line, "wechatsim listening on ")
	if !found {
		t.Fatalf("first line %q does not announce the URL", line)
	}
	return base, output, done
}

func TestRunServesUntilCancelled(t *testing.T) {
	const secret = "top-secret-value"
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	base, output, done := startRun(t, ctx, []string{"-addr", "127.0.0.1:0", "-token-ttl", "90s"},
		map[string]string{"WXQR_APPS": "wx00000000000000a1:" + secret + ":oa,wx00000000000000b2:other:mp"})

	resp, err := http.Get(base + "/cgi-bin/token?grant_type=client_credential&appid=wx00000000000000a1&secret=" + secret)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || tok.AccessToken == "" || tok.ExpiresIn != 90 {
		t.Fatalf("token answer: %v, %+v; want a token expiring in 90", err, tok)
	}

	resp, err = http.Post(base+"/cgi-bin/qrcode/create?access_token="+url.QueryEscape(tok.AccessToken), "application/json",
		strings.NewReader(`{"action_name":"QR_SCENE","action_info":{"scene":{"scene_id":1}}}`))
	if err != nil {
		t.Fatal(err)
	}
	var code struct{ Ticket string }
	json.NewDecoder(resp.Body).Decode(&code)
	resp.Body.Close()
	if code.Ticket == "" {
		t.Errorf("qrcode/create gave no ticket")
	}

	resp, err = http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz: status %d", resp.StatusCode)
	}

	cancel()
	if err := <-done; err != nil {
		t.Errorf("run returned %v, want nil", err)
	}
	logs := output()
	for _, want := range []string{`"path":"/cgi-bin/token"`, `"path":"/cgi-bin/qrcode/create"`, `"status":200`, "REDACTED"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %s:\n%s", want, logs)
		}
	}
	for _, leak := range []string{secret, tok.AccessToken, url.QueryEscape(tok.AccessToken)} {
		if strings.Contains(logs, leak) {
			t.Errorf("the log holds a secret or token:\n%s", logs)
		}
	}
}

func TestRunRejectsBadConfiguration(t *testing.T) {
	// Secrets are "hush": no error may hold it.
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
	}{
		{"no apps", nil, nil, "no apps"},
		{"bad entry", []string{"-apps", "wx1:hush"}, nil, "entry 1"},
		{"bad kind", []string{"-apps", "wx1:hush:game"}, nil, "kind: want oa or mp"},
		{"duplicate app", []string{"-apps", "wx1:hush:oa,wx1:hush:mp"}, nil, "already configured"},
		{"missing apps file", nil, map[string]string{"WXQR_APPS": "@" + filepath.Join(t.TempDir(), "apps.json")}, "apps.json"},
		{"no secret", nil, map[string]string{"WXQR_APPS": "@" + writeFile(t, "apps.json", `[{"app_id":"wx1","kind":"oa","token_source":"redis:tok"}]`)}, "no secret"},
		{"unknown flag", []string{"-nope"}, nil, "not defined"},
		{"stray argument", []string{"-apps", "wx1:hush:oa", "extra"}, nil, "unexpected arguments"},
		{"bad log format", []string{"-apps", "wx1:hush:oa"}, map[string]string{"LOG_FORMAT": "xml"}, "LOG_FORMAT"},
		{"bad address", []string{"-apps", "wx1:hush:oa", "-addr", "256.0.0.1:99999"}, nil, "listen"},
		{"fault without kind", []string{"-apps", "wx1:hush:oa", "-fault", "showqrcode"}, nil, "API:KIND=P"},
		{"unknown fault", []string{"-apps", "wx1:hush:oa", "-fault", "showqrcode:gremlins=0.1"}, nil, "gremlins"},
		{"unknown fault API", []string{"-apps", "wx1:hush:oa", "-fault", "cgi-bin/nope:reset=0.1"}, nil, "cgi-bin/nope"},
		{"fault rate above 1", []string{"-apps", "wx1:hush:oa", "-fault", "*:reset=0.6", "-fault", "*:http_500=0.6"}, nil, "more than 1"},
		{"bad fault delay", []string{"-apps", "wx1:hush:oa", "-fault", "*:latency=0.1@soon"}, nil, "delay"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(t.Context(), tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("run = %v, want an error containing %q", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "hush") {
				t.Errorf("error %q echoes a secret", err)
			}
		})
	}
}

// TestRunInjectsFaultRates: -fault makes the API fail as often as asked.
func TestRunInjectsFaultRates(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	base, _, done := startRun(t, ctx, []string{"-addr", "127.0.0.1:0", "-apps", "wx00000000000000a1:s:oa",
		"-fault", "cgi-bin/token:system_busy=1", "-fault", "*:latency=0@1ms-2ms", "-fault-seed", "3"}, nil)
	for range 3 {
		resp, err := http.Get(base + "/cgi-bin/token?grant_type=client_credential&appid=wx00000000000000a1&secret=s")
		if err != nil {
			t.Fatal(err)
		}
		var e struct{ Errcode int }
		err = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if err != nil || e.Errcode != -1 {
			t.Errorf("cgi-bin/token answered errcode %d (%v), want -1 every time", e.Errcode, err)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
}

func TestSimApps(t *testing.T) {
	file := writeFile(t, "apps.json", `[{"app_id":"wx3","secret":"s3","kind":"mp"}]`)
	tests := []struct {
		spec string
		want map[string]wechatsim.App
	}{
		{" wx1:s1:oa , wx2:s2:mp", map[string]wechatsim.App{"wx1": {Secret: "s1", Type: wechatsim.OfficialAccount}, "wx2": {Secret: "s2", Type: wechatsim.MiniProgram}}},
		{"@" + file, map[string]wechatsim.App{"wx3": {Secret: "s3", Type: wechatsim.MiniProgram}}},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			got, err := simApps(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("simApps = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// writeFile writes contents to a file in a fresh directory and returns its
// path.
func writeFile(t *testing.T, name, contents string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(contents), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
