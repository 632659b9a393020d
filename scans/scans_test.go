package scans_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/internal/testenv"
	"github.com/wxqr/wxqr/scans"
)

const (
	oaApp = "wxoa0001"
	mpApp = "wxmp0001"
)

// morning is 10:00 in Shanghai, the time most test events happen.
var morning = time.Date(2025, 3, 1, 2, 0, 0, 0, time.UTC)

// fixture is a store and its catalog on a Redis database of the test's own.
type fixture struct {
	store *scans.Store
	cat   *catalog.Catalog
	rdb   *redis.Client
}

func newFixture(t *testing.T, cfg scans.Config) fixture {
	t.Helper()
	rdb := testenv.Redis(t)
	cat := catalog.New(rdb, "")
	store, err := scans.New(t.Context(), rdb, cat, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return fixture{store, cat, rdb}
}

func (f fixture) put(t *testing.T, recs ...*wxqr.Record) {
	t.Helper()
	for _, rec := range recs {
		if err := f.cat.Put(t.Context(), rec); err != nil {
			t.Fatalf("Put(%s): %v", rec.ID, err)
		}
	}
}

func (f fixture) record(t *testing.T, ev scans.Event) scans.Outcome {
	t.Helper()
	out, err := f.store.Record(t.Context(), ev)
	if err != nil {
		t.Fatalf("Record(%s %q): %v", ev.Type, ev.Key, err)
	}
	return out
}

func (f fixture) codeCounts(t *testing.T, id string) scans.Counts {
	t.Helper()
	counts, err := f.store.Codes(t.Context(), []string{id})
	if err != nil {
		t.Fatalf("Codes: %v", err)
	}
	return counts[0]
}

func (f fixture) campaignCounts(t *testing.T, name string) scans.Counts {
	t.Helper()
	counts, err := f.store.Campaigns(t.Context(), []string{name})
	if err != nil {
		t.Fatalf("Campaigns: %v", err)
	}
	return counts[0]
}

// oaCode returns an Official Account code of oaApp; a temporary one expires
// in a week, so that its ticket is still indexed.
func oaCode(kind wxqr.Kind, sceneID int64, sceneStr, campaign, ticket string) *wxqr.Record {
	spec := wxqr.Spec{Kind: kind, AppID: oaApp, SceneID: sceneID, SceneStr: sceneStr}
	rec := &wxqr.Record{ID: spec.ID(), Spec: spec, Campaign: campaign, Ticket: ticket, CreatedAt: morning, Generation: 1}
	if kind.Temporary() {
		rec.ExpiresAt = time.Now().Add(7 * 24 * time.Hour)
	}
	return rec
}

// mpCode returns a Mini Program code of mpApp.
func mpCode(kind wxqr.Kind, scene, path, campaign string) *wxqr.Record {
	spec := wxqr.Spec{Kind: kind, AppID: mpApp, SceneStr: scene, Path: path}
	return &wxqr.Record{ID: spec.ID(), Spec: spec, Campaign: campaign, CreatedAt: morning, Generation: 1}
}

func scan(openID string, at time.Time, scene, ticket string) scans.Event {
	return scans.Event{AppID: oaApp, Type: scans.Scan, OpenID: openID, Time: at, Key: scene, Ticket: ticket}
}

func subscribe(openID string, at time.Time, scene, ticket string) scans.Event {
	key := ""
	if scene != "" {
		key = "qrscene_" + scene
	}
	return scans.Event{AppID: oaApp, Type: scans.Subscribe, OpenID: openID, Time: at, Key: key, Ticket: ticket}
}

func unsubscribe(openID string, at time.Time) scans.Event {
	return scans.Event{AppID: oaApp, Type: scans.Unsubscribe, OpenID: openID, Time: at}
}

func TestNewValidatesConfig(t *testing.T) {
	rdb := testenv.Redis(t)
	cat := catalog.New(rdb, "")
	tests := []struct {
		name    string
		cfg     scans.Config
		wantErr bool
	}{
		{"zero", scans.Config{}, false},
		{"a configured key", scans.Config{OpenIDKey: []byte("0123456789abcdef")}, false},
		{"a short key", scans.Config{OpenIDKey: []byte("short")}, true},
		{"a negative retention", scans.Config{Retention: -time.Hour}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := scans.New(t.Context(), rdb, cat, tt.cfg)
			if (err != nil) != tt.wantErr {
				t.Errorf("New(%+v) error = %v, want error: %v", tt.cfg, err, tt.wantErr)
			}
		})
	}
	t.Run("no client", func(t *testing.T) {
		if _, err := scans.New(t.Context(), nil, cat, scans.Config{}); err == nil {
			t.Error("New(nil client) succeeded")
		}
	})
}

