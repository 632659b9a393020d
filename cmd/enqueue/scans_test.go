package main

import (
	"encoding/csv"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/scans"
)

// scanned puts three codes and records what their users did, with the
// real scans store: the permanent OA code was scanned three times by two
// users, one of whom followed and left; the temporary one twice, by a
// follower and by a new follower; the Mini Program code launched once. It returns the codes: perm, temp, mini.
func (h *harness) scanned(t *testing.T) (perm, temp, mini *wxqr.Record) {
	t.Helper()
	ctx := t.Context()
	perm = record(wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: "wxoa", SceneID: 42}, "spring", time.Time{})
	temp = record(wxqr.Spec{Kind: wxqr.KindOATemp, AppID: "wxoa", SceneStr: "poster-7"}, "spring", time.Now().Add(24*time.Hour))
	mini = record(wxqr.Spec{Kind: wxqr.KindWxaQRCode, AppID: "wxmp", Path: "pages/index?id=1"}, "autumn", time.Time{})
	// Each OA code has a ticket of its own: events name codes by ticket.
	perm.Ticket, temp.Ticket, mini.Ticket, mini.URL = "ticket-perm-42", "ticket-temp-poster-7", "", ""
	for _, rec := range []*wxqr.Record{perm, temp, mini} {
		if err := h.catalog.Put(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	store, err := scans.New(ctx, h.rdb, h.catalog, scans.Config{OpenIDKey: []byte("a key for the test")})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(-time.Hour).Truncate(time.Second)
	at := func(minutes int) time.Time { return start.Add(time.Duration(minutes) * time.Minute) }
	for i, ev := range []scans.Event{
		{AppID: "wxoa", Type: scans.Subscribe, OpenID: "o-user-a", Time: at(0), Key: "qrscene_42", Ticket: perm.Ticket},
		{AppID: "wxoa", Type: scans.Scan, OpenID: "o-user-b", Time: at(1), Key: "42", Ticket: perm.Ticket},
		{AppID: "wxoa", Type: scans.Scan, OpenID: "o-user-b", Time: at(2), Key: "42", Ticket: perm.Ticket},
		{AppID: "wxoa", Type: scans.Unsubscribe, OpenID: "o-user-a", Time: at(3)},
		{AppID: "wxoa", Type: scans.Scan, OpenID: "o-user-c", Time: at(4), Key: "poster-7", Ticket: temp.Ticket},
		{AppID: "wxoa", Type: scans.Subscribe, OpenID: "o-user-d", Time: at(5), Key: "qrscene_poster-7", Ticket: temp.Ticket},
		{AppID: "wxmp", Type: scans.Launch, Time: at(6), Path: "pages/index", Query: map[string]string{"id": "1"}, LaunchScene: 1047},
	} {
		out, err := store.Record(ctx, ev)
		if err != nil {
			t.Fatalf("event %d: Record: %v", i, err)
		}
		if ev.Type != scans.Unsubscribe && out.CodeID == "" {
			t.Fatalf("event %d (%s) was not attributed", i, ev.Type)
		}
	}
	return perm, temp, mini
}

func TestExportCounts(t *testing.T) {
	h := newHarness(t)
	perm, temp, mini := h.scanned(t)
	// scans, new_follows, unfollows, unique_scanners, launches
	want := map[string][]int64{
		perm.ID: {3, 1, 1, 2, 0},
		temp.ID: {2, 1, 0, 2, 0},
		mini.ID: {0, 0, 0, 0, 1},
	}

	t.Run("csv", func(t *testing.T) {
		r := h.mustRun(t, "", "export")
		rows, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
		if err != nil {
			t.Fatalf("export is not CSV: %v\n%s", err, r.stdout)
		}
		header := rows[0]
		if got := strings.Join(header[len(header)-6:], ","); got != "name,scans,new_follows,unfollows,unique_scanners,launches" {
			t.Errorf("header ends in %s, want the counts after the record's columns", got)
		}
		if len(rows) != 1+len(want) {
			t.Fatalf("%d rows, want a header and %d codes:\n%s", len(rows), len(want), r.stdout)
		}
		for _, row := range rows[1:] {
			var got []int64
			for _, cell := range row[len(row)-5:] {
				n, err := strconv.ParseInt(cell, 10, 64)
				if err != nil {
					t.Fatalf("row %v: count %q: %v", row, cell, err)
				}
				got = append(got, n)
			}
			if w := want[row[0]]; !slices.Equal(got, w) {
				t.Errorf("code %s: counts %v, want %v", row[0], got, w)
			}
		}
	})

	t.Run("jsonl of one campaign", func(t *testing.T) {
		r := h.mustRun(t, "", "export", "--campaign", "spring", "--format", "jsonl")
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) != 2 {
			t.Fatalf("%d lines, want spring's 2 codes:\n%s", len(lines), r.stdout)
		}
		for _, line := range lines {
			var got struct {
				wxqr.Record
				Scans          int64 `json:"scans"`
				NewFollows     int64 `json:"new_follows"`
				Unfollows      int64 `json:"unfollows"`
				UniqueScanners int64 `json:"unique_scanners"`
				Launches       int64 `json:"launches"`
			}
			if err := json.Unmarshal([]byte(line), &got); err != nil {
				t.Fatalf("line %q: %v", line, err)
			}
			counts := []int64{got.Scans, got.NewFollows, got.Unfollows, got.UniqueScanners, got.Launches}
			if w := want[got.ID]; !slices.Equal(counts, w) || got.SHA256 == "" {
				t.Errorf("line %s: counts %v, want %v with the whole record", line, counts, w)
			}
		}
	})
}

