package appclients_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/wxqr/wxqr/internal/appclients"
	"github.com/wxqr/wxqr/internal/config"
	"github.com/wxqr/wxqr/internal/testenv"
	"github.com/wxqr/wxqr/wechat"
	"github.com/wxqr/wxqr/wechat/wechatsim"
)

// Each app's client calls WeChat for that app, with the token source its
// configuration names.
func TestNew(t *testing.T) {
	sim := wechatsim.NewServer(wechatsim.Config{Apps: map[string]wechatsim.App{
		"wxstable":  {Secret: "stable-secret", Type: wechatsim.OfficialAccount},
		"wxclassic": {Secret: "classic-secret", Type: wechatsim.OfficialAccount},
		"wxkept":    {Secret: "kept-secret", Type: wechatsim.MiniProgram},
	}})
	t.Cleanup(sim.Close)
	rdb := testenv.Redis(t)

	apps := filepath.Join(t.TempDir(), "apps.json")
	data, _ := json.Marshal([]map[string]string{
		{"app_id": "wxstable", "secret": "stable-secret", "kind": "oa"},
		{"app_id": "wxclassic", "secret": "classic-secret", "kind": "oa", "token_source": "classic"},
		{"app_id": "wxkept", "kind": "mp", "token_source": "redis:kept:token"},
	})
	if err := os.WriteFile(apps, data, 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{config.EnvApps: "@" + apps, config.EnvAPIBaseURL: sim.URL(), config.EnvMPBaseURL: sim.URL()}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	// The Mini Program's token is kept by another system: here, by hand.
	kept, err := wechat.NewClassicTokenSource(wechat.TokenConfig{AppID: "wxkept", Secret: "kept-secret", Redis: rdb, APIBaseURL: sim.URL(), KeyPrefix: "other:"})
	if err != nil {
		t.Fatal(err)
	}
	token, err := kept.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(t.Context(), "kept:token", token, 0).Err(); err != nil {
		t.Fatal(err)
	}

	var fetched []string
	clients, err := appclients.New(cfg, rdb, appclients.Options{OnFetch: func(app string) { fetched = append(fetched, app) }})
	if err != nil {
		t.Fatal(err)
	}
	for id, path := range map[string]string{"wxstable": "/cgi-bin/qrcode/create", "wxclassic": "/cgi-bin/qrcode/create", "wxkept": "/wxa/getwxacode"} {
		c := clients[id]
		if c == nil || c.AppID() != id {
			t.Fatalf("client of %s: %v", id, c)
		}
		if _, err := c.QuotaGet(t.Context(), &wechat.QuotaGetRequest{CGIPath: path}); err != nil {
			t.Errorf("%s: QuotaGet: %v", id, err)
		}
	}
	if len(clients) != 3 {
		t.Errorf("%d clients, want 3", len(clients))
	}
	// wxkept's token came from the key: wxqr fetched none for it.
	if len(fetched) != 2 || sim.TokensIssued("wxkept") != 1 {
		t.Errorf("tokens fetched for %v, %d issued to wxkept; want wxstable and wxclassic, and wxkept's one", fetched, sim.TokensIssued("wxkept"))
	}
}