func TestConfigWithDefaults(t *testing.T) {
	got := scans.Config{}.WithDefaults()
	if got.Prefix != "wxqr:" || got.Retention != 90*24*time.Hour || got.OpenIDKey != nil {
		t.Errorf("WithDefaults() = %+v, want prefix wxqr:, 90 days, no key (New reads it)", got)
	}
}

func TestAttribution(t *testing.T) {
	f := newFixture(t, scans.Config{})
	first := oaCode(wxqr.KindOATemp, 0, "spring", "posters", "gQFirstGenerationTicket+/=")
	f.put(t, first)
	second := *first
	second.Generation, second.Ticket = 2, "gQSecondGenerationTicket+/="
	f.put(t, &second)
	tempSeven := oaCode(wxqr.KindOATemp, 7, "", "posters", "gQTempSeven")
	permSeven := oaCode(wxqr.KindOAPerm, 7, "", "stores", "gQPermSeven")
	perm8 := oaCode(wxqr.KindOAPerm, 8, "", "stores", "gQPermEight")
	leadingZero := oaCode(wxqr.KindOAPerm, 0, "08", "stores", "gQLeadingZero")
	f.put(t, tempSeven, permSeven, perm8, leadingZero)

	otherApp := oaCode(wxqr.KindOAPerm, 9, "", "elsewhere", "gQOtherApp")
	otherApp.AppID = "wxoa0002"
	otherApp.ID = otherApp.Spec.ID()
	f.put(t, otherApp)

	tests := []struct {
		name string
		ev   scans.Event
		want string // the code id; "" for unattributed
	}{
		{"the first generation's ticket", scan("u1", morning, "spring", first.Ticket), first.ID},
		{"the second generation's ticket", scan("u2", morning, "spring", second.Ticket), first.ID},
		{"a new follower, by ticket", subscribe("u3", morning, "spring", second.Ticket), first.ID},
		{"the scene without a ticket", scan("u4", morning, "spring", ""), first.ID},
		{"a shared scene: the permanent ticket decides", scan("u5", morning, "7", permSeven.Ticket), permSeven.ID},
		{"a shared scene: the temporary ticket decides", scan("u6", morning, "7", tempSeven.Ticket), tempSeven.ID},
		{"a shared scene without a ticket", scan("u7", morning, "7", ""), ""},
		{"a scene_id without a ticket", scan("u8", morning, "8", ""), perm8.ID},
		{"a scene with a leading zero is a scene_str", scan("u9", morning, "08", ""), leadingZero.ID},
		{"an unknown ticket with a known scene", scan("u10", morning, "spring", "gQNeverMadeByWxqr"), ""},
		{"another app's ticket", scan("u11", morning, "9", otherApp.Ticket), ""},
		{"an unknown scene", scan("u12", morning, "summer", ""), ""},
		{"a follow from elsewhere", subscribe("u13", morning, "", ""), ""},
		{"a subscribe whose key is no scene", scans.Event{AppID: oaApp, Type: scans.Subscribe, OpenID: "u14", Time: morning, Key: "last_trade_no_4200"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := f.record(t, tt.ev)
			if got.Duplicate || got.CodeID != tt.want {
				t.Errorf("Record() = %+v, want code %q", got, tt.want)
			}
		})
	}
	t.Run("the outcome names the campaign", func(t *testing.T) {
		got := f.record(t, scan("u15", morning, "8", perm8.Ticket))
		if got.Campaign != "stores" {
			t.Errorf("Record().Campaign = %q, want stores", got.Campaign)
		}
	})
}

