package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/wxqr/wxqr/wechat/wechatsim"
)

// TestReindex loses Redis after a run and rebuilds the catalog from the
// bucket alone: the export is the same as before.
func TestReindex(t *testing.T) {
	h := newHarness(t, wechatsim.Limits{})
	var rows []string
	for i := 1; i <= 30; i++ {
		rows = append(rows, fmt.Sprintf("oa_temp,%s,%d,,,,3600,%s", oaApp, i, campaign))
		rows = append(rows, fmt.Sprintf("wxa_qrcode,%s,,,pages/r?id=%d,,,%s", mpApp, i, campaign))
	}
	h.mustRun(0, "enqueue", writeCSV(t, csvHeader, rows))
	h.mustRun(0, "worker", "--until-idle")
	if got := len(h.checkStored()); got != 60 {
		t.Fatalf("%d codes stored, want 60", got)
	}
	before := h.export()

	if err := h.rdb.FlushDB(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	if lost := h.export(); len(lost) != 0 {
		t.Fatalf("after losing Redis the export lists %d codes, want none", len(lost))
	}
	h.mustRun(0, "enqueue", "reindex")
	after := h.export()
	if len(before) != 60 || !reflect.DeepEqual(before, after) {
		t.Errorf("rebuilt catalog exports %d codes, want the %d from before, identical", len(after), len(before))
	}
	h.checkStored()
}

// TestReindexUpgradesAnEarlierCatalog reindexes a catalog as an earlier
// version wrote it (JSON records, a key per ticket): the records are
// rewritten in the compact form and the ticket keys, which never expire for
// permanent codes, are gone; the export is the same as before.
func TestReindexUpgradesAnEarlierCatalog(t *testing.T) {
	h := newHarness(t, wechatsim.Limits{})
	ctx := t.Context()
	var rows []string
	for i := 1; i <= 10; i++ {
		rows = append(rows, fmt.Sprintf("oa_perm,%s,%d,,,,,%s", oaApp, i, campaign))
	}
	h.mustRun(0, "enqueue", writeCSV(t, csvHeader, rows))
	h.mustRun(0, "worker", "--until-idle")
	before := h.export()
	if len(before) != 10 {
		t.Fatalf("%d codes made, want 10", len(before))
	}
	for _, rec := range before {
		data, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(rec.Ticket))
		if err := h.rdb.Set(ctx, "wxqr:code:"+rec.ID, data, 0).Err(); err != nil {
			t.Fatal(err)
		}
		if err := h.rdb.Set(ctx, "wxqr:ticket:"+hex.EncodeToString(sum[:16]), rec.ID, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}

	h.mustRun(0, "enqueue", "reindex")
	if keys, err := h.rdb.Keys(ctx, "wxqr:ticket:*").Result(); err != nil || len(keys) != 0 {
		t.Errorf("ticket keys after reindex: %d (%v), want none", len(keys), err)
	}
	for _, rec := range before {
		data, err := h.rdb.Get(ctx, "wxqr:code:"+rec.ID).Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if data[0] == '{' {
			t.Errorf("record %s is still JSON after reindex", rec.ID)
		}
	}
	if after := h.export(); !reflect.DeepEqual(before, after) {
		t.Errorf("the upgraded catalog exports %d codes, want the %d from before, identical", len(after), len(before))
	}
	// Each stored image still decodes to its record's url, and the upgrade
	// asked WeChat for nothing.
	if got := len(h.checkStored()); got != 10 {
		t.Errorf("%d codes stored, want 10", got)
	}
	if got := h.sim.Calls(wechatsim.APICreateQRCode); got != 10 {
		t.Errorf("qrcode/create called %d times, want 10, one per code", got)
	}
}
