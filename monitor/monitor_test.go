package monitor

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/metrics"
	"github.com/wxqr/wxqr/scans"
	"github.com/wxqr/wxqr/storage"
	"github.com/wxqr/wxqr/tasks"
)

func TestNewRefusesExposedAddrWithoutCredentials(t *testing.T) {
	// Nothing is dialled by New: unreachable dependencies do.
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = rdb.Close() })
	store, err := storage.NewDir(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	base := Config{
		RedisConnOpt: asynq.RedisClientOpt{Addr: "127.0.0.1:1"},
		Redis:        rdb, Store: store, Catalog: catalog.New(rdb, ""),
		// New only keeps the scan counts: a Store it never reads will do.
		Scans:  (*scans.Store)(nil),
		Pauses: tasks.NewPauses(rdb, nil),
	}
	with := func(change func(*Config)) Config {
		c := base
		change(&c)
		return c
	}
	tests := []struct {
		name    string
		cfg     Config
		wantErr string // "" = New succeeds
	}{
		{"default address", base, ""},
		{"loopback IPv4", with(func(c *Config) { c.Addr = "127.0.0.1:0" }), ""},
		{"loopback IPv6", with(func(c *Config) { c.Addr = "[::1]:0" }), ""},
		{"localhost", with(func(c *Config) { c.Addr = "localhost:8080" }), ""},
		{"all interfaces", with(func(c *Config) { c.Addr = ":8080" }), "without credentials"},
		{"any IPv4", with(func(c *Config) { c.Addr = "0.0.0.0:8080" }), "without credentials"},
		{"LAN address", with(func(c *Config) { c.Addr = "192.168.1.5:8080" }), "without credentials"},
		{"host name", with(func(c *Config) { c.Addr = "monitor.internal:8080" }), "without credentials"},
		{"exposed with credentials", with(func(c *Config) { c.Addr = "0.0.0.0:8080"; c.Username, c.Password = "ops", "s3cret" }), ""},
		{"username only", with(func(c *Config) { c.Username = "ops" }), "both a username and a password"},
		{"password only", with(func(c *Config) { c.Password = "s3cret" }), "both a username and a password"},
		{"no port", with(func(c *Config) { c.Addr = "127.0.0.1" }), "address"},
		{"no asynq Redis", with(func(c *Config) { c.RedisConnOpt = nil }), "RedisConnOpt is required"},
		{"no Redis", with(func(c *Config) { c.Redis = nil }), "Redis is required"},
		{"no store", with(func(c *Config) { c.Store = nil }), "Store is required"},
		{"no catalog", with(func(c *Config) { c.Catalog = nil }), "Catalog is required"},
		{"no scans", with(func(c *Config) { c.Scans = nil }), "Scans is required"},
		{"no pauses", with(func(c *Config) { c.Pauses = nil }), "Pauses is required"},
		{"negative window", with(func(c *Config) { c.ExpiringSoon = -time.Hour }), "ExpiringSoon"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := New(tt.cfg)
			if err == nil {
				t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("New: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("New: error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestStartShutdown(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Addr = "127.0.0.1:0" })
	if got := f.srv.Addr(); got != "" {
		t.Errorf("Addr before Start = %q, want empty", got)
	}
	if err := f.srv.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if err := f.srv.Start(t.Context()); err == nil {
		t.Error("second Start succeeded")
	}
	url := "http://" + f.srv.Addr() + "/healthz"
	resp, body := do(t, http.MethodGet, url, nil)
	if resp.StatusCode != http.StatusOK || string(body) != "ok\n" {
		t.Errorf("GET /healthz = %d %q, want 200 \"ok\\n\"", resp.StatusCode, body)
	}
	if err := f.srv.Shutdown(t.Context()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	if resp, err := client.Get(url); err == nil {
		resp.Body.Close()
		t.Errorf("GET after Shutdown answered %d", resp.StatusCode)
	}
}

// failingCheckStore is a store whose readiness check fails with an error
// naming a host, which /readyz must not repeat.
type failingCheckStore struct{ storage.Store }

func (failingCheckStore) Check(context.Context) error {
	return errors.New("storage: check: dial tcp private-host.internal:9000: connection refused")
}

func TestReadiness(t *testing.T) {
	tests := []struct {
		name      string
		configure func(*testing.T, *Config)
		wantCode  int
		want      readiness
	}{
		{"all up", nil, http.StatusOK, readiness{Redis: "ok", Storage: "ok"}},
		{"redis closed", func(t *testing.T, c *Config) {
			closed := redis.NewClient(&redis.Options{Addr: "private-host.internal:6379"})
			_ = closed.Close()
			c.Redis = closed
		}, http.StatusServiceUnavailable, readiness{Redis: "failed", Storage: "ok"}},
		{"storage failing", func(t *testing.T, c *Config) {
			c.Store = failingCheckStore{c.Store}
		}, http.StatusServiceUnavailable, readiness{Redis: "ok", Storage: "failed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(c *Config) {
				if tt.configure != nil {
					tt.configure(t, c)
				}
			})
			resp, body := f.get(t, "/readyz")
			if resp.StatusCode != tt.wantCode {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.wantCode)
			}
			var got readiness
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("body %q: %v", body, err)
			}
			if got != tt.want {
				t.Errorf("body %+v, want %+v", got, tt.want)
			}
			if strings.Contains(string(body), "private-host") {
				t.Errorf("body names a host: %s", body)
			}
			resp, _ = f.get(t, "/healthz")
			if resp.StatusCode != http.StatusOK {
				t.Errorf("/healthz = %d while not ready, want 200", resp.StatusCode)
			}
		})
	}
}