func TestCounts(t *testing.T) {
	f := newFixture(t, scans.Config{})
	code := oaCode(wxqr.KindOAPerm, 1, "", "posters", "gQOne")
	other := oaCode(wxqr.KindOAPerm, 2, "", "posters", "gQTwo")
	f.put(t, code, other)

	f.record(t, subscribe("alice", morning, "1", code.Ticket))
	f.record(t, scan("alice", morning.Add(time.Minute), "1", code.Ticket))
	f.record(t, scan("bob", morning.Add(2*time.Minute), "1", code.Ticket))
	f.record(t, subscribe("carol", morning.Add(3*time.Minute), "2", other.Ticket))
	f.record(t, scan("stranger", morning, "404", "")) // unattributed: counted nowhere but the events

	t.Run("code", func(t *testing.T) {
		want := scans.Counts{Scans: 3, NewFollows: 1, UniqueScanners: 2}
		if got := f.codeCounts(t, code.ID); got != want {
			t.Errorf("code counts = %+v, want %+v", got, want)
		}
	})
	t.Run("campaign", func(t *testing.T) {
		want := scans.Counts{Scans: 4, NewFollows: 2, UniqueScanners: 3}
		if got := f.campaignCounts(t, "posters"); got != want {
			t.Errorf("campaign counts = %+v, want %+v", got, want)
		}
	})
	t.Run("unknown ids and campaigns count zero, in order", func(t *testing.T) {
		got, err := f.store.Codes(t.Context(), []string{"none", code.ID})
		if err != nil || len(got) != 2 || got[0] != (scans.Counts{}) || got[1].Scans != 3 {
			t.Errorf("Codes(none, code) = %+v, %v; want zero, then 3 scans", got, err)
		}
		if got := f.campaignCounts(t, "nothing"); got != (scans.Counts{}) {
			t.Errorf("Campaigns(nothing) = %+v, want zero", got)
		}
	})
}

