package scans_test

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/scans"
)

// TestExport joins each code of a catalog export with its counts.
func TestExport(t *testing.T) {
	f := newFixture(t, scans.Config{OpenIDKey: []byte("a key of the configuration")})
	followed := oaCode(wxqr.KindOAPerm, 1, "", "posters", "gQOne")
	scanned := oaCode(wxqr.KindOATemp, 0, "window", "posters", "gQWindow")
	launched := mpCode(wxqr.KindWxaQRCode, "", "pages/shop?store=7", "posters")
	quiet := oaCode(wxqr.KindOAPerm, 2, "", "posters", "gQTwo")
	f.put(t, followed, scanned, launched, quiet)
	f.record(t, subscribe("alice", morning, "1", followed.Ticket))
	f.record(t, scan("bob", morning.Add(time.Minute), "1", followed.Ticket))
	f.record(t, unsubscribe("alice", morning.Add(time.Hour)))
	f.record(t, scan("carol", morning, "window", scanned.Ticket))
	f.record(t, scans.Event{AppID: mpApp, Type: scans.Launch, Time: morning, Path: "pages/shop", Query: map[string]string{"store": "7"}})

	var buf bytes.Buffer
	n, err := f.cat.Export(t.Context(), "posters", catalog.WriteCSV(&buf, scans.ExportColumns...), f.store.ExportValues)
	if err != nil || n != 4 {
		t.Fatalf("Export() = %d, %v; want 4 codes", n, err)
	}
	want := map[string]string{
		followed.ID: "2 1 1 2 0",
		scanned.ID:  "1 0 0 1 0",
		launched.ID: "0 0 0 0 1",
		quiet.ID:    "0 0 0 0 0",
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+len(want) {
		t.Fatalf("%d rows, want a header and %d codes", len(rows), len(want))
	}
	header := rows[0]
	if got := strings.Join(header[len(header)-5:], ","); got != "scans,new_follows,unfollows,unique_scanners,launches" {
		t.Errorf("header ends in %s", got)
	}
	for _, row := range rows[1:] {
		if got := strings.Join(row[len(row)-5:], " "); got != want[row[0]] {
			t.Errorf("code %s: counts %s, want %s", row[0], got, want[row[0]])
		}
	}
}
