// Package jobfiletest writes jobs files for tests: workbooks as Excel
// stores them, rows laid out in the documented columns.
package jobfiletest

import (
	"iter"
	"strconv"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/wxqr/wxqr/jobfile"
)

// Sheet is one sheet of a workbook that WriteWorkbook writes.
type Sheet struct {
	Name string
	// Rows yields each row's number and cells; rows it skips are left
	// out of the sheet, as a spreadsheet stores blank rows.
	Rows   iter.Seq2[int, []any]
	Hidden bool
}

// NumFmt is a number shown with one of Excel's built-in number formats,
// e.g. 11 (0.00E+00) or 2 (0.00): what a person sees is not what the cell
// holds.
type NumFmt struct {
	ID    int
	Value any
}

// RowsOf yields rows as rows 1, 2, ... of a sheet; a nil row is left out.
func RowsOf(rows ...[]any) iter.Seq2[int, []any] {
	return func(yield func(int, []any) bool) {
		for i, cells := range rows {
			if cells != nil && !yield(i+1, cells) {
				return
			}
		}
	}
}

// WriteWorkbook writes sheets as an Excel workbook at path, streaming each
// sheet with excelize's StreamWriter. Numbers go in as numbers, as Excel
// stores what a person types.
func WriteWorkbook(tb testing.TB, path string, sheets ...Sheet) {
	tb.Helper()
	f := excelize.NewFile()
	defer f.Close()
	styles := map[int]int{}
	for i, sh := range sheets {
		var err error
		if i == 0 {
			err = f.SetSheetName("Sheet1", sh.Name)
		} else {
			_, err = f.NewSheet(sh.Name)
		}
		if err != nil {
			tb.Fatal(err)
		}
		sw, err := f.NewStreamWriter(sh.Name)
		if err != nil {
			tb.Fatal(err)
		}
		for n, cells := range sh.Rows {
			for j, c := range cells {
				nf, ok := c.(NumFmt)
				if !ok {
					continue
				}
				if _, ok := styles[nf.ID]; !ok {
					if styles[nf.ID], err = f.NewStyle(&excelize.Style{NumFmt: nf.ID}); err != nil {
						tb.Fatal(err)
					}
				}
				cells[j] = excelize.Cell{StyleID: styles[nf.ID], Value: nf.Value}
			}
			if err := sw.SetRow("A"+strconv.Itoa(n), cells); err != nil {
				tb.Fatal(err)
			}
		}
		if err := sw.Flush(); err != nil {
			tb.Fatal(err)
		}
	}
	// The active sheet cannot be hidden: activate the first visible one.
	for i, sh := range sheets {
		if !sh.Hidden {
			f.SetActiveSheet(i)
			break
		}
	}
	for _, sh := range sheets {
		if sh.Hidden {
			if err := f.SetSheetVisible(sh.Name, false); err != nil {
				tb.Fatal(err)
			}
		}
	}
	if err := f.SaveAs(path); err != nil {
		tb.Fatal(err)
	}
}

// Typed is a cell as a person types it into a spreadsheet: an integer
// becomes a number cell, anything else (" 60 ", "12a") stays text.
func Typed(v string) any {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return n
	}
	return v
}

// TypedCells returns the cells of r in the order of jobfile.Columns, typed.
func TypedCells(r jobfile.Row) []any {
	var cells []any
	for _, c := range Cells(r) {
		cells = append(cells, Typed(c))
	}
	return cells
}

// Header is the header row naming every column.
func Header() []any {
	cells := make([]any, len(jobfile.Columns))
	for i, c := range jobfile.Columns {
		cells[i] = c
	}
	return cells
}

// Cells returns the cells of r in the order of jobfile.Columns.
func Cells(r jobfile.Row) []string {
	cells := make([]string, len(jobfile.Columns))
	for i, c := range jobfile.Columns {
		cells[i] = *r.Cell(c)
	}
	return cells
}

// InvalidRow is a row that breaks one rule, with the field and a piece of
// the rule its error must name.
type InvalidRow struct {
	Name      string
	Row       jobfile.Row
	WantField string
	WantRule  string
}

