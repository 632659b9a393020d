package appclients_test

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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

// The clients of every app share connections, as many as the worker's
// concurrency: rounds of that many calls at once (the server answers them
// once all are in flight) open that many connections in all, not one per
// call beyond net/http's default pool of 2.
func TestNewReusesConnections(t *testing.T) {
	const concurrency, rounds = 16, 4
	apps := map[string]wechatsim.App{
		"wxpoolone": {Secret: "pool-secret-1", Type: wechatsim.OfficialAccount},
		"wxpooltwo": {Secret: "pool-secret-2", Type: wechatsim.MiniProgram},
	}
	sim, err := wechatsim.New(wechatsim.Config{Apps: apps})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	inFlight := testenv.NewBarrier(concurrency)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Token fetches, one per app, come before the calls counted here.
		if strings.Contains(r.URL.Path, "quota") && inFlight.Wait(r.Context()) != nil {
			return
		}
		sim.Handler().ServeHTTP(w, r)
	}))
	var opened atomic.Int64
	srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			opened.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)

	env := map[string]string{
		config.EnvApps:        "wxpoolone:pool-secret-1:oa,wxpooltwo:pool-secret-2:mp",
		config.EnvAPIBaseURL:  srv.URL,
		config.EnvMPBaseURL:   srv.URL,
		config.EnvConcurrency: strconv.Itoa(concurrency),
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	clients, err := appclients.New(cfg, testenv.Redis(t), appclients.Options{})
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]string{"wxpoolone": "/cgi-bin/qrcode/create", "wxpooltwo": "/wxa/getwxacode"}
	for round := range rounds {
		var wg sync.WaitGroup
		for i := range concurrency {
			id := []string{"wxpoolone", "wxpooltwo"}[(round+i)%2]
			wg.Go(func() {
				if _, err := clients[id].QuotaGet(t.Context(), &wechat.QuotaGetRequest{CGIPath: paths[id]}); err != nil {
					t.Errorf("%s: QuotaGet: %v", id, err)
				}
			})
		}
		wg.Wait()
	}
	// Each round finds the connections of the last one idle; the token
	// fetches of the first may open a couple more.
	if limit := int64(concurrency + 2); opened.Load() > limit {
		t.Errorf("%d rounds of %d calls at once opened %d connections; want at most %d", rounds, concurrency, opened.Load(), limit)
	}
}
