package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/wechat/wechatsim"
)

const csvHeader = "kind,app_id,scene_id,scene_str,path,width,expire_seconds,campaign"

// mixedCampaign is 1,000 codes over two apps: temporary OA codes by id and by
// string, permanent OA codes, and Mini Program codes.
func mixedCampaign() []string {
	var rows []string
	for i := 1; i <= 400; i++ {
		rows = append(rows, fmt.Sprintf("oa_temp,%s,%d,,,,3600,%s", oaApp, 1000000+i, campaign))
	}
	for i := 1; i <= 200; i++ {
		// Scenes with the characters that trip up keys and URLs.
		rows = append(rows, fmt.Sprintf("oa_temp,%s,,Promo+%d/../x y,,,86400,%s", oaApp, i, campaign))
	}
	for i := 1; i <= 200; i++ {
		rows = append(rows, fmt.Sprintf("oa_perm,%s,%d,,,,,%s", oaApp, i, campaign))
	}
	for i := 1; i <= 200; i++ {
		rows = append(rows, fmt.Sprintf("wxa_qrcode,%s,,,pages/item/index?id=%d,300,,%s", mpApp, i, campaign))
	}
	return rows
}

// TestPipeline runs a mixed campaign end to end and checks every code: in the
// bucket, decoding to what WeChat said, and in the export with the right
// ticket, url and expiry.
func TestPipeline(t *testing.T) {
	h := newHarness(t, wechatsim.Limits{})
	jobs := writeCSV(t, csvHeader, mixedCampaign())

	h.mustRun(0, "enqueue", jobs)
	h.mustRun(0, "worker", "--until-idle")

	recs := h.checkStored()
	if len(recs) != 1000 {
		t.Fatalf("the catalog holds %d codes, want 1000", len(recs))
	}
	if got := h.sim.Calls(wechatsim.APICreateQRCode); got != 800 {
		t.Errorf("qrcode/create calls = %d, want 800 (one per OA code)", got)
	}
	if got := h.sim.Calls(wechatsim.APICreateWxaQRCode); got != 200 {
		t.Errorf("createwxaqrcode calls = %d, want 200", got)
	}
	for _, rec := range recs {
		checkRecordFields(t, rec)
	}
}

// checkRecordFields checks what a first-generation record says beyond its
// object (which checkStored checks): a ticket for OA codes, the expiry, the
// campaign.
func checkRecordFields(t *testing.T, rec wxqr.Record) {
	t.Helper()
	if rec.Kind.AppType() == wxqr.AppOA && (rec.Ticket == "" || rec.URL == "") {
		t.Errorf("%s: ticket %q url %q, want both", rec.ID, rec.Ticket, rec.URL)
	}
	switch rec.Kind {
	case wxqr.KindOATemp:
		wantExpiry := rec.CreatedAt.Add(time.Duration(rec.ExpireSeconds) * time.Second)
		if rec.ExpireSeconds == 0 || !rec.ExpiresAt.Equal(wantExpiry) {
			t.Errorf("%s: expires_at %v with expire_seconds %d after created_at %v", rec.ID, rec.ExpiresAt, rec.ExpireSeconds, rec.CreatedAt)
		}
	default:
		if !rec.ExpiresAt.IsZero() {
			t.Errorf("%s (%s): expires_at %v, want none", rec.ID, rec.Kind, rec.ExpiresAt)
		}
	}
	if rec.Campaign != campaign || rec.Generation != 1 {
		t.Errorf("%s: campaign %q generation %d, want %q and 1", rec.ID, rec.Campaign, rec.Generation, campaign)
	}
}

// TestEnqueueTwice checks that a campaign queued twice, before and after the
// workers ran, costs no second WeChat call.
func TestEnqueueTwice(t *testing.T) {
	h := newHarness(t, wechatsim.Limits{})
	rows := mixedCampaign()[:300] // temporary codes, by id and by string
	rows = append(rows, mixedCampaign()[800:850]...)
	jobs := writeCSV(t, csvHeader, rows)

	h.mustRun(0, "enqueue", jobs)
	again := h.mustRun(0, "enqueue", jobs)
	if !strings.Contains(again.stdout, "already queued") {
		t.Errorf("second enqueue says:\n%s\nwant it to count codes already queued", again.stdout)
	}
	h.mustRun(0, "worker", "--until-idle")
	calls := h.sim.Calls(wechatsim.APICreateQRCode) + h.sim.Calls(wechatsim.APICreateWxaQRCode)
	if calls != 350 {
		t.Fatalf("first run made %d create calls, want 350", calls)
	}

	h.mustRun(0, "enqueue", jobs)
	h.mustRun(0, "worker", "--until-idle")
	if after := h.sim.Calls(wechatsim.APICreateQRCode) + h.sim.Calls(wechatsim.APICreateWxaQRCode); after != calls {
		t.Errorf("the second run made %d more create calls, want none", after-calls)
	}
	if got := len(h.checkStored()); got != 350 {
		t.Errorf("%d codes stored, want 350", got)
	}
}