func TestBasicAuth(t *testing.T) {
	m, err := metrics.New(metrics.Config{})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, func(c *Config) {
		c.Addr = "0.0.0.0:8080" // exposed: the credentials are required
		c.Username, c.Password = "ops", "correct horse"
		c.Metrics = m.Handler()
	})
	creds := func(user, pass string) http.Header {
		req, _ := http.NewRequest(http.MethodGet, "/", nil)
		req.SetBasicAuth(user, pass)
		return req.Header
	}
	tests := []struct {
		path   string
		header http.Header
		want   int
	}{
		{"/healthz", nil, http.StatusOK},
		{"/readyz", nil, http.StatusUnauthorized},
		{"/metrics", nil, http.StatusUnauthorized},
		{"/campaigns", nil, http.StatusUnauthorized},
		{"/monitoring/", nil, http.StatusUnauthorized},
		{"/monitoring/api/queues", nil, http.StatusUnauthorized},
		{"/codes/x/image", nil, http.StatusUnauthorized},
		{"/campaigns", creds("ops", "wrong"), http.StatusUnauthorized},
		{"/campaigns", creds("someone", "correct horse"), http.StatusUnauthorized},
		{"/campaigns", creds("ops", "correct horse"), http.StatusOK},
		{"/readyz", creds("ops", "correct horse"), http.StatusOK},
		{"/metrics", creds("ops", "correct horse"), http.StatusOK},
		{"/monitoring/", creds("ops", "correct horse"), http.StatusOK},
		{"/monitoring/api/queues", creds("ops", "correct horse"), http.StatusOK},
	}
	for _, tt := range tests {
		name := tt.path
		if tt.header != nil {
			name += " with credentials"
		}
		t.Run(name, func(t *testing.T) {
			resp, _ := do(t, http.MethodGet, f.url+tt.path, tt.header)
			if resp.StatusCode != tt.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.want)
			}
			if tt.want == http.StatusUnauthorized && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
				t.Errorf("WWW-Authenticate = %q, want a Basic challenge", resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

// TestWrites: the asynq UI can pause a queue, unless read-only; pages of
// other sites can never make a browser do it.
func TestWrites(t *testing.T) {
	tests := []struct {
		name       string
		readOnly   bool
		header     http.Header
		wantPause  int
		wantPaused bool
		wantOwn    int // a POST to one of our own pages
	}{
		{"read-write", false, nil, http.StatusNoContent, true, http.StatusMethodNotAllowed},
		{"read-only", true, nil, http.StatusForbidden, false, http.StatusForbidden},
		{"cross-site", false, http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://attacker.example"}},
			http.StatusForbidden, false, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(c *Config) { c.ReadOnly = tt.readOnly })
			queue := enqueue(t, f.redisOpt, "wx-app-1", wxqr.ClassOATemp)

			resp, body := do(t, http.MethodPost, f.url+"/monitoring/api/queues/"+queue+":pause", tt.header)
			if resp.StatusCode != tt.wantPause {
				t.Errorf("POST pause: %d %s, want %d", resp.StatusCode, body, tt.wantPause)
			}
			if got := paused(t, f.redisOpt, queue); got != tt.wantPaused {
				t.Errorf("queue paused = %v, want %v", got, tt.wantPaused)
			}
			resp, body = do(t, http.MethodPost, f.url+"/campaigns", tt.header)
			if resp.StatusCode != tt.wantOwn {
				t.Errorf("POST /campaigns: %d %s, want %d", resp.StatusCode, body, tt.wantOwn)
			}
			resp, _ = f.get(t, "/monitoring/api/queues")
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET queues: %d, want 200", resp.StatusCode)
			}
		})
	}
}