func TestDuplicates(t *testing.T) {
	f := newFixture(t, scans.Config{})
	code := oaCode(wxqr.KindOAPerm, 1, "", "posters", "gQOne")
	f.put(t, code)
	ev := subscribe("alice", morning, "1", code.Ticket)

	if got := f.record(t, ev); got.Duplicate || got.CodeID != code.ID {
		t.Fatalf("first delivery: Record() = %+v, want counted on %s", got, code.ID)
	}
	for i := range 2 {
		if got := f.record(t, ev); !got.Duplicate {
			t.Errorf("retry %d: Record() = %+v, want a duplicate", i+1, got)
		}
	}
	later := ev
	later.Time = ev.Time.Add(time.Second)
	if got := f.record(t, later); got.Duplicate {
		t.Errorf("a later event: Record() = %+v, want it counted", got)
	}
	unattributed := scan("bob", morning, "404", "")
	f.record(t, unattributed)
	if got := f.record(t, unattributed); !got.Duplicate {
		t.Errorf("an unattributed retry: Record() = %+v, want a duplicate", got)
	}

	if got := f.codeCounts(t, code.ID); got.Scans != 2 || got.NewFollows != 2 {
		t.Errorf("code counts = %+v, want 2 scans and 2 new follows", got)
	}
	totals, err := f.store.EventTotals(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := []scans.EventTotal{
		{AppID: oaApp, Event: scans.Scan, Attributed: false, N: 1},
		{AppID: oaApp, Event: scans.Subscribe, Attributed: true, N: 2},
	}
	if fmt.Sprint(totals) != fmt.Sprint(want) {
		t.Errorf("EventTotals() = %+v, want %+v", totals, want)
	}
}

func TestFollows(t *testing.T) {
	const retention = 36 * time.Hour
	f := newFixture(t, scans.Config{Retention: retention})
	code := oaCode(wxqr.KindOAPerm, 1, "", "posters", "gQOne")
	f.put(t, code)

	t.Run("an attributed follow's unfollow", func(t *testing.T) {
		f.record(t, subscribe("alice", morning, "1", code.Ticket))
		got := f.record(t, unsubscribe("alice", morning.Add(time.Hour)))
		if got.CodeID != code.ID || got.Campaign != "posters" {
			t.Errorf("Record(unsubscribe) = %+v, want attributed to %s in posters", got, code.ID)
		}
		c := f.codeCounts(t, code.ID)
		if c.NewFollows != 1 || c.Unfollows != 1 || c.NetFollows() != 0 {
			t.Errorf("code counts = %+v, want 1 new follow and 1 unfollow", c)
		}
		if got := f.record(t, unsubscribe("alice", morning.Add(2*time.Hour))); got.CodeID != "" {
			t.Errorf("a second unsubscribe: Record() = %+v, want unattributed (the follow ended)", got)
		}
	})
	t.Run("the follow is kept for the retention", func(t *testing.T) {
		f.record(t, subscribe("bob", morning, "1", code.Ticket))
		keys, err := f.rdb.Keys(t.Context(), "wxqr:scan:follow:"+oaApp+":*").Result()
		if err != nil || len(keys) != 1 {
			t.Fatalf("follow keys = %q, %v; want one", keys, err)
		}
		ttl, err := f.rdb.PTTL(t.Context(), keys[0]).Result()
		if err != nil || ttl <= retention-time.Minute || ttl > retention {
			t.Errorf("follow key TTL = %s, %v; want about %s", ttl, err, retention)
		}
	})
	t.Run("an unattributed follow's unfollow is not counted", func(t *testing.T) {
		f.record(t, subscribe("carol", morning, "404", ""))
		if got := f.record(t, unsubscribe("carol", morning.Add(time.Hour))); got.CodeID != "" {
			t.Errorf("Record(unsubscribe) = %+v, want unattributed", got)
		}
	})
	t.Run("a later follow from elsewhere ends the attributed one", func(t *testing.T) {
		f.record(t, subscribe("dave", morning, "1", code.Ticket))
		// dave's unsubscribe never arrived; he follows again from a search.
		f.record(t, subscribe("dave", morning.Add(time.Hour), "", ""))
		if got := f.record(t, unsubscribe("dave", morning.Add(2*time.Hour))); got.CodeID != "" {
			t.Errorf("Record(unsubscribe) = %+v, want unattributed", got)
		}
	})
	t.Run("the unfollow counts in the code's campaign as recorded now", func(t *testing.T) {
		f.record(t, subscribe("erin", morning, "1", code.Ticket))
		moved := *code
		moved.Campaign = "summer"
		f.put(t, &moved)
		if got := f.record(t, unsubscribe("erin", morning.Add(time.Hour))); got.Campaign != "summer" {
			t.Errorf("Record(unsubscribe) = %+v, want campaign summer", got)
		}
		if c := f.campaignCounts(t, "summer"); c.Unfollows != 1 || c.NewFollows != 0 {
			t.Errorf("summer counts = %+v, want 1 unfollow", c)
		}
	})
	if c := f.codeCounts(t, code.ID); c.NewFollows != 4 || c.Unfollows != 2 {
		t.Errorf("code counts at the end = %+v, want 4 new follows and 2 unfollows", c)
	}
}

func TestTheOpenIDKeyIsSharedByTheFleet(t *testing.T) {
	f := newFixture(t, scans.Config{})
	code := oaCode(wxqr.KindOAPerm, 1, "", "posters", "gQOne")
	f.put(t, code)
	other, err := scans.New(t.Context(), f.rdb, f.cat, scans.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Campaigns(t.Context(), []string{"posters"}); err != nil {
		t.Fatal(err)
	}
	if n := f.rdb.Exists(t.Context(), "wxqr:scan:key").Val(); n != 0 {
		t.Error("reading counts created the openid key: only recording needs it")
	}
	f.record(t, subscribe("alice", morning, "1", code.Ticket))
	got, err := other.Record(t.Context(), unsubscribe("alice", morning.Add(time.Hour)))
	if err != nil || got.CodeID != code.ID {
		t.Errorf("another store's Record(unsubscribe) = %+v, %v; want attributed to %s", got, err, code.ID)
	}

	configured, err := scans.New(t.Context(), f.rdb, f.cat, scans.Config{OpenIDKey: []byte("a key of the configuration")})
	if err != nil {
		t.Fatal(err)
	}
	f.record(t, subscribe("bob", morning, "1", code.Ticket))
	got, err = configured.Record(t.Context(), unsubscribe("bob", morning.Add(time.Hour)))
	if err != nil || got.CodeID != "" {
		t.Errorf("with another key, Record(unsubscribe) = %+v, %v; want unattributed (the hashes differ)", got, err)
	}
}

func TestDays(t *testing.T) {
	f := newFixture(t, scans.Config{})
	code := oaCode(wxqr.KindOAPerm, 1, "", "posters", "gQOne")
	f.put(t, code)
	// China has kept UTC+8 since 1991: the same midnights as Asia/Shanghai,
	// without a zone database.
	shanghai := time.FixedZone("UTC+8", 8*60*60)
	midnight := time.Date(2025, 3, 2, 0, 0, 0, 0, shanghai)
	f.record(t, scan("alice", midnight.Add(-time.Second), "1", code.Ticket))
	f.record(t, subscribe("bob", midnight.Add(-time.Second), "1", code.Ticket))
	f.record(t, scan("alice", midnight, "1", code.Ticket))
	f.record(t, unsubscribe("bob", midnight.AddDate(0, 0, 2)))

	// Asked for in UTC: the days are still Shanghai's.
	days, err := f.store.Days(t.Context(), "posters", midnight.AddDate(0, 0, -2).UTC(), midnight.AddDate(0, 0, 2).UTC())
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		date   string
		counts scans.Counts
	}{
		{"2025-02-28", scans.Counts{}},
		{"2025-03-01", scans.Counts{Scans: 2, NewFollows: 1}},
		{"2025-03-02", scans.Counts{Scans: 1}},
		{"2025-03-03", scans.Counts{}},
		{"2025-03-04", scans.Counts{Unfollows: 1}},
	}
	if len(days) != len(want) {
		t.Fatalf("Days() = %d days, want %d: %+v", len(days), len(want), days)
	}
	for i, w := range want {
		d := days[i]
		if got := d.Date.In(shanghai).Format(time.DateTime); got != w.date+" 00:00:00" {
			t.Errorf("day %d: Date = %s, want %s 00:00:00 in Shanghai", i, got, w.date)
		}
		if d.Counts != w.counts {
			t.Errorf("day %s: counts = %+v, want %+v", w.date, d.Counts, w.counts)
		}
	}
	t.Run("to before from", func(t *testing.T) {
		if days, err := f.store.Days(t.Context(), "posters", midnight, midnight.AddDate(0, 0, -1)); err != nil || len(days) != 0 {
			t.Errorf("Days(backwards) = %v, %v; want none", days, err)
		}
	})
	t.Run("too many days", func(t *testing.T) {
		if _, err := f.store.Days(t.Context(), "posters", midnight, midnight.AddDate(0, 0, scans.MaxDays)); err == nil {
			t.Errorf("Days(%d days) succeeded, want an error", scans.MaxDays+1)
		}
	})
}

func TestLaunches(t *testing.T) {
	f := newFixture(t, scans.Config{})
	unlimited := mpCode(wxqr.KindWxaUnlimited, "store=12", "pages/store", "stores")
	byPath := mpCode(wxqr.KindWxaCode, "", "pages/item?id=3&from=poster", "stores")
	f.put(t, unlimited, byPath)
	launch := func(page string, query map[string]string) scans.Event {
		return scans.Event{AppID: mpApp, Type: scans.Launch, Time: morning, Path: page, Query: query, LaunchScene: 1047}
	}
	tests := []struct {
		name string
		ev   scans.Event
		want string
	}{
		{"by scene, URL-encoded as onLaunch gets it", launch("pages/store", map[string]string{"scene": "store%3D12"}), unlimited.ID},
		{"by path, query in another order", launch("pages/item", map[string]string{"from": "poster", "id": "3"}), byPath.ID},
		{"the same launch again is another launch", launch("pages/item", map[string]string{"id": "3", "from": "poster"}), byPath.ID},
		{"an unknown scene", launch("pages/store", map[string]string{"scene": "store=13"}), ""},
		{"another app", scans.Event{AppID: "wxmp0002", Type: scans.Launch, Time: morning, Path: "pages/store", Query: map[string]string{"scene": "store=12"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := f.record(t, tt.ev); got.Duplicate || got.CodeID != tt.want {
				t.Errorf("Record(launch) = %+v, want code %q", got, tt.want)
			}
		})
	}
	if c := f.codeCounts(t, byPath.ID); c != (scans.Counts{Launches: 2}) {
		t.Errorf("path code counts = %+v, want 2 launches and nothing else", c)
	}
	if c := f.campaignCounts(t, "stores"); c != (scans.Counts{Launches: 3}) {
		t.Errorf("campaign counts = %+v, want 3 launches", c)
	}
	top, err := f.store.Top(t.Context(), "stores", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(top) != 2 || top[0].ID != byPath.ID || top[0].Launches != 2 || top[1].ID != unlimited.ID {
		t.Errorf("Top() = %+v, want the path code (2 launches), then the scene code", top)
	}
}

func TestTop(t *testing.T) {
	f := newFixture(t, scans.Config{})
	var codes []*wxqr.Record
	for i := range 4 {
		codes = append(codes, oaCode(wxqr.KindOAPerm, int64(i+1), "", "posters", fmt.Sprintf("gQ%d", i+1)))
	}
	noCampaign := oaCode(wxqr.KindOAPerm, 99, "", "", "gQ99")
	f.put(t, append(codes, noCampaign)...)
	// Code i is scanned 2(i+1) times; a new follow by scanning is a scan.
	for i, code := range codes {
		for n := range 2 * (i + 1) {
			f.record(t, scan(fmt.Sprintf("user%d", n), morning.Add(time.Duration(i)*time.Minute), code.Scene(), code.Ticket))
		}
	}
	f.record(t, subscribe("newcomer", morning, codes[2].Scene(), codes[2].Ticket))
	f.record(t, scan("alice", morning, "99", noCampaign.Ticket))

	tests := []struct {
		n    int
		want []string
	}{
		{2, []string{codes[3].ID, codes[2].ID}},
		{10, []string{codes[3].ID, codes[2].ID, codes[1].ID, codes[0].ID}},
		{0, nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.n), func(t *testing.T) {
			top, err := f.store.Top(t.Context(), "posters", tt.n)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, c := range top {
				ids = append(ids, c.ID)
			}
			if fmt.Sprint(ids) != fmt.Sprint(tt.want) {
				t.Errorf("Top(%d) = %q, want %q", tt.n, ids, tt.want)
			}
			if len(top) > 1 && top[1].Counts != (scans.Counts{Scans: 7, NewFollows: 1, UniqueScanners: 7}) {
				t.Errorf("Top(%d)[1] counts = %+v, want 7 scans, 1 new follow, 7 scanners", tt.n, top[1].Counts)
			}
		})
	}
	if c := f.codeCounts(t, noCampaign.ID); c.Scans != 1 {
		t.Errorf("a code without a campaign: counts = %+v, want 1 scan", c)
	}
}

func TestEventTotals(t *testing.T) {
	f := newFixture(t, scans.Config{})
	code := oaCode(wxqr.KindOAPerm, 1, "", "posters", "gQOne")
	f.put(t, code, mpCode(wxqr.KindWxaUnlimited, "s", "pages/a", ""))
	f.record(t, scan("a", morning, "1", code.Ticket))
	f.record(t, scan("b", morning, "1", code.Ticket))
	f.record(t, scan("c", morning, "2", ""))
	f.record(t, subscribe("d", morning, "", ""))
	f.record(t, unsubscribe("d", morning.Add(time.Minute)))
	f.record(t, scans.Event{AppID: mpApp, Type: scans.Launch, Time: morning, Query: map[string]string{"scene": "s"}})

	got, err := f.store.EventTotals(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := []scans.EventTotal{
		{AppID: mpApp, Event: scans.Launch, Attributed: true, N: 1},
		{AppID: oaApp, Event: scans.Scan, Attributed: false, N: 1},
		{AppID: oaApp, Event: scans.Scan, Attributed: true, N: 2},
		{AppID: oaApp, Event: scans.Subscribe, Attributed: false, N: 1},
		{AppID: oaApp, Event: scans.Unsubscribe, Attributed: false, N: 1},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("EventTotals() =\n%+v\nwant\n%+v", got, want)
	}
}

func TestInvalidEvents(t *testing.T) {
	f := newFixture(t, scans.Config{})
	tests := map[string]scans.Event{
		"no app":       {Type: scans.Scan, OpenID: "a", Time: morning, Key: "1"},
		"unknown type": {AppID: oaApp, Type: "VIEW", OpenID: "a", Time: morning},
		"no time":      {AppID: oaApp, Type: scans.Scan, OpenID: "a", Key: "1"},
		"no openid":    {AppID: oaApp, Type: scans.Scan, Time: morning, Key: "1"},
	}
	for name, ev := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := f.store.Record(t.Context(), ev); !errors.Is(err, scans.ErrInvalidEvent) {
				t.Errorf("Record() error = %v, want ErrInvalidEvent", err)
			}
		})
	}
	if totals, err := f.store.EventTotals(t.Context()); err != nil || len(totals) != 0 {
		t.Errorf("EventTotals() = %+v, %v; want nothing counted", totals, err)
	}
}

