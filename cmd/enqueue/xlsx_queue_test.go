package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/jobfile"
	"github.com/wxqr/wxqr/jobfile/jobfiletest"
	"github.com/wxqr/wxqr/storage"
	"github.com/wxqr/wxqr/tasks"
)

// campaignRows are the codes of one campaign, every kind and column, names
// with what CSV must quote, and a duplicate.
var campaignRows = []jobfile.Row{
	{Kind: "oa_perm", AppID: "wxoa", SceneID: "100000", Campaign: "spring", Name: "Store 12 - entrance"},
	{Kind: "oa_perm", AppID: "wxoa", SceneStr: "store-13", Campaign: "spring", Name: `Store 13, "the big one"`},
	{Kind: "oa_temp", AppID: "wxoa", SceneID: "4294967295", ExpireSeconds: "604800", Campaign: "spring", Name: "门店 14"},
	{Kind: "oa_temp", AppID: "wxoa", SceneStr: "coupon-1", Campaign: "spring"},
	{Kind: "wxa_qrcode", AppID: "wxmp", Path: "pages/index?id=1", Width: "1280", Campaign: "spring", Name: "Poster A"},
	{Kind: "wxa_code", AppID: "wxmp", Path: "pages/shop", Campaign: "spring"},
	{Kind: "wxa_unlimited", AppID: "wxmp", SceneStr: "id=7", Path: "pages/shop", Width: "280", Campaign: "spring", Name: "Table 7"},
	{Kind: "oa_perm", AppID: "wxoa", SceneID: "100000", Campaign: "spring", Name: "Store 12 - entrance"},
}

// writeCampaign writes rows as a CSV and as a workbook (numbers typed as
// numbers, on a sheet named Codes) and returns their paths.
func writeCampaign(t *testing.T, h *harness, rows []jobfile.Row) (csvPath, xlsxPath string) {
	t.Helper()
	var b strings.Builder
	cw := csv.NewWriter(&b)
	cw.Write(jobfile.Columns)
	cells := [][]any{jobfiletest.Header()}
	for _, r := range rows {
		cw.Write(jobfiletest.Cells(r))
		cells = append(cells, jobfiletest.TypedCells(r))
	}
	cw.Flush()
	csvPath = h.file(t, "campaign.csv", b.String())
	xlsxPath = filepath.Join(h.dir, "campaign.xlsx")
	jobfiletest.WriteWorkbook(t, xlsxPath, jobfiletest.Sheet{Name: "Codes", Rows: jobfiletest.RowsOf(cells...)})
	return csvPath, xlsxPath
}

// queuedTasks returns every pending task, by task id: its queue and payload.
func (h *harness) queuedTasks(t *testing.T) map[string]string {
	t.Helper()
	got := map[string]string{}
	for _, q := range h.queues(t) {
		infos, err := h.inspector.ListPendingTasks(q, asynq.PageSize(1000))
		if err != nil {
			t.Fatal(err)
		}
		for _, info := range infos {
			got[info.ID] = q + " " + string(info.Payload)
		}
	}
	return got
}