// TestResumeInTheUI: the UI's resume button ends wxqr's pause record with
// asynq's flag, so that a timed pause resumed early and then paused by hand
// stays paused when its time comes.
func TestResumeInTheUI(t *testing.T) {
	ctx := t.Context()
	f := newFixture(t, nil)
	queue := enqueue(t, f.redisOpt, "wx-app-1", wxqr.ClassOATemp)
	inspector := asynq.NewInspector(f.redisOpt)
	t.Cleanup(func() { _ = inspector.Close() })
	pauses := tasks.NewPauses(f.rdb, inspector)
	at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	daily := tasks.PauseState{Queue: queue, AppID: "wx-app-1", Class: wxqr.ClassOATemp, Errcode: 45009,
		Reason: "daily quota", PausedAt: at, ResumeAt: at.Add(14 * time.Hour)}
	if _, err := pauses.Pause(ctx, daily); err != nil {
		t.Fatal(err)
	}

	resp, body := do(t, http.MethodPost, f.url+"/monitoring/api/queues/"+queue+":resume", nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("POST resume: %d %s, want 204", resp.StatusCode, body)
	}
	if paused(t, f.redisOpt, queue) {
		t.Error("queue still paused after the UI's resume")
	}
	if n, err := f.rdb.Exists(ctx, "wxqr:pause:queue:"+queue).Result(); err != nil || n != 0 {
		t.Errorf("pause record left after the UI's resume (%d, %v)", n, err)
	}

	// Paused by hand in the UI (asynq's own pause), then the old pause's time comes.
	resp, body = do(t, http.MethodPost, f.url+"/monitoring/api/queues/"+queue+":pause", nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("POST pause: %d %s, want 204", resp.StatusCode, body)
	}
	if resumed, err := pauses.ResumeDue(ctx, daily.ResumeAt.Add(time.Minute)); err != nil || len(resumed) != 0 {
		t.Errorf("ResumeDue = %+v, %v; want nothing resumed", resumed, err)
	}
	if !paused(t, f.redisOpt, queue) {
		t.Error("the pause by hand was undone")
	}

	// The UI's resume ends a pause by hand too.
	resp, body = do(t, http.MethodPost, f.url+"/monitoring/api/queues/"+queue+":resume", nil)
	if resp.StatusCode != http.StatusNoContent || paused(t, f.redisOpt, queue) {
		t.Errorf("POST resume of a pause by hand: %d %s, paused %v; want 204 and running", resp.StatusCode, body, paused(t, f.redisOpt, queue))
	}
}