// fullRound records events of every type, which leave every kind of key,
// by users with openIDs.
func fullRound(t *testing.T, f fixture, openIDs []string) {
	t.Helper()
	code := oaCode(wxqr.KindOAPerm, 1, "", "posters", "gQOne")
	f.put(t, code, mpCode(wxqr.KindWxaUnlimited, "s", "pages/a", "stores"))
	for _, id := range openIDs {
		f.record(t, subscribe(id, morning, "1", code.Ticket))
		f.record(t, scan(id, morning.Add(time.Minute), "1", code.Ticket))
		f.record(t, scan(id, morning.Add(time.Minute), "404", ""))
	}
	f.record(t, unsubscribe(openIDs[0], morning.Add(time.Hour)))
	f.record(t, scans.Event{AppID: mpApp, Type: scans.Launch, Time: morning, Query: map[string]string{"scene": "s"}})
}

// TestOpenIDsNeverStored looks at every key and value a full round of events
// leaves and finds no openid in any.
func TestOpenIDsNeverStored(t *testing.T) {
	f := newFixture(t, scans.Config{})
	openIDs := []string{"oGZUI0egBJY1zhBYw2KhdUfwVJJE", "oGZUI0egBJY1zhBYw2KhdUfwVJJF"}
	fullRound(t, f, openIDs)

	dump := testenv.Dump(t, f.rdb)
	if !strings.Contains(dump, "wxqr:scan:follow:") || !strings.Contains(dump, "wxqr:scan:seen:") {
		t.Fatalf("the dump has no follow or seen key: is it complete?\n%s", dump)
	}
	for _, id := range openIDs {
		if strings.Contains(dump, id) {
			t.Errorf("the openid %s is stored:\n%s", id, dump)
		}
	}
}

