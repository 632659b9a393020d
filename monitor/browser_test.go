package monitor

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/hibiken/asynq"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/jobfile/jobfiletest"
	"github.com/wxqr/wxqr/tasks"
)

// chromium returns the headless browser to drive. Without one, the test
// is skipped locally and fails under CI=true, where ./scripts/test.sh
// installs it; WXQR_TEST_BROWSER=0 turns the browser tests off.
func chromium(t *testing.T) string {
	t.Helper()
	if os.Getenv("WXQR_TEST_BROWSER") == "0" {
		t.Skip("browser tests turned off (WXQR_TEST_BROWSER=0)")
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no Chromium found (apt-get install chromium)")
	}
	t.Skip("no Chromium found (apt-get install chromium, or run ./scripts/test.sh); skipping the browser test")
	return ""
}

// browser starts a headless chromium for the test, with a profile of its
// own, and returns its tab. It also returns the URLs of every request the
// tab made.
func browser(t *testing.T) (ctx context.Context, requests func() []string) {
	t.Helper()
	exe := chromium(t)
	profile := t.TempDir() // removed after the browser exits: clean-ups run last-in first-out
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
	)
	t.Cleanup(cancelAlloc)
	tab, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelTab)

	var mu sync.Mutex
	var urls []string
	if err := chromedp.Listen(tab, func(ev any) {
		if req, ok := ev.(*network.EventRequestWillBeSent); ok {
			mu.Lock()
			urls = append(urls, req.Request.URL)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return tab, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(urls)
	}
}

// screenshot saves the page for people to look at: kept with go test
// -artifacts, thrown away otherwise.
func screenshot(t *testing.T, tab context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(tab, chromedp.FullScreenshot(100)) // quality 100 makes a PNG
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(filepath.Join(t.ArtifactDir(), name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBrowser drives a real browser through the asynq UI and the campaign
// pages, as the people who use them do.
func TestBrowser(t *testing.T) {
	tab, requests := browser(t)
	f := newFixture(t, func(c *Config) { c.Addr = "127.0.0.1:0" })
	if err := f.srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	base := "http://" + f.srv.Addr()

	// Two apps, each with its two quota classes queued; one class paused
	// for the fleet, as a 45029 does.
	apps := map[string]wxqr.AppType{"wx-oa-app": wxqr.AppOA, "wx-mp-app": wxqr.AppMP}
	var queues []string
	for app, typ := range apps {
		for _, class := range typ.Classes() {
			queues = append(queues, enqueue(t, f.redisOpt, app, class))
		}
	}
	slices.Sort(queues)
	pausedQueue := tasks.QueueName("wx-oa-app", wxqr.ClassOAPerm)
	inspector := asynq.NewInspector(f.redisOpt)
	t.Cleanup(func() { _ = inspector.Close() })
	if _, err := tasks.NewPauses(f.rdb, inspector).Pause(t.Context(), tasks.PauseState{
		Queue: pausedQueue, AppID: "wx-oa-app", Class: wxqr.ClassOAPerm, Errcode: 45029,
		Reason: "lifetime quota of 100,000 codes spent (45029)", PausedAt: time.Now(),
	}); err != nil {
		t.Fatal(err)
	}

	const campaign = "Spring launch / 春季"
	recs := f.addCodes(t, campaign, 9, wxqr.KindOATemp, 24*time.Hour)
	// The campaign asked for three more: two still queued, one refused.
	planned := []string{"queued-1", "queued-2", "refused-1"}
	for _, rec := range recs {
		planned = append(planned, rec.ID)
	}
	if err := f.catalog.Plan(t.Context(), campaign, planned...); err != nil {
		t.Fatal(err)
	}
	if err := f.catalog.Fail(t.Context(), campaign, "refused-1", "errcode 40097: invalid args"); err != nil {
		t.Fatal(err)
	}
	f.addCodes(t, "Evergreen", 4, wxqr.KindWxaQRCode, 0)
	// The first code was scanned by three people today, two of them new
	// followers; the second by one.
	now := time.Now().Truncate(time.Second)
	f.record(t,
		follow("o-a", recs[0].SceneStr, now), follow("o-b", recs[0].SceneStr, now), scan("o-c", recs[0].SceneStr, now),
		scan("o-a", recs[1].SceneStr, now),
	)

	t.Run("asynq UI shows every queue and the paused one", func(t *testing.T) {
		if err := chromedp.Do(tab, chromedp.Navigate(base+"/monitoring/")); err != nil {
			t.Fatal(err)
		}
		// The dashboard lists the queues in a table: name, then state.
		const rowsJS = `Array.from(document.querySelectorAll("table tbody tr")).map(tr => Array.from(tr.cells).map(c => c.innerText.trim()))`
		if _, err := chromedp.Run(tab, chromedp.PollFunction[chromedp.Void](`(queues) => {
			const names = Array.from(document.querySelectorAll("table tbody tr")).map(tr => tr.cells[0].innerText.trim());
			return queues.every(q => names.includes(q));
		}`, chromedp.WithPollingArgs(queues), chromedp.WithPollingTimeout(30*time.Second))); err != nil {
			t.Fatalf("the queues never all showed: %v", err)
		}
		rows, err := chromedp.Run(tab, chromedp.Evaluate[[][]string](rowsJS))
		if err != nil {
			t.Fatal(err)
		}
		state := make(map[string]string)
		for _, row := range rows {
			if len(row) > 1 {
				state[row[0]] = row[1]
			}
		}
		for _, q := range queues {
			want := "run"
			if q == pausedQueue {
				want = "paused"
			}
			if state[q] != want {
				t.Errorf("queue %s shows %q, want %q (rows %q)", q, state[q], want, rows)
			}
		}
		if _, err := chromedp.Run(tab, chromedp.Evaluate[chromedp.Void](`document.querySelector("table").scrollIntoView()`)); err != nil {
			t.Fatal(err)
		}
		screenshot(t, tab, "queues.png")
	})

	t.Run("campaigns page shows the counts", func(t *testing.T) {
		if err := chromedp.Do(tab,
			chromedp.Navigate(base+"/campaigns"),
			chromedp.WaitVisible(chromedp.CSS(`tr[data-campaign="`+campaign+`"]`)),
		); err != nil {
			t.Fatal(err)
		}
		counts, err := chromedp.Run(tab, chromedp.Evaluate[map[string]map[string]string](`Object.fromEntries(
			Array.from(document.querySelectorAll("tr[data-campaign]")).map(tr => [tr.dataset.campaign,
				Object.fromEntries(Array.from(tr.querySelectorAll("[data-count]")).map(td => [td.dataset.count, td.innerText]))]))`))
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]map[string]string{
			campaign: {"planned": "12", "generated": "9", "queued": "2", "failed": "1", "expiring-soon": "9", "expired": "0", "retired": "0",
				"scans": "4", "new-follows": "2", "net-follows": "2", "launches": "0"},
			"Evergreen": {"planned": "0", "generated": "4", "queued": "0", "failed": "0", "expiring-soon": "0", "expired": "0", "retired": "0",
				"scans": "0", "new-follows": "0", "net-follows": "0", "launches": "0"},
		}
		for name, w := range want {
			for k, v := range w {
				if got := counts[name][k]; got != v {
					t.Errorf("%s %s = %q, want %q", name, k, got, v)
				}
			}
		}
		screenshot(t, tab, "campaigns.png")
	})

	t.Run("campaign page shows every thumbnail", func(t *testing.T) {
		// Follow the link, as a person would: the campaign's name must
		// survive the trip through the URL.
		if err := chromedp.Do(tab,
			chromedp.Click(chromedp.CSS(`tr[data-campaign="`+campaign+`"] td.name a`)),
			chromedp.WaitVisible(chromedp.CSS(`.grid`)),
		); err != nil {
			t.Fatal(err)
		}
		if _, err := chromedp.Run(tab, chromedp.Poll[chromedp.Void](
			`document.images.length > 0 && Array.from(document.images).every(img => img.complete)`,
			chromedp.WithPollingTimeout(30*time.Second))); err != nil {
			t.Fatalf("images never finished loading: %v", err)
		}
		widths, err := chromedp.Run(tab, chromedp.Evaluate[[]int](`Array.from(document.images).map(img => img.naturalWidth)`))
		if err != nil {
			t.Fatal(err)
		}
		if len(widths) != len(recs) {
			t.Errorf("%d images, want %d", len(widths), len(recs))
		}
		for i, w := range widths {
			if w <= 0 {
				t.Errorf("image %d did not load (naturalWidth %d)", i, w)
			}
		}
		heading, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector("h1").innerText`))
		if err != nil {
			t.Fatal(err)
		}
		if heading != campaign {
			t.Errorf("heading %q, want %q", heading, campaign)
		}
		screenshot(t, tab, "campaign.png")
	})

	t.Run("campaign page shows the scans and the chart", func(t *testing.T) {
		checkScanSection(t, tab, recs[0].ID, now)
		if _, err := chromedp.Run(tab, chromedp.Evaluate[chromedp.Void](`document.querySelector("#scans-heading").scrollIntoView()`)); err != nil {
			t.Fatal(err)
		}
		screenshot(t, tab, "campaign-scans.png")
	})

	t.Run("zip download holds every image", func(t *testing.T) {
		href, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector('a[href$="/images.zip"]').href`))
		if err != nil {
			t.Fatal(err)
		}
		files := fetchZip(t, href)
		for _, rec := range recs {
			if _, ok := files[rec.Spec.Key()]; !ok {
				t.Errorf("zip lacks %s", rec.Spec.Key())
			}
		}
		if len(files) != len(recs) {
			t.Errorf("zip has %d files, want %d", len(files), len(recs))
		}
	})

	t.Run("nothing was loaded from elsewhere", func(t *testing.T) {
		for _, u := range requests() {
			if !strings.HasPrefix(u, base+"/") && !strings.HasPrefix(u, "data:") {
				t.Errorf("the pages loaded %s", u)
			}
		}
	})
}

// scanSection is what the campaign page shows of its scans, as read in
// the browser.
type scanSection struct {
	Counts     map[string]string `json:"counts"`
	ChartWidth float64           `json:"chartWidth"`
	// Rises are, per line, how high it rises above the axis, in pixels.
	Rises     map[string]float64  `json:"rises"`
	Title     string              `json:"title"`
	Days      map[string][]string `json:"days"`
	TopCodes  []string            `json:"topCodes"`
	TableSeen bool                `json:"tableSeen"`
}

// checkScanSection checks the scans of the campaign page open in tab: its
// counts, a chart that is drawn and named, the numbers behind it (hidden
// from sight), and top the first of its top codes.
func checkScanSection(t *testing.T, tab context.Context, top string, today time.Time) {
	t.Helper()
	got, err := chromedp.Run(tab, chromedp.Evaluate[scanSection](`(() => {
		const section = document.querySelector('section[aria-labelledby="scans-heading"]');
		const svg = section.querySelector("figure.chart > svg");
		const axis = svg.querySelector("g.grid-lines line").getBoundingClientRect().bottom;
		const hidden = section.querySelector(".visually-hidden");
		const table = hidden.querySelector("table");
		return {
			counts: Object.fromEntries(Array.from(section.querySelectorAll("dl [data-count]")).map(dd => [dd.dataset.count, dd.innerText])),
			chartWidth: svg.getBoundingClientRect().width,
			rises: Object.fromEntries(Array.from(svg.querySelectorAll("polyline")).map(l => [l.dataset.series, axis - l.getBoundingClientRect().top])),
			title: svg.querySelector("title").textContent,
			days: Object.fromEntries(Array.from(table.querySelectorAll("tbody tr")).map(tr => [tr.dataset.day, Array.from(tr.cells).slice(1).map(c => c.textContent)])),
			topCodes: Array.from(section.querySelectorAll("tr[data-top-code]")).map(tr => tr.dataset.topCode),
			tableSeen: hidden.getBoundingClientRect().width > 1 || hidden.getBoundingClientRect().height > 1,
		};
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"scans": "4", "new-follows": "2", "unfollows": "0", "net-follows": "2", "unique-scanners": "3", "launches": "0"}
	for name, w := range want {
		if got.Counts[name] != w {
			t.Errorf("%s = %q, want %q", name, got.Counts[name], w)
		}
	}
	if got.ChartWidth < 600 {
		t.Errorf("chart %v px wide, want it across the page", got.ChartWidth)
	}
	// The scans line rises to the top of the axis today; the launches
	// line stays on it.
	if got.Rises["Scans"] < 100 || got.Rises["New follows"] < 20 || got.Rises["Launches"] > 3 {
		t.Errorf("lines rise %v px above the axis; want scans and new follows up, launches flat", got.Rises)
	}
	if !strings.HasPrefix(got.Title, "Scans, new follows and launches per day") {
		t.Errorf("chart title %q", got.Title)
	}
	day := today.In(beijing).Format("Jan 2")
	if len(got.Days) != chartDays || strings.Join(got.Days[day], " ") != "4 2 0" {
		t.Errorf("table of numbers: %d days, %s = %v; want %d days, 4 2 0", len(got.Days), day, got.Days[day], chartDays)
	}
	if got.TableSeen {
		t.Error("the table of numbers shows: it is for screen readers")
	}
	if len(got.TopCodes) != 2 || got.TopCodes[0] != top {
		t.Errorf("top codes %v, want 2 led by %s", got.TopCodes, top)
	}
}

// TestBrowserUpload uploads a campaign through the form of /campaigns, as
// a person does: a file with errors shows them; a valid one shows its
// pre-flight, and its confirmation leads to the campaign's page with the
// codes queued.
func TestBrowserUpload(t *testing.T) {
	tab, _ := browser(t)
	u := newUploadFixture(t, func(c *Config) { c.Addr = "127.0.0.1:0" })
	if err := u.srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	base := "http://" + u.srv.Addr()
	dir := t.TempDir()
	write := func(name string, contents []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, contents, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	invalid := append(slices.Clone(campaignRows[:2]), jobfiletest.InvalidRows[0].Row, jobfiletest.InvalidRows[6].Row)
	badFile := write("bad.xlsx", xlsxOf(t, invalid, "Codes"))
	goodFile := write("spring.csv", csvOf(t, campaignRows))

	// submit uploads file from the form of /campaigns and waits for what
	// shows sel.
	submit := func(t *testing.T, file, campaign, sheet, sel string) {
		t.Helper()
		actions := []chromedp.Action[chromedp.Void]{
			chromedp.Navigate(base + "/campaigns"),
			chromedp.WaitVisible(chromedp.CSS(`.upload form`)),
			chromedp.SetUploadFiles(chromedp.CSS(`input[name="file"]`), []string{file}),
			chromedp.SendKeys(chromedp.CSS(`input[name="campaign"]`), campaign),
		}
		if sheet != "" {
			actions = append(actions, chromedp.SendKeys(chromedp.CSS(`input[name="sheet"]`), sheet))
		}
		actions = append(actions, chromedp.Click(chromedp.CSS(`.upload button[type="submit"]`)))
		if err := chromedp.Do(tab, actions...); err != nil {
			t.Fatal(err)
		}
		wait, cancel := context.WithTimeout(tab, 20*time.Second)
		err := chromedp.Do(wait, chromedp.WaitVisible(chromedp.CSS(sel)))
		cancel()
		if err != nil {
			text, _ := chromedp.Run(tab, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
			t.Fatalf("%s never showed: %v; the page:\n%s", sel, err, text)
		}
	}

	t.Run("invalid file shows its errors", func(t *testing.T) {
		submit(t, badFile, "spring", "Codes", `table[data-errors]`)
		rows, err := chromedp.Run(tab, chromedp.Evaluate[[]string](
			`Array.from(document.querySelectorAll("table[data-errors] tbody tr")).map(tr => tr.innerText.replace(/\s+/g, " ").trim())`))
		if err != nil {
			t.Fatal(err)
		}
		want := []string{
			"Codes!4 " + jobfiletest.InvalidRows[0].WantField + ": ",
			"Codes!5 " + jobfiletest.InvalidRows[6].WantField + ": ",
		}
		if len(rows) != len(want) || !strings.HasPrefix(rows[0], want[0]) || !strings.HasPrefix(rows[1], want[1]) {
			t.Errorf("errors listed %q, want rows starting %q", rows, want)
		}
		screenshot(t, tab, "upload-errors.png")
		if got := u.queued(t); len(got) != 0 {
			t.Errorf("queued %v, want nothing", got)
		}
	})

	t.Run("valid file is queued on confirmation", func(t *testing.T) {
		submit(t, goodFile, "spring", "", `table[data-preflight]`)
		screenshot(t, tab, "upload-preflight.png")
		if err := chromedp.Do(tab,
			chromedp.Click(chromedp.CSS(`form.confirm button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(`p.notice`)),
		); err != nil {
			t.Fatal(err)
		}
		notice, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS(`p.notice`)))
		if err != nil {
			t.Fatal(err)
		}
		planned, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS(`dd[data-count="planned"]`)))
		if err != nil {
			t.Fatal(err)
		}
		title, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS(`main h1`)))
		if err != nil {
			t.Fatal(err)
		}
		if title != "spring" || planned != "5" || !strings.Contains(notice, "Queued 5 codes") {
			t.Errorf("after the confirmation: page %q, planned %q, notice %q; want spring's page, 5 planned, 5 queued", title, planned, notice)
		}
		screenshot(t, tab, "upload-queued.png")
		if got, want := u.queued(t), taskIDs(t, campaignRows, "spring"); !slices.Equal(got, want) {
			t.Errorf("queued %v, want %v", got, want)
		}
	})
}