// enqueue puts one generate task in the queue of app × class and returns
// the queue's name.
func enqueue(t *testing.T, opt asynq.RedisClientOpt, appID string, class wxqr.QuotaClass) string {
	t.Helper()
	client := asynq.NewClient(opt)
	defer client.Close()
	spec := wxqr.Spec{AppID: appID}
	switch class {
	case wxqr.ClassOATemp:
		spec.Kind, spec.SceneStr = wxqr.KindOATemp, "queued"
	case wxqr.ClassOAPerm:
		spec.Kind, spec.SceneID = wxqr.KindOAPerm, 1
	case wxqr.ClassWxaLimited:
		spec.Kind, spec.Path = wxqr.KindWxaQRCode, "pages/queued"
	default:
		spec.Kind, spec.SceneStr = wxqr.KindWxaUnlimited, "queued"
	}
	task, err := tasks.NewGenerateTask(tasks.GeneratePayload{Spec: spec, Campaign: "queued"})
	if err != nil {
		t.Fatal(err)
	}
	info, err := client.EnqueueContext(t.Context(), task)
	if err != nil {
		t.Fatal(err)
	}
	return info.Queue
}

func paused(t *testing.T, opt asynq.RedisClientOpt, queue string) bool {
	t.Helper()
	inspector := asynq.NewInspector(opt)
	defer inspector.Close()
	info, err := inspector.GetQueueInfo(queue)
	if err != nil {
		t.Fatal(err)
	}
	return info.Paused
}

func TestMetricsRoute(t *testing.T) {
	m, err := metrics.New(metrics.Config{})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, func(c *Config) { c.Metrics = m.Handler() })
	series := `wxqr_codes_generated_total{app_id="wx-app-1",kind="oa_temp"}`
	for want := range 3 {
		_, body := f.get(t, "/metrics")
		got := strings.Contains(string(body), series+" "+strconv.Itoa(want)+"\n")
		if want > 0 && !got {
			t.Errorf("after %d codes, /metrics lacks %s %d:\n%s", want, series, want, body)
		}
		m.CodeGenerated("wx-app-1", wxqr.KindOATemp)
	}

	// Without a Metrics handler there is no route.
	bare := newFixture(t, nil)
	if resp, _ := bare.get(t, "/metrics"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("/metrics without Metrics = %d, want 404", resp.StatusCode)
	}
}

func TestAsynqUI(t *testing.T) {
	f := newFixture(t, nil)
	queue := enqueue(t, f.redisOpt, "wx-app-1", wxqr.ClassOAPerm)

	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(f.url + "/monitoring")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode/100 != 3 || loc != "/monitoring/" {
		t.Errorf("GET /monitoring = %d to %q, want a redirect to /monitoring/", resp.StatusCode, loc)
	}

	resp, body := f.get(t, "/monitoring/queues/"+queue)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `<script src="/monitoring/static/js/`) {
		t.Errorf("UI page: %d\n%s", resp.StatusCode, body)
	}
	if regexp.MustCompile(`(src|href)="(https?:)?//`).Match(body) {
		t.Errorf("UI page loads from another site:\n%s", body)
	}
	if got, want := resp.Header.Get("Content-Length"), strconv.Itoa(len(body)); got != want {
		t.Errorf("Content-Length %s, body %s bytes", got, want)
	}

	resp, body = f.get(t, "/monitoring/api/queues")
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"queue":"`+queue+`"`) {
		t.Errorf("API queues: %d %s, want %s listed", resp.StatusCode, body, queue)
	}
}

func TestCampaignsPage(t *testing.T) {
	f := newFixture(t, nil)
	ctx := t.Context()
	odd := `spring/2025 <b>"&'`
	autumn := f.addCodes(t, "autumn", 3, wxqr.KindOATemp, 24*time.Hour) // expiring within 48 h
	// autumn asked for two more codes: one still queued, one failed.
	if err := f.catalog.Plan(ctx, "autumn", autumn[0].ID, autumn[1].ID, autumn[2].ID, "queued-id", "failed-id"); err != nil {
		t.Fatal(err)
	}
	if err := f.catalog.Fail(ctx, "autumn", "failed-id", "errcode 40097: invalid args"); err != nil {
		t.Fatal(err)
	}
	f.addCodes(t, odd, 2, wxqr.KindWxaQRCode, 0)
	expired := f.addCodes(t, "winter", 2, wxqr.KindOATemp, time.Hour)
	// Expired counts by UTC day: two days ago is expired whatever the hour.
	expired[0].ExpiresAt = time.Now().Add(-48 * time.Hour)
	if err := f.catalog.Put(ctx, expired[0]); err != nil {
		t.Fatal(err)
	}
	if err := f.catalog.Plan(ctx, "not started", "a", "b"); err != nil {
		t.Fatal(err)
	}

	resp, body := f.get(t, "/campaigns")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	page := string(body)
	tests := []struct {
		campaign string
		want     map[string]string
	}{
		{"autumn", map[string]string{"planned": "5", "generated": "3", "queued": "1", "failed": "1", "expiring-soon": "3", "expired": "0"}},
		{odd, map[string]string{"planned": "0", "generated": "2", "queued": "0", "failed": "0", "expiring-soon": "0", "expired": "0"}},
		{"winter", map[string]string{"generated": "2", "expiring-soon": "1", "expired": "1"}},
		{"not started", map[string]string{"planned": "2", "generated": "0", "queued": "2", "failed": "0"}},
	}
	for _, tt := range tests {
		t.Run(tt.campaign, func(t *testing.T) {
			row := campaignRowHTML(t, page, tt.campaign)
			for name, want := range tt.want {
				if got := count(row, name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
			path := campaignPath(tt.campaign)
			if !strings.Contains(row, `href="`+htmlEscape(path)+`/images.zip"`) {
				t.Errorf("row lacks a link to %s/images.zip:\n%s", path, row)
			}
			// The link leads to the campaign, with the same counts,
			// whatever its name holds.
			resp, body := f.get(t, path)
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "<h1>"+htmlEscape(tt.campaign)+"</h1>") {
				t.Fatalf("GET %s: %d\n%s", path, resp.StatusCode, body)
			}
			for name, want := range tt.want {
				if got := count(string(body), name); got != want {
					t.Errorf("campaign page: %s = %q, want %q", name, got, want)
				}
			}
		})
	}
	if strings.Contains(page, "<b>") {
		t.Errorf("campaign name not escaped:\n%s", page)
	}
	if got := resp.Header.Get("Content-Security-Policy"); !strings.Contains(got, "default-src 'none'") {
		t.Errorf("Content-Security-Policy = %q", got)
	}
	if resp, _ := f.get(t, "/campaigns/nothing-here"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown campaign: %d, want 404", resp.StatusCode)
	}
}