func TestQueueXLSXGivesTheCodesOfCSV(t *testing.T) {
	h := newHarness(t)
	csvPath, xlsxPath := writeCampaign(t, h, campaignRows)

	dryCSV := h.mustRun(t, "", "--dry-run", csvPath)
	dryXLSX := h.mustRun(t, "", "--dry-run", xlsxPath)
	if dryCSV.stdout != dryXLSX.stdout {
		t.Errorf("dry run of the workbook:\n%s\nwant the CSV's:\n%s", dryXLSX.stdout, dryCSV.stdout)
	}
	checkSummary(t, dryXLSX.stdout, map[string]int{"total": 7, "duplicate in file": 1, "invalid": 0})

	r := h.mustRun(t, "", csvPath)
	checkSummary(t, r.stdout, map[string]int{"queued": 7, "duplicate in file": 1})
	fromCSV := h.queuedTasks(t)
	if err := h.rdb.FlushDB(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	r = h.mustRun(t, "", xlsxPath)
	checkSummary(t, r.stdout, map[string]int{"queued": 7, "duplicate in file": 1})
	fromXLSX := h.queuedTasks(t)

	if len(fromCSV) != 7 {
		t.Fatalf("the CSV queued %d tasks, want 7", len(fromCSV))
	}
	for id, task := range fromCSV {
		if fromXLSX[id] != task {
			t.Errorf("task %s from the workbook: %q, want the CSV's %q", id, fromXLSX[id], task)
		}
	}
	if ids := slices.Sorted(maps.Keys(fromXLSX)); len(ids) != len(fromCSV) {
		t.Errorf("the workbook queued tasks %v, want the CSV's %d", ids, len(fromCSV))
	}

	// The names reach the payloads.
	var names []string
	for _, task := range fromXLSX {
		var p tasks.GeneratePayload
		if err := json.Unmarshal([]byte(task[strings.IndexByte(task, ' ')+1:]), &p); err != nil {
			t.Fatal(err)
		}
		if p.Name != "" {
			names = append(names, p.Name)
		}
	}
	slices.Sort(names)
	if want := []string{"Poster A", "Store 12 - entrance", `Store 13, "the big one"`, "Table 7", "门店 14"}; !slices.Equal(names, want) {
		t.Errorf("names queued %q, want %q", names, want)
	}
}

func TestQueueXLSXInvalidRows(t *testing.T) {
	h := newHarness(t)
	rows := [][]any{jobfiletest.Header(), jobfiletest.TypedCells(jobfile.Row{Kind: "oa_perm", AppID: "wxoa", SceneID: "1"})} // row 2: valid
	for _, tt := range jobfiletest.InvalidRows {
		rows = append(rows, jobfiletest.TypedCells(tt.Row)) // rows 3...
	}
	stray := append(jobfiletest.TypedCells(jobfile.Row{Kind: "oa_perm", AppID: "wxoa", SceneID: "2"}), "stray")
	rows = append(rows, stray)
	path := filepath.Join(h.dir, "campaign.xlsx")
	jobfiletest.WriteWorkbook(t, path, jobfiletest.Sheet{Name: "Codes", Rows: jobfiletest.RowsOf(rows...)})

	for _, args := range [][]string{{path}, {"--dry-run", path}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := h.run(t, "", args...)
			if code := exitCode(r.err); code != exitInput {
				t.Fatalf("exit code %d (%v), want %d", code, r.err, exitInput)
			}
			wantInvalidRowsListed(t, r.stderr, func(i int) string { return fmt.Sprintf("%s:Codes!%d", path, i+3) })
			col := string(rune('A' + len(jobfile.Columns)))
			if want := fmt.Sprintf("%s:Codes!%d: cell %s%d has a value, but its column has no header", path, len(rows), col, len(rows)); !strings.Contains(r.stderr, want) {
				t.Errorf("stderr does not report the stray cell (%q):\n%s", want, r.stderr)
			}
			if want := fmt.Sprintf("%d of %d rows of %s:Codes are invalid", len(jobfiletest.InvalidRows)+1, len(jobfiletest.InvalidRows)+2, path); !strings.Contains(r.err.Error(), want) {
				t.Errorf("error %q does not say %q", r.err, want)
			}
			if qs := h.queues(t); len(qs) != 0 {
				t.Errorf("queues %v exist, want nothing queued", qs)
			}
		})
	}
}