// TestStatusCounts: status shows each campaign's scans and net follows,
// and its launches once a Mini Program reported one.
func TestStatusCounts(t *testing.T) {
	h := newHarness(t)

	t.Run("no scans yet", func(t *testing.T) {
		if err := h.catalog.Put(t.Context(), record(wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: "wxoa", SceneID: 1}, "winter", time.Time{})); err != nil {
			t.Fatal(err)
		}
		r := h.mustRun(t, "", "status")
		header := statusLine(t, r.stdout, "CAMPAIGN")
		if !strings.HasSuffix(header, "SCANS  NET FOLLOWS") {
			t.Errorf("header %q, want it to end in the scan counts and no launches", header)
		}
		if f := strings.Fields(statusLine(t, r.stdout, "winter")); len(f) != 10 || f[8] != "0" || f[9] != "0" {
			t.Errorf("winter line %q, want 0 scans and 0 net follows last", f)
		}
	})

	t.Run("scanned", func(t *testing.T) {
		h.scanned(t)
		r := h.mustRun(t, "", "status")
		if header := statusLine(t, r.stdout, "CAMPAIGN"); !strings.HasSuffix(header, "SCANS  NET FOLLOWS  LAUNCHES") {
			t.Errorf("header %q, want it to end in the scan counts and launches", header)
		}
		tests := []struct {
			campaign string
			want     []string // scans, net follows, launches
		}{
			{"spring", []string{"5", "1", "0"}},
			{"autumn", []string{"0", "0", "1"}},
			{"winter", []string{"0", "0", "0"}},
			{"(all", []string{"-", "-", "-"}},
		}
		for _, tt := range tests {
			f := strings.Fields(statusLine(t, r.stdout, tt.campaign))
			if got := f[len(f)-3:]; !slices.Equal(got, tt.want) {
				t.Errorf("%s line ends in %v, want %v", tt.campaign, got, tt.want)
			}
		}
	})
}

// statusLine returns the line of out whose first field is first.
func statusLine(t *testing.T, out, first string) string {
	t.Helper()
	for line := range strings.Lines(out) {
		if f := strings.Fields(line); len(f) > 0 && f[0] == first {
			return strings.TrimSpace(line)
		}
	}
	t.Fatalf("no %s line in:\n%s", first, out)
	return ""
}