// campaignRowHTML returns the table row of campaign on the campaigns page.
func campaignRowHTML(t *testing.T, page, campaign string) string {
	t.Helper()
	start := strings.Index(page, `<tr data-campaign="`+htmlEscape(campaign)+`">`)
	if start < 0 {
		t.Fatalf("no row for %q:\n%s", campaign, page)
	}
	row, _, _ := strings.Cut(page[start:], "</tr>")
	return row
}

var countCell = regexp.MustCompile(`data-count="([a-z-]+)">(-?[0-9,]+)<`)

// count returns the count named name in an HTML fragment.
func count(fragment, name string) string {
	for _, m := range countCell.FindAllStringSubmatch(fragment, -1) {
		if m[1] == name {
			return m[2]
		}
	}
	return ""
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace(s)
}

func TestCampaignPagePaging(t *testing.T) {
	f := newFixture(t, nil)
	recs := f.addCodes(t, "big", 2*codesPerPage+1, wxqr.KindWxaQRCode, 0)
	var want []string
	for _, r := range recs {
		want = append(want, r.ID)
	}
	slices.Sort(want)
	imgSrc := regexp.MustCompile(`<img src="/codes/([0-9a-f]+)/image"`)
	link := func(body, rel string) string {
		m := regexp.MustCompile(`<a href="([^"]+)" rel="` + rel + `"`).FindStringSubmatch(body)
		if m == nil {
			return ""
		}
		return strings.ReplaceAll(m[1], "&amp;", "&")
	}
	page := func(t *testing.T, path string) (ids []string, body string) {
		t.Helper()
		resp, b := f.get(t, path)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", path, resp.StatusCode)
		}
		for _, m := range imgSrc.FindAllStringSubmatch(string(b), -1) {
			ids = append(ids, m[1])
		}
		if got := count(string(b), "generated"); got != "401" {
			t.Errorf("%s: generated %q, want 401", path, got)
		}
		return ids, string(b)
	}

	t.Run("next", func(t *testing.T) {
		var shown []string
		var sizes []int
		path := "/campaigns/big"
		for path != "" {
			ids, body := page(t, path)
			shown, sizes = append(shown, ids...), append(sizes, len(ids))
			path = link(body, "next")
		}
		if !slices.Equal(sizes, []int{codesPerPage, codesPerPage, 1}) {
			t.Errorf("pages of %v codes, want %d, %d, 1", sizes, codesPerPage, codesPerPage)
		}
		if !slices.Equal(shown, want) {
			t.Errorf("pages showed %d codes, not each code once in id order", len(shown))
		}
	})
	t.Run("previous", func(t *testing.T) {
		_, first := page(t, "/campaigns/big")
		_, second := page(t, link(first, "next"))
		ids, body := page(t, link(second, "next"))
		if !slices.Equal(ids, want[2*codesPerPage:]) {
			t.Fatalf("last page shows %v", ids)
		}
		if !strings.Contains(body, fmt.Sprintf("Codes %d–%d of", 2*codesPerPage+1, 2*codesPerPage+1)) {
			t.Errorf("last page does not say which codes it shows")
		}
		ids, body = page(t, link(body, "prev"))
		if !slices.Equal(ids, want[codesPerPage:2*codesPerPage]) {
			t.Errorf("previous page shows %d codes from %v, want the second page", len(ids), ids[:1])
		}
		prev := link(body, "prev")
		if prev != "/campaigns/big" {
			t.Errorf("the second page's previous link is %q, want the first page", prev)
		}
		if _, body = page(t, prev); link(body, "prev") != "" {
			t.Errorf("the first page has a previous link")
		}
	})
	t.Run("past the end", func(t *testing.T) {
		// "~" sorts after every cursor: those are URL-safe base64 or hex.
		ids, body := page(t, "/campaigns/big?after=~")
		if len(ids) != 0 || link(body, "next") != "" {
			t.Errorf("after the last code: %d codes, next %q", len(ids), link(body, "next"))
		}
	})
}