// InvalidRows are rows breaking each rule once, with the field and a piece
// of the rule the error must name. The integration tests feed them through
// a jobs file too. Their apps are wxoa (an oa app) and wxmp (an mp app).
var InvalidRows = []InvalidRow{
	{"unknown kind", jobfile.Row{Kind: "oa_forever", AppID: "wxoa", SceneID: "1"}, "kind", "unknown kind"},
	{"no kind", jobfile.Row{AppID: "wxoa", SceneID: "1"}, "kind", "unknown kind"},
	{"no app", jobfile.Row{Kind: "oa_perm", SceneID: "1"}, "app_id", "required"},
	{"unconfigured app", jobfile.Row{Kind: "oa_perm", AppID: "wxnope", SceneID: "1"}, "app_id", "not configured"},
	{"mp app for oa kind", jobfile.Row{Kind: "oa_perm", AppID: "wxmp", SceneID: "1"}, "app_id", "needs an oa app"},
	{"oa app for mp kind", jobfile.Row{Kind: "wxa_qrcode", AppID: "wxoa", Path: "p"}, "app_id", "needs an mp app"},
	{"perm scene id too big", jobfile.Row{Kind: "oa_perm", AppID: "wxoa", SceneID: "100001"}, "scene_id", "1..100000"},
	{"perm scene id negative", jobfile.Row{Kind: "oa_perm", AppID: "wxoa", SceneID: "-1"}, "scene_id", "1..100000"},
	{"temp scene id too big", jobfile.Row{Kind: "oa_temp", AppID: "wxoa", SceneID: "4294967296"}, "scene_id", "32-bit"},
	{"scene id not a number", jobfile.Row{Kind: "oa_perm", AppID: "wxoa", SceneID: "12a"}, "scene_id", "integer"},
	{"no scene", jobfile.Row{Kind: "oa_perm", AppID: "wxoa"}, "scene_id", "required"},
	{"both scenes", jobfile.Row{Kind: "oa_perm", AppID: "wxoa", SceneID: "1", SceneStr: "x"}, "scene_id", "not both"},
	{"scene_str too long", jobfile.Row{Kind: "oa_temp", AppID: "wxoa", SceneStr: strings.Repeat("s", 65)}, "scene_str", "1..64"},
	{"path for oa", jobfile.Row{Kind: "oa_perm", AppID: "wxoa", SceneID: "1", Path: "p"}, "path", "not used"},
	{"no path", jobfile.Row{Kind: "wxa_qrcode", AppID: "wxmp"}, "path", "1..128 bytes"},
	{"path too long", jobfile.Row{Kind: "wxa_qrcode", AppID: "wxmp", Path: strings.Repeat("p", 129)}, "path", "1..128 bytes"},
	{"width too small", jobfile.Row{Kind: "wxa_qrcode", AppID: "wxmp", Path: "p", Width: "279"}, "width", "280..1280"},
	{"width too big", jobfile.Row{Kind: "wxa_code", AppID: "wxmp", Path: "p", Width: "1281"}, "width", "280..1280"},
	{"width not a number", jobfile.Row{Kind: "wxa_qrcode", AppID: "wxmp", Path: "p", Width: "wide"}, "width", "integer"},
	{"width for oa", jobfile.Row{Kind: "oa_perm", AppID: "wxoa", SceneID: "1", Width: "430"}, "width", "not used"},
	{"expire too long", jobfile.Row{Kind: "oa_temp", AppID: "wxoa", SceneID: "1", ExpireSeconds: "2592001"}, "expire_seconds", "1..2592000"},
	{"expire negative", jobfile.Row{Kind: "oa_temp", AppID: "wxoa", SceneID: "1", ExpireSeconds: "-5"}, "expire_seconds", "1..2592000"},
	{"expire for perm", jobfile.Row{Kind: "oa_perm", AppID: "wxoa", SceneID: "1", ExpireSeconds: "60"}, "expire_seconds", "only used by oa_temp"},
	{"unlimited scene char", jobfile.Row{Kind: "wxa_unlimited", AppID: "wxmp", SceneStr: "a b"}, "scene_str", "not allowed"},
	{"unlimited page slash", jobfile.Row{Kind: "wxa_unlimited", AppID: "wxmp", SceneStr: "a", Path: "/pages/x"}, "path", "must not start with /"},
	{"name too long", jobfile.Row{Kind: "oa_perm", AppID: "wxoa", SceneID: "1", Name: strings.Repeat("n", 101)}, "name", "at most 100 characters"},
	{"name with a tab", jobfile.Row{Kind: "oa_perm", AppID: "wxoa", SceneID: "1", Name: "Store 12\tentrance"}, "name", "control characters"},
}

// InvalidStyleRows are rows breaking each rule of styling once, with the
// field and a piece of the rule the error must name.
var InvalidStyleRows = []InvalidRow{
	{"auto_color not yes/no", jobfile.Row{Kind: "wxa_code", AppID: "wxmp", Path: "p", Style: jobfile.Style{AutoColor: "maybe"}}, "auto_color", "true or false"},
	{"is_hyaline not yes/no", jobfile.Row{Kind: "wxa_code", AppID: "wxmp", Path: "p", Style: jobfile.Style{IsHyaline: "transparent"}}, "is_hyaline", "true or false"},
	{"check_path not yes/no", jobfile.Row{Kind: "wxa_unlimited", AppID: "wxmp", SceneStr: "a", Style: jobfile.Style{CheckPath: "2"}}, "check_path", "true or false"},
	{"colour by name", jobfile.Row{Kind: "wxa_code", AppID: "wxmp", Path: "p", Style: jobfile.Style{LineColor: "blue"}}, "line_color", "#RRGGBB or r,g,b"},
	{"colour out of range", jobfile.Row{Kind: "wxa_code", AppID: "wxmp", Path: "p", Style: jobfile.Style{LineColor: "0,0,300"}}, "line_color", "0..255"},
	{"colour and auto colour", jobfile.Row{Kind: "wxa_code", AppID: "wxmp", Path: "p", Style: jobfile.Style{LineColor: "#ff0000", AutoColor: "true"}}, "line_color", "auto_color"},
	{"unknown version", jobfile.Row{Kind: "wxa_unlimited", AppID: "wxmp", SceneStr: "a", Style: jobfile.Style{EnvVersion: "beta"}}, "env_version", "release, trial or develop"},
	{"check_path on wxa_code", jobfile.Row{Kind: "wxa_code", AppID: "wxmp", Path: "p", Style: jobfile.Style{CheckPath: "false"}}, "check_path", "only used by wxa_unlimited"},
	{"colour on wxa_qrcode", jobfile.Row{Kind: "wxa_qrcode", AppID: "wxmp", Path: "p", Style: jobfile.Style{LineColor: "#ff0000"}}, "line_color", "not used by wxa_qrcode"},
	{"transparent oa_perm", jobfile.Row{Kind: "oa_perm", AppID: "wxoa", SceneID: "1", Style: jobfile.Style{IsHyaline: "yes"}}, "is_hyaline", "not used by oa_perm"},
	{"version on oa_temp", jobfile.Row{Kind: "oa_temp", AppID: "wxoa", SceneID: "1", Style: jobfile.Style{EnvVersion: "trial"}}, "env_version", "not used by oa_temp"},
}