func TestQueueXLSXSheetAndContent(t *testing.T) {
	h := newHarness(t)
	codes := jobfiletest.RowsOf([]any{"kind", "app_id", "scene_id", "name"}, []any{"oa_perm", "wxoa", 1, "Front door"}, []any{"oa_perm", "wxoa", 2})
	wrong := jobfiletest.RowsOf([]any{"kind", "app_id", "scene_id"}, []any{"oa_perm", "wxoa", 100001})
	// A workbook saved under a CSV name.
	misnamed := filepath.Join(h.dir, "campaign.csv")
	jobfiletest.WriteWorkbook(t, filepath.Join(h.dir, "campaign.xlsx"), jobfiletest.Sheet{Name: "Notes", Rows: wrong}, jobfiletest.Sheet{Name: "Codes", Rows: codes})
	if err := os.Rename(filepath.Join(h.dir, "campaign.xlsx"), misnamed); err != nil {
		t.Fatal(err)
	}
	// A CSV saved under a workbook name.
	csvNamedXLSX := h.file(t, "jobs.xlsx", "kind,app_id,scene_id\noa_perm,wxoa,3\n")

	t.Run("first sheet", func(t *testing.T) {
		r := h.run(t, "", misnamed)
		if want := misnamed + ":Notes!2: scene_id: must be 1..100000"; exitCode(r.err) != exitInput || !strings.Contains(r.stderr, want) {
			t.Errorf("exit %d, stderr %q; want exit 2 and %q", exitCode(r.err), r.stderr, want)
		}
	})
	t.Run("--sheet", func(t *testing.T) {
		r := h.mustRun(t, "", "--sheet", "Codes", "--campaign", "spring", misnamed)
		checkSummary(t, r.stdout, map[string]int{"queued": 2})
	})
	t.Run("unknown sheet", func(t *testing.T) {
		r := h.run(t, "", "--sheet", "Summer", misnamed)
		if want := `no sheet "Summer" (the sheets are "Notes", "Codes")`; exitCode(r.err) != exitInput || !strings.Contains(r.err.Error(), want) {
			t.Errorf("exit %d, error %v; want exit 2 and %q", exitCode(r.err), r.err, want)
		}
	})
	t.Run("CSV named .xlsx", func(t *testing.T) {
		r := h.mustRun(t, "", csvNamedXLSX)
		checkSummary(t, r.stdout, map[string]int{"queued": 1})
	})
	t.Run("--sheet of a CSV", func(t *testing.T) {
		r := h.run(t, "", "--sheet", "Codes", csvNamedXLSX)
		if exitCode(r.err) != exitInput || !strings.Contains(r.err.Error(), "--sheet is for Excel workbooks") {
			t.Errorf("exit %d, error %v; want exit 2 refusing --sheet", exitCode(r.err), r.err)
		}
	})
	t.Run("stdin", func(t *testing.T) {
		data, err := os.ReadFile(misnamed)
		if err != nil {
			t.Fatal(err)
		}
		r := h.run(t, string(data), "-")
		if want := "stdin:Notes!2: scene_id:"; exitCode(r.err) != exitInput || !strings.Contains(r.stderr, want) {
			t.Errorf("exit %d, stderr %q; want exit 2 and %q", exitCode(r.err), r.stderr, want)
		}
		r = h.mustRun(t, string(data), "--sheet", "codes", "-")
		checkSummary(t, r.stdout, map[string]int{"already queued": 2})
	})
	t.Run("--sheet without a file", func(t *testing.T) {
		r := h.run(t, "", "--app", "wxoa", "--kind", "oa_perm", "--sheet", "Codes", "--scene-ids", "1")
		if exitCode(r.err) != exitInput || !strings.Contains(r.err.Error(), "--sheet is for an Excel jobs file") {
			t.Errorf("exit %d, error %v; want exit 2 refusing --sheet", exitCode(r.err), r.err)
		}
	})

	infos, err := h.inspector.ListPendingTasks("wxoa.oa_perm")
	if err != nil {
		t.Fatal(err)
	}
	named := 0
	for _, info := range infos {
		var p tasks.GeneratePayload
		if err := json.Unmarshal(info.Payload, &p); err != nil {
			t.Fatal(err)
		}
		if p.Name == "Front door" && p.Spec.SceneID == 1 && p.Campaign == "spring" {
			named++
		}
	}
	if len(infos) != 3 || named != 1 {
		t.Errorf("%d tasks queued, %d of scene 1 named Front door in spring; want 3 and 1", len(infos), named)
	}
}

// TestQueueRenamesGeneratedCodes: a code made already is not queued again,
// but its record takes the latest name the input gives it.
func TestQueueRenamesGeneratedCodes(t *testing.T) {
	h := newHarness(t)
	named := wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: "wxoa", SceneID: 1}
	kept := wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: "wxoa", SceneID: 2}
	busy := wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: "wxoa", SceneID: 3}
	for _, spec := range []wxqr.Spec{named, kept, busy} {
		rec := record(spec, "spring", time.Time{})
		rec.Name = "Store " + strconv.FormatInt(spec.SceneID, 10)
		if err := h.catalog.Put(t.Context(), rec); err != nil {
			t.Fatal(err)
		}
	}
	lease, err := h.catalog.Lock(t.Context(), busy.ID(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release()

	jobs := h.file(t, "jobs.csv", "kind,app_id,scene_id,name,campaign\n"+
		"oa_perm,wxoa,1,Store 1 - entrance,spring\n"+
		"oa_perm,wxoa,2,,spring\n"+ // no name: the record keeps its own
		"oa_perm,wxoa,3,Store 3 - exit,spring\n"+
		"oa_perm,wxoa,4,Store 4,spring\n")
	r := h.mustRun(t, "", jobs)
	checkSummary(t, r.stdout, map[string]int{"queued": 1, "already generated": 3, "of which renamed": 1})
	if !strings.Contains(r.stderr, "1 codes were being made and kept their old names") {
		t.Errorf("stderr does not tell of the code being made:\n%s", r.stderr)
	}
	store, err := storage.NewDir(filepath.Join(h.dir, "bucket"), "")
	if err != nil {
		t.Fatal(err)
	}
	for spec, want := range map[wxqr.Spec]string{named: "Store 1 - entrance", kept: "Store 2", busy: "Store 3"} {
		rec, err := h.catalog.Get(t.Context(), spec.ID())
		if err != nil {
			t.Fatal(err)
		}
		if rec.Name != want {
			t.Errorf("code %d named %q, want %q", spec.SceneID, rec.Name, want)
		}
	}
	stored, err := catalog.ReadRecord(t.Context(), store, named.Key())
	if err != nil || stored.Name != "Store 1 - entrance" {
		t.Errorf("the renamed code's stored record: %+v, %v; want the new name", stored, err)
	}
}
