package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/wxqr/wxqr"
)

func TestLoadApps(t *testing.T) {
	tests := []struct {
		name string
		in   string
		file string // contents of the @file, if any
		want Apps
	}{
		{"empty", "", "", nil},
		{"one", "wx1:s3cr3t-1:oa", "", Apps{{AppID: "wx1", Secret: "s3cr3t-1", Type: wxqr.AppOA, Token: TokenSource{Kind: TokenStable}}}},
		{"two with spaces and trailing comma", " wx1:s3cr3t-1:oa , wx2:s3cr3t-2:mp ,", "", Apps{
			{AppID: "wx1", Secret: "s3cr3t-1", Type: wxqr.AppOA, Token: TokenSource{Kind: TokenStable}},
			{AppID: "wx2", Secret: "s3cr3t-2", Type: wxqr.AppMP, Token: TokenSource{Kind: TokenStable}},
		}},
		{"colon in secret", "wx1:s3c:r3t:mp", "", Apps{{AppID: "wx1", Secret: "s3c:r3t", Type: wxqr.AppMP, Token: TokenSource{Kind: TokenStable}}}},
		{"file", "@apps.json", `[
			{"app_id": "wx1", "secret": "s3cr3t-1", "kind": "oa"},
			{"app_id": "wx2", "secret": "s3cr3t-2", "kind": "mp", "token_source": "classic"},
			{"app_id": "wx3", "kind": "oa", "token_source": "redis:tokens:wx3"},
			{"app_id": "wx4", "kind": "mp", "token_source": "url:https://tokens.internal/wx4?key=k"}
		]`, Apps{
			{AppID: "wx1", Secret: "s3cr3t-1", Type: wxqr.AppOA, Token: TokenSource{Kind: TokenStable}},
			{AppID: "wx2", Secret: "s3cr3t-2", Type: wxqr.AppMP, Token: TokenSource{Kind: TokenClassic}},
			{AppID: "wx3", Type: wxqr.AppOA, Token: TokenSource{Kind: TokenRedis, Ref: "tokens:wx3"}},
			{AppID: "wx4", Type: wxqr.AppMP, Token: TokenSource{Kind: TokenURL, Ref: "https://tokens.internal/wx4?key=k"}},
		}},
		{"empty file", "@apps.json", `[]`, nil},
		{"file with callbacks", "@apps.json", `[
			{"app_id": "wx1", "secret": "s3cr3t-1", "kind": "oa", "callback_token": "tok1"},
			{"app_id": "wx2", "secret": "s3cr3t-2", "kind": "oa", "callback_token": "tok2",
			 "callback_aes_key": "` + testAESKey + `", "callback_aes_key_previous": "` + testPreviousAESKey + `",
			 "callback_forward": "https://bot.internal/wechat?k=v"}
		]`, Apps{
			{AppID: "wx1", Secret: "s3cr3t-1", Type: wxqr.AppOA, Token: TokenSource{Kind: TokenStable}, Callback: Callback{Token: "tok1"}},
			{AppID: "wx2", Secret: "s3cr3t-2", Type: wxqr.AppOA, Token: TokenSource{Kind: TokenStable}, Callback: Callback{
				Token: "tok2", AESKey: testAESKey, PreviousAESKey: testPreviousAESKey, Forward: "https://bot.internal/wechat?k=v",
			}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LoadApps(tt.in, readFileFake(t, "apps.json", tt.file))
			if err != nil {
				t.Fatalf("LoadApps: %v", err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d apps, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("app %d = %+v (secret %q), want %+v (secret %q)", i, got[i], got[i].Secret, tt.want[i], tt.want[i].Secret)
				}
			}
		})
	}
}

func TestLoadAppsErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		file string
		want []string
	}{
		{"no kind", "wx1:s3cr3t", "", []string{"entry 1", "appid:secret:kind"}},
		{"bad kind", "wx1:s3cr3t:oa,wx2:s3cr3t:web", "", []string{"entry 2", "kind", "oa or mp"}},
		{"no secret", "wx1::oa", "", []string{"entry 1", "secret", "required"}},
		{"no app id", ":s3cr3t:oa", "", []string{"entry 1", "app_id", "required"}},
		{"bad app id", "wx.1:s3cr3t:oa", "", []string{"entry 1", "app_id", "letters"}},
		{"several", "wx1:s3cr3t:xx,,wx3:s3cr3t", "", []string{"entry 1", "entry 3"}},
		{"duplicate", "wx1:s3cr3t:oa,wx1:s3cr3t:mp", "", []string{"entry 2", "entry 1", "already configured"}},
		{"duplicate after blank entry", "wx1:s3cr3t:oa,,wx1:s3cr3t:mp", "", []string{"entry 3", "entry 1"}},
		{"missing file", "@nothere.json", "", []string{"nothere.json"}},
		{"file not array", "@apps.json", `{"app_id": "wx1"}`, []string{"apps.json", "array"}},
		{"file syntax", "@apps.json", `[{"app_id": "wx1", "secret": "s3cr3t`, []string{"apps.json", "invalid JSON"}},
		{"file unknown field", "@apps.json", `[{"app_id": "wx1", "secret": "s3cr3t", "kind": "oa", "secrte": "s3cr3t"}]`, []string{"entry 1", "secrte"}},
		{"file wrong type", "@apps.json", `[{"app_id": "wx1", "secret": 12, "kind": "oa"}]`, []string{"entry 1", "secret", "number"}},
		{"file bad token source", "@apps.json", `[{"app_id": "wx1", "secret": "s3cr3t", "kind": "oa"}, {"app_id": "wx2", "kind": "oa", "token_source": "vault:x"}]`, []string{"entry 2", "token_source", "redis:<key>"}},
		{"file token url", "@apps.json", `[{"app_id": "wx1", "kind": "oa", "token_source": "url:s3cr3t"}]`, []string{"entry 1", "token_source", "url:<http(s) URL>"}},
		{"file redis without key", "@apps.json", `[{"app_id": "wx1", "kind": "oa", "token_source": "redis:"}]`, []string{"entry 1", "redis:<key>"}},
		{"file classic without secret", "@apps.json", `[{"app_id": "wx1", "kind": "oa", "token_source": "classic"}]`, []string{"entry 1", "secret"}},
		{"file duplicate", "@apps.json", `[{"app_id": "wx1", "secret": "s3cr3t", "kind": "oa"}, {"app_id": "wx1", "secret": "s3cr3t", "kind": "oa"}]`, []string{"entry 2", "entry 1"}},
		{"callback key without token", "@apps.json", `[{"app_id": "wx1", "secret": "s3cr3t", "kind": "oa", "callback_aes_key": "` + testAESKey + `"}]`, []string{"entry 1", "callback_token", "required"}},
		{"callback forward without token", "@apps.json", `[{"app_id": "wx1", "secret": "s3cr3t", "kind": "oa", "callback_forward": "https://bot.internal/"}]`, []string{"entry 1", "callback_token", "required"}},
		{"callback key too short", "@apps.json", `[{"app_id": "wx1", "secret": "s3cr3t", "kind": "oa", "callback_token": "s3cr3t-tok", "callback_aes_key": "s3cr3t"}]`, []string{"entry 1", "callback_aes_key:", "43-character"}},
		{"callback key not alphanumeric", "@apps.json", `[{"app_id": "wx1", "secret": "s3cr3t", "kind": "oa", "callback_token": "s3cr3t-tok", "callback_aes_key": "s3cr3t+` + testAESKey[7:] + `"}]`, []string{"entry 1", "callback_aes_key:", "letters and digits"}},
		{"callback previous key bad", "@apps.json", `[{"app_id": "wx1", "secret": "s3cr3t", "kind": "oa", "callback_token": "s3cr3t-tok", "callback_aes_key": "` + testAESKey + `", "callback_aes_key_previous": "s3cr3t"}]`, []string{"entry 1", "callback_aes_key_previous:", "43-character"}},
		{"callback previous without current", "@apps.json", `[{"app_id": "wx1", "secret": "s3cr3t", "kind": "oa", "callback_token": "s3cr3t-tok", "callback_aes_key_previous": "` + testPreviousAESKey + `"}]`, []string{"entry 1", "callback_aes_key_previous", "needs callback_aes_key"}},
		{"callback forward not http", "@apps.json", `[{"app_id": "wx1", "secret": "s3cr3t", "kind": "oa", "callback_token": "s3cr3t-tok", "callback_forward": "ftp://u:s3cr3t@bot/"}]`, []string{"entry 1", "callback_forward", "http(s) URL"}},
		{"callback forward relative", "@apps.json", `[{"app_id": "wx1", "secret": "s3cr3t", "kind": "oa", "callback_token": "s3cr3t-tok", "callback_forward": "/wechat?key=s3cr3t"}]`, []string{"entry 1", "callback_forward", "http(s) URL"}},
		{"callback forward fragment", "@apps.json", `[{"app_id": "wx1", "secret": "s3cr3t", "kind": "oa", "callback_token": "s3cr3t-tok", "callback_forward": "https://bot/wechat#s3cr3t"}]`, []string{"entry 1", "callback_forward", "fragment"}},
		{"callback wrong type", "@apps.json", `[{"app_id": "wx1", "secret": "s3cr3t", "kind": "oa", "callback_token": 12}]`, []string{"entry 1", "callback_token", "number"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			apps, err := LoadApps(tt.in, readFileFake(t, "apps.json", tt.file))
			if err == nil {
				t.Fatalf("LoadApps = %v, want an error", apps)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error %q shows a secret", err)
			}
		})
	}
}