func TestImage(t *testing.T) {
	f := newFixture(t, nil)
	rec := f.addCodes(t, "c", 1, wxqr.KindOATemp, time.Hour)[0]
	obj, err := f.store.Get(t.Context(), rec.Spec.Key())
	if err != nil {
		t.Fatal(err)
	}

	resp, body := f.get(t, "/codes/"+rec.ID+"/image")
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, obj.Body) {
		t.Fatalf("GET image: %d, %d bytes, want 200 and the stored %d bytes", resp.StatusCode, len(body), len(obj.Body))
	}
	if got := resp.Header.Get("Content-Type"); got != "image/png" {
		t.Errorf("Content-Type %q, want image/png", got)
	}
	if got := resp.Header.Get("Content-Disposition"); got != "" {
		t.Errorf("Content-Disposition %q for a code without a name, want none", got)
	}
	etag := resp.Header.Get("ETag")
	resp, _ = do(t, http.MethodGet, f.url+"/codes/"+rec.ID+"/image", http.Header{"If-None-Match": {etag}})
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("with If-None-Match: %d, want 304", resp.StatusCode)
	}

	named := *rec
	named.Name = "门店 12: entrance"
	if err := f.catalog.Put(t.Context(), &named); err != nil {
		t.Fatal(err)
	}
	resp, _ = f.get(t, "/codes/"+rec.ID+"/image")
	disposition, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition"))
	if err != nil || disposition != "inline" || params["filename"] != "门店 12_ entrance.jpg" {
		t.Errorf("Content-Disposition %q (%v), want inline, saved as 门店 12_ entrance.jpg", resp.Header.Get("Content-Disposition"), err)
	}

	if resp, _ := f.get(t, "/codes/0123456789abcdef0123456789abcdef/image"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown code: %d, want 404", resp.StatusCode)
	}
	// A record whose image is not in the store.
	lost := *rec
	lost.Spec.SceneStr = "lost"
	lost.ID = lost.Spec.ID()
	if err := f.catalog.Put(t.Context(), &lost); err != nil {
		t.Fatal(err)
	}
	if resp, _ := f.get(t, "/codes/"+lost.ID+"/image"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("missing image: %d, want 404", resp.StatusCode)
	}
}

