package monitor

import (
	"bytes"
	"encoding/csv"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/internal/testenv"
	"github.com/wxqr/wxqr/scans"
)

// beijing is Asia/Shanghai, where the scan counts' days end (no summer
// time there).
var beijing = time.FixedZone("CST", 8*3600)

// record records events with the fixture's scans store and fails the test
// unless each is attributed to a code.
func (f *fixture) record(t *testing.T, events ...scans.Event) {
	t.Helper()
	for _, ev := range events {
		out, err := f.scans.Record(t.Context(), ev)
		if err != nil {
			t.Fatalf("Record(%s %s): %v", ev.Type, ev.Key, err)
		}
		if out.CodeID == "" && ev.Type != scans.Unsubscribe {
			t.Fatalf("%s %s %v was not attributed", ev.Type, ev.Key, ev.Query)
		}
	}
}

// scan is a follower scanning the OA code of scene at t.
func scan(openid, scene string, t time.Time) scans.Event {
	return scans.Event{AppID: "wx-app-1", Type: scans.Scan, OpenID: openid, Time: t, Key: scene}
}

// follow is a new follower scanning the OA code of scene at t.
func follow(openid, scene string, t time.Time) scans.Event {
	return scans.Event{AppID: "wx-app-1", Type: scans.Subscribe, OpenID: openid, Time: t, Key: "qrscene_" + scene}
}

// scannedCampaigns puts two campaigns and their scans: spring's first code
// was scanned 3 times today and followed twice (one of them left), 2 times
// 3 days ago, and once 40 days ago (outside the chart); its second code
// once today; its third never. Evergreen's Mini Program code launched
// twice today.
func (f *fixture) scannedCampaigns(t *testing.T) (spring, evergreen []*wxqr.Record, today, threeDaysAgo time.Time) {
	t.Helper()
	spring = f.addCodes(t, "spring", 3, wxqr.KindOATemp, 24*time.Hour)
	evergreen = f.addCodes(t, "evergreen", 1, wxqr.KindWxaQRCode, 0)
	now := time.Now().Truncate(time.Second)
	today, threeDaysAgo = now.Add(-2*time.Second), now.AddDate(0, 0, -3)
	first, second := spring[0].SceneStr, spring[1].SceneStr
	f.record(t,
		follow("o-a", first, today), follow("o-b", first, today.Add(time.Second)), scan("o-c", first, now),
		scans.Event{AppID: "wx-app-1", Type: scans.Unsubscribe, OpenID: "o-b", Time: now},
		scan("o-a", first, threeDaysAgo), scan("o-d", first, threeDaysAgo.Add(time.Minute)),
		scan("o-e", first, now.AddDate(0, 0, -40)),
		scan("o-a", second, now),
	)
	launch := scans.Event{AppID: "wx-app-1", Type: scans.Launch, Path: "pages/index",
		Query: map[string]string{"c": "evergreen-0"}, LaunchScene: 1047}
	for i := range 2 {
		launch.Time = today.Add(time.Duration(i) * time.Second)
		f.record(t, launch)
	}
	return spring, evergreen, today, threeDaysAgo
}