// EncodingAESKeys of the tests: 43 letters and digits.
const (
	testAESKey         = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	testPreviousAESKey = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefg"
)

// readFileFake serves contents as the file name, and nothing else.
func readFileFake(t *testing.T, name, contents string) func(string) ([]byte, error) {
	t.Helper()
	return func(path string) ([]byte, error) {
		if path != name || contents == "" {
			return nil, &fs.PathError{Op: "open", Path: path, Err: fs.ErrNotExist}
		}
		return []byte(contents), nil
	}
}

func TestLoadAppsFromDisk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "apps.json")
	if err := os.WriteFile(path, []byte(`[{"app_id": "wx1", "secret": "s3cr3t", "kind": "mp"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(env(map[string]string{EnvApps: "@" + path}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if app, ok := cfg.Apps.Get("wx1"); !ok || app.Type != wxqr.AppMP {
		t.Errorf("Get(wx1) = %v, %v; want the mp app", app, ok)
	}
	if _, ok := cfg.Apps.Get("wx2"); ok {
		t.Error("Get(wx2) found an app that is not configured")
	}
}

// TestAppsNeverShowSecrets prints, marshals and logs apps every way a caller
// might, and looks for the secrets in the output.
func TestAppsNeverShowSecrets(t *testing.T) {
	// The callback keys are keys of the right shape made of "s3cr3t".
	const cbKey, cbPrevious = "s3cr3tKEY" + "0123456789abcdefghijklmnopqrstuvwxyz", "s3cr3tPREV" + "0123456789abcdefghijklmnopqrstuvwxy"
	apps := Apps{
		{AppID: "wx1", Secret: "s3cr3t-app", Type: wxqr.AppOA, Token: TokenSource{Kind: TokenStable}},
		{AppID: "wx2", Type: wxqr.AppMP, Token: TokenSource{Kind: TokenURL, Ref: "https://user:s3cr3t-pw@tokens.internal/t?key=s3cr3t-key"}},
		{AppID: "wx3", Secret: "s3cr3t-app3", Type: wxqr.AppOA, Token: TokenSource{Kind: TokenStable}, Callback: Callback{
			Token: "s3cr3t-cbtoken", AESKey: cbKey, PreviousAESKey: cbPrevious,
			Forward: "https://bot:s3cr3t-fw@bot.internal/wechat?key=s3cr3t-fwkey",
		}},
		// A key as the user name, with no password.
		{AppID: "wx4", Secret: "s3cr3t-app4", Type: wxqr.AppOA, Token: TokenSource{Kind: TokenStable}, Callback: Callback{
			Token: "s3cr3t-cbtoken4", Forward: "https://s3cr3t-userkey@bot.internal/hook",
		}},
	}
	cfg := &Config{Apps: apps}
	var outputs = map[string]string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.3v"} {
		outputs["app "+verb] = fmt.Sprintf(verb, apps[0])
		outputs["app pointer "+verb] = fmt.Sprintf(verb, &apps[0])
		outputs["apps "+verb] = fmt.Sprintf(verb, apps)
		outputs["url app "+verb] = fmt.Sprintf(verb, apps[1])
		outputs["callback app "+verb] = fmt.Sprintf(verb, apps[2])
		outputs["callback "+verb] = fmt.Sprintf(verb, apps[2].Callback)
		outputs["config "+verb] = fmt.Sprintf(verb, cfg)
	}
	for name, v := range map[string]any{"app": apps[0], "apps": apps, "config": cfg, "callback app": apps[2], "callback": apps[2].Callback} {
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("marshal %s: %v", name, err)
		}
		outputs["json "+name] = string(data)
		var log strings.Builder
		logger := zerolog.New(&log)
		logger.Info().Interface("v", v).Msg("")
		outputs["zerolog "+name] = log.String()
	}
	outputs["error"] = fmt.Errorf("make code: %v", apps[0]).Error()

	for name, out := range outputs {
		if strings.Contains(out, "s3cr3t") {
			t.Errorf("%s shows a secret: %s", name, out)
		}
	}
	if want := "wx1 (oa, token: stable)"; outputs["app %v"] != want {
		t.Errorf("app %%v = %q, want %q", outputs["app %v"], want)
	}
	if want := "url:https://user:xxxxx@tokens.internal/t"; !strings.Contains(outputs["url app %v"], want) {
		t.Errorf("url app %%v = %q, want it to contain %q", outputs["url app %v"], want)
	}
	if !strings.Contains(outputs["json app"], `"secret":"[redacted]"`) {
		t.Errorf("json app = %s, want the secret marked as redacted", outputs["json app"])
	}
	if want := "wx3 (oa, token: stable, callback: aes+previous, forward https://bot:xxxxx@bot.internal/wechat)"; outputs["callback app %v"] != want {
		t.Errorf("callback app %%v = %q, want %q", outputs["callback app %v"], want)
	}
	for _, field := range []string{"callback_token", "callback_aes_key", "callback_aes_key_previous"} {
		if want := `"` + field + `":"[redacted]"`; !strings.Contains(outputs["json callback app"], want) {
			t.Errorf("json callback app = %s, want %s", outputs["json callback app"], want)
		}
	}
}

func TestParseTokenSource(t *testing.T) {
	tests := []struct {
		in      string
		want    TokenSource
		wantErr bool
	}{
		{"", TokenSource{Kind: TokenStable}, false},
		{"stable", TokenSource{Kind: TokenStable}, false},
		{"classic", TokenSource{Kind: TokenClassic}, false},
		{"redis:wxqr:ext:wx1", TokenSource{Kind: TokenRedis, Ref: "wxqr:ext:wx1"}, false},
		{"url:http://t.internal/x", TokenSource{Kind: TokenURL, Ref: "http://t.internal/x"}, false},
		{"stable:x", TokenSource{}, true},
		{"url:", TokenSource{}, true},
		{"url:/relative", TokenSource{}, true},
		{"env:TOKEN", TokenSource{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTokenSource(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseTokenSource(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("ParseTokenSource(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestLoadAppsReadError(t *testing.T) {
	boom := errors.New("boom")
	_, err := LoadApps("@x.json", func(string) ([]byte, error) { return nil, boom })
	if !errors.Is(err, boom) {
		t.Errorf("error = %v, want it to wrap the read error", err)
	}
}