func TestManifest(t *testing.T) {
	f := newFixture(t, nil)
	name := "summer, \"2025\"/A"
	recs := f.addCodes(t, name, 7, wxqr.KindOATemp, time.Hour)
	f.addCodes(t, "other", 2, wxqr.KindOATemp, time.Hour)

	resp, body := f.get(t, campaignPath(name)+"/manifest.csv")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if got := resp.Header.Get("Content-Type"); got != "text/csv; charset=utf-8" {
		t.Errorf("Content-Type %q", got)
	}
	if got := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(got, "attachment;") || strings.Contains(got, "/") {
		t.Errorf("Content-Disposition %q", got)
	}
	rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(recs)+1 {
		t.Fatalf("%d lines, want %d records + header", len(rows), len(recs))
	}
	if rows[0][0] != "id" {
		t.Errorf("header %v", rows[0])
	}
	var got, want []string
	for _, row := range rows[1:] {
		got = append(got, row[0])
	}
	for _, r := range recs {
		want = append(want, r.ID)
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("ids %v, want %v", got, want)
	}
	if resp, _ := f.get(t, "/campaigns/nothing-here/manifest.csv"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown campaign: %d, want 404", resp.StatusCode)
	}
}

func TestImagesZip(t *testing.T) {
	f := newFixture(t, nil)
	recs := f.addCodes(t, "zipped", 12, wxqr.KindWxaQRCode, 0)
	f.addCodes(t, "other", 3, wxqr.KindWxaQRCode, 0)

	t.Run("every image", func(t *testing.T) {
		files := fetchZip(t, f.url+"/campaigns/zipped/images.zip")
		if len(files) != len(recs) {
			t.Errorf("%d files, want %d", len(files), len(recs))
		}
		for _, rec := range recs {
			obj, err := f.store.Get(t.Context(), rec.Spec.Key())
			if err != nil {
				t.Fatal(err)
			}
			if got, ok := files[rec.Spec.Key()]; !ok || !bytes.Equal(got, obj.Body) {
				t.Errorf("%s: in zip %v, same bytes %v", rec.Spec.Key(), ok, bytes.Equal(got, obj.Body))
			}
		}
	})
	t.Run("missing image listed", func(t *testing.T) {
		lost := *recs[0]
		lost.Spec.Path = "pages/lost"
		lost.ID = lost.Spec.ID()
		if err := f.catalog.Put(t.Context(), &lost); err != nil {
			t.Fatal(err)
		}
		files := fetchZip(t, f.url+"/campaigns/zipped/images.zip")
		if len(files) != len(recs)+1 || !strings.Contains(string(files["MISSING.txt"]), lost.Spec.Key()) {
			t.Errorf("%d files, MISSING.txt %q; want %d images and the lost key listed", len(files), files["MISSING.txt"], len(recs))
		}
	})
	t.Run("named codes", func(t *testing.T) {
		named := f.addCodes(t, "named", 5, wxqr.KindWxaQRCode, 0)
		for i, name := range []string{"Store 12", "Store 12", "store/12", "", "门店 12"} {
			named[i].Name = name
			if err := f.catalog.Put(t.Context(), named[i]); err != nil {
				t.Fatal(err)
			}
		}
		files := fetchZip(t, f.url+"/campaigns/named/images.zip")
		want := []string{"Store 12.jpg", "Store 12 (2).jpg", "store_12.jpg", named[3].Spec.Key(), "门店 12.jpg"}
		if got := slices.Sorted(maps.Keys(files)); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
			t.Errorf("files %q, want %q", got, want)
		}
		for _, i := range []int{2, 4} {
			obj, err := f.store.Get(t.Context(), named[i].Spec.Key())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(files[want[i]], obj.Body) {
				t.Errorf("%s does not hold the image of the code named %q", want[i], named[i].Name)
			}
		}
	})
	t.Run("HEAD sends the headers alone", func(t *testing.T) {
		resp, body := do(t, http.MethodHead, f.url+"/campaigns/zipped/images.zip", nil)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/zip" || len(body) != 0 {
			t.Errorf("HEAD: %d %q, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
	})
	t.Run("unknown campaign", func(t *testing.T) {
		if resp, _ := f.get(t, "/campaigns/nothing-here/images.zip"); resp.StatusCode != http.StatusNotFound {
			t.Errorf("status %d, want 404", resp.StatusCode)
		}
	})
}