func TestRedisDown(t *testing.T) {
	// Every call must fail, wrapped, not hang.
	rdb := testenv.UnreachableRedis(t)
	cat := catalog.New(rdb, "")

	t.Run("without a key, Record reads it from Redis", func(t *testing.T) {
		store, err := scans.New(t.Context(), rdb, cat, scans.Config{})
		if err != nil {
			t.Fatalf("New() touched Redis: %v (a process that only reads counts must not need the key)", err)
		}
		if _, err := store.Record(t.Context(), scan("alice", morning, "1", "gQOne")); err == nil {
			t.Error("Record() succeeded without Redis")
		}
	})
	store, err := scans.New(t.Context(), rdb, cat, scans.Config{OpenIDKey: []byte("a key of the configuration")})
	if err != nil {
		t.Fatalf("New() with a configured key: %v", err)
	}
	code := oaCode(wxqr.KindOAPerm, 1, "", "posters", "gQOne")
	calls := map[string]func(context.Context) error{
		"Record scan": func(ctx context.Context) error {
			_, err := store.Record(ctx, scan("alice", morning, "1", code.Ticket))
			return err
		},
		"Record unsubscribe": func(ctx context.Context) error {
			_, err := store.Record(ctx, unsubscribe("alice", morning))
			return err
		},
		"Record launch": func(ctx context.Context) error {
			_, err := store.Record(ctx, scans.Event{AppID: mpApp, Type: scans.Launch, Time: morning, Path: "pages/a"})
			return err
		},
		"Codes":       func(ctx context.Context) error { _, err := store.Codes(ctx, []string{code.ID}); return err },
		"Campaigns":   func(ctx context.Context) error { _, err := store.Campaigns(ctx, []string{"posters"}); return err },
		"Days":        func(ctx context.Context) error { _, err := store.Days(ctx, "posters", morning, morning); return err },
		"Top":         func(ctx context.Context) error { _, err := store.Top(ctx, "posters", 3); return err },
		"EventTotals": func(ctx context.Context) error { _, err := store.EventTotals(ctx); return err },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			err := call(t.Context())
			if err == nil || !strings.HasPrefix(err.Error(), "scans: ") {
				t.Errorf("%s() error = %v, want a scans error", name, err)
			}
		})
	}
}
