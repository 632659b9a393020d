package e2e

import (
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