// failingStore fails every Get after the first ok ones.
type failingStore struct {
	storage.Store
	mu sync.Mutex
	ok int
}

func (s *failingStore) Get(ctx context.Context, key string) (*storage.Object, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ok == 0 {
		return nil, errors.New("storage: get: connection reset by peer")
	}
	s.ok--
	return s.Store.Get(ctx, key)
}

// TestImagesZipStoreFailure: a zip that cannot be finished is never served
// as if it were complete.
func TestImagesZipStoreFailure(t *testing.T) {
	tests := []struct {
		name string
		ok   int // images read before the store fails
	}{
		{"before the first image", 0},
		// Enough to have sent part of the zip: the zip writer and the
		// server each buffer 4 KiB, and an image is about 400 bytes.
		{"mid-way", 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &failingStore{ok: tt.ok}
			f := newFixture(t, func(c *Config) {
				store.Store = c.Store
				c.Store = store
			})
			f.addCodes(t, "zipped", 40, wxqr.KindWxaQRCode, 0)

			resp, err := http.Get(f.url + "/campaigns/zipped/images.zip")
			if err == nil {
				defer resp.Body.Close()
				_, err = io.ReadAll(resp.Body)
			}
			if tt.ok == 0 {
				// Nothing was sent yet: an ordinary error answer.
				if err != nil || resp.StatusCode != http.StatusInternalServerError {
					t.Errorf("got %v, status %v; want a 500", err, resp)
				}
				return
			}
			// Part of the zip was sent: the download must fail, not end
			// as if the archive were whole.
			if err == nil {
				t.Errorf("the download ended cleanly (status %d) although the store failed mid-way", resp.StatusCode)
			}
		})
	}
}

// fetchZip downloads a zip and returns its files by name.
func fetchZip(t *testing.T, url string) map[string][]byte {
	t.Helper()
	resp, body := do(t, http.MethodGet, url, nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/zip" {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatalf("not a zip: %v", err)
	}
	files := make(map[string][]byte)
	for _, zf := range zr.File {
		rc, err := zf.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		files[zf.Name] = data
	}
	return files
}

func TestCampaignPath(t *testing.T) {
	tests := []struct{ name, want string }{
		{"spring", "/campaigns/spring"},
		{"a/b", "/campaigns/a%2Fb"},
		{"a b?c#d", "/campaigns/a%20b%3Fc%23d"},
		{"..", "/campaigns/%2E%2E"},
		{".", "/campaigns/%2E"},
		{"v1.2", "/campaigns/v1.2"},
		{"春季", "/campaigns/%E6%98%A5%E5%AD%A3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := campaignPath(tt.name); got != tt.want {
				t.Errorf("campaignPath(%q) = %q, want %q", tt.name, got, tt.want)
			}
		})
	}
}

func TestFormatCount(t *testing.T) {
	tests := []struct {
		n    int
		want string
	}{{0, "0"}, {999, "999"}, {1000, "1,000"}, {123456, "123,456"}, {1234567, "1,234,567"}, {-1234, "-1,234"}}
	for _, tt := range tests {
		if got := formatCount(tt.n); got != tt.want {
			t.Errorf("formatCount(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestAttachment(t *testing.T) {
	tests := []struct{ filename, want string }{
		{"spring.zip", "attachment; filename=spring.zip"},
		{"a/b\\c\n.csv", "attachment; filename=a_b_c_.csv"},
		{`say "hi".csv`, `attachment; filename="say \"hi\".csv"`},
		{"春季.zip", "attachment; filename*=utf-8''%E6%98%A5%E5%AD%A3.zip"},
	}
	for _, tt := range tests {
		t.Run(tt.filename, func(t *testing.T) {
			if got := attachment(tt.filename); got != tt.want {
				t.Errorf("attachment(%q) = %q, want %q", tt.filename, got, tt.want)
			}
		})
	}
}