func TestCampaignsPageScans(t *testing.T) {
	f := newFixture(t, nil)
	f.scannedCampaigns(t)
	f.addCodes(t, "quiet", 1, wxqr.KindOAPerm, 0)

	_, body := f.get(t, "/campaigns")
	tests := []struct {
		campaign string
		want     map[string]string
	}{
		{"spring", map[string]string{"scans": "7", "new-follows": "2", "net-follows": "1", "launches": "0"}},
		{"evergreen", map[string]string{"scans": "0", "new-follows": "0", "net-follows": "0", "launches": "2"}},
		{"quiet", map[string]string{"scans": "0", "new-follows": "0", "net-follows": "0", "launches": "0"}},
	}
	for _, tt := range tests {
		t.Run(tt.campaign, func(t *testing.T) {
			row := campaignRowHTML(t, string(body), tt.campaign)
			for name, want := range tt.want {
				if got := count(row, name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
		})
	}
}

var (
	dayRow    = regexp.MustCompile(`<tr data-day="([^"]+)"><th scope="row">[^<]+</th><td>([0-9,]+)</td><td>([0-9,]+)</td><td>([0-9,]+)</td></tr>`)
	topCodeID = regexp.MustCompile(`<tr data-top-code="([0-9a-f]+)">`)
)

func TestCampaignPageScans(t *testing.T) {
	f := newFixture(t, nil)
	spring, _, today, threeDaysAgo := f.scannedCampaigns(t)
	resp, body := f.get(t, "/campaigns/spring")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d\n%s", resp.StatusCode, body)
	}
	page := string(body)
	section, _, _ := strings.Cut(page[strings.Index(page, `<section aria-labelledby="scans-heading">`):], "</section>")

	t.Run("counts", func(t *testing.T) {
		want := map[string]string{"scans": "7", "new-follows": "2", "unfollows": "1", "net-follows": "1", "unique-scanners": "5", "launches": "0"}
		counts, _, _ := strings.Cut(section, "</dl>")
		for name, w := range want {
			if got := count(counts, name); got != w {
				t.Errorf("%s = %q, want %q", name, got, w)
			}
		}
	})

	t.Run("chart", func(t *testing.T) {
		for _, want := range []string{
			`role="img" aria-labelledby="chart-title chart-desc"`,
			`<title id="chart-title">Scans, new follows and launches per day, last 30 days</title>`,
			// 40 days ago is outside the chart.
			`: scans 6, new follows 2, launches 0. Most scans on ` + today.In(beijing).Format("Jan 2") + ` (4).`,
			`data-series="Scans"`, `data-series="New follows"`, `data-series="Launches"`,
		} {
			if !strings.Contains(section, want) {
				t.Errorf("chart lacks %s:\n%s", want, section)
			}
		}
		days := map[string][]string{}
		for _, m := range dayRow.FindAllStringSubmatch(section, -1) {
			days[m[1]] = m[2:]
		}
		if len(days) != chartDays {
			t.Errorf("table of numbers has %d days, want %d", len(days), chartDays)
		}
		wantDays := map[string]string{
			today.In(beijing).Format("Jan 2"):        "4 2 0",
			threeDaysAgo.In(beijing).Format("Jan 2"): "2 0 0",
		}
		for day, want := range wantDays {
			if got := strings.Join(days[day], " "); got != want {
				t.Errorf("%s: scans, new follows, launches %q, want %q", day, got, want)
			}
		}
	})

	t.Run("top codes", func(t *testing.T) {
		var ids []string
		for _, m := range topCodeID.FindAllStringSubmatch(section, -1) {
			ids = append(ids, m[1])
		}
		// The third code was never scanned: not ranked.
		if want := []string{spring[0].ID, spring[1].ID}; strings.Join(ids, " ") != strings.Join(want, " ") {
			t.Fatalf("top codes %v, want %v", ids, want)
		}
		first, _, _ := strings.Cut(section[strings.Index(section, `<tr data-top-code="`+spring[0].ID):], "</tr>")
		if !strings.Contains(first, ">"+spring[0].SceneStr+"</a>") || !strings.Contains(first, "oa_temp · wx-app-1") {
			t.Errorf("top code not named by its scene, kind and app:\n%s", first)
		}
		for name, want := range map[string]string{"scans": "6", "new-follows": "2", "unfollows": "1", "net-follows": "1", "unique-scanners": "5"} {
			if got := count(first, name); got != want {
				t.Errorf("top code %s = %q, want %q", name, got, want)
			}
		}
	})
}

func TestCampaignPageLaunches(t *testing.T) {
	f := newFixture(t, nil)
	_, evergreen, _, _ := f.scannedCampaigns(t)
	_, body := f.get(t, "/campaigns/evergreen")
	page := string(body)
	if !strings.Contains(page, `<tr data-top-code="`+evergreen[0].ID+`">`) {
		t.Fatalf("the launched code is not in the top codes:\n%s", page)
	}
	row, _, _ := strings.Cut(page[strings.Index(page, `<tr data-top-code="`+evergreen[0].ID):], "</tr>")
	if got := count(row, "launches"); got != "2" {
		t.Errorf("launches = %q, want 2", got)
	}
	if !strings.Contains(page, ": scans 0, new follows 0, launches 2.") {
		t.Errorf("chart summary lacks the launches:\n%s", page)
	}
}

func TestCampaignPageNoScans(t *testing.T) {
	f := newFixture(t, nil)
	f.addCodes(t, "quiet", 2, wxqr.KindOAPerm, 0)
	_, body := f.get(t, "/campaigns/quiet")
	page := string(body)
	for _, want := range []string{"No code of this campaign was scanned yet.", ": scans 0, new follows 0, launches 0."} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "Most scans on") {
		t.Errorf("a quiet campaign has a busiest day")
	}
}

// TestScansUnreadable: the catalog answers but the scan counts cannot be
// read: the pages fail whole rather than show zeros, without the error's
// details.
func TestScansUnreadable(t *testing.T) {
	down := testenv.UnreachableRedis(t)
	f := newFixture(t, func(c *Config) {
		store, err := scans.New(t.Context(), down, catalog.New(down, ""), scans.Config{OpenIDKey: []byte("a key for the test")})
		if err != nil {
			t.Fatal(err)
		}
		c.Scans = store
	})
	f.addCodes(t, "spring", 1, wxqr.KindOAPerm, 0)
	for _, path := range []string{"/campaigns", "/campaigns/spring", "/campaigns/spring/manifest.csv"} {
		resp, body := f.get(t, path)
		if resp.StatusCode != http.StatusInternalServerError || strings.Contains(string(body), down.Options().Addr) {
			t.Errorf("GET %s: %d %q; want 500 without the error's details", path, resp.StatusCode, body)
		}
	}
}

func TestManifestCounts(t *testing.T) {
	f := newFixture(t, nil)
	spring, _, _, _ := f.scannedCampaigns(t)
	_, body := f.get(t, "/campaigns/spring/manifest.csv")
	rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	header := rows[0]
	if got := strings.Join(header[len(header)-5:], ","); got != "scans,new_follows,unfollows,unique_scanners,launches" {
		t.Errorf("header ends in %s, want the scan counts", got)
	}
	want := map[string]string{spring[0].ID: "6 2 1 5 0", spring[1].ID: "1 0 0 1 0", spring[2].ID: "0 0 0 0 0"}
	if len(rows) != 1+len(want) {
		t.Fatalf("%d rows, want a header and %d codes", len(rows), len(want))
	}
	for _, row := range rows[1:] {
		if got := strings.Join(row[len(row)-5:], " "); got != want[row[0]] {
			t.Errorf("code %s: counts %s, want %s", row[0], got, want[row[0]])
		}
	}
}
