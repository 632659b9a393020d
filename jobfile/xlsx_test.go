package jobfile_test

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/wxqr/wxqr/jobfile"
	"github.com/wxqr/wxqr/jobfile/jobfiletest"
	"github.com/xuri/excelize/v2"
)

// openTestXLSX opens the workbook at path as enqueue does.
func openTestXLSX(t *testing.T, path, sheet string) *jobfile.Workbook {
	t.Helper()
	src, err := jobfile.OpenWorkbook(path, "book.xlsx", sheet, jobfile.HeaderRules{})
	if err != nil {
		t.Fatalf("OpenWorkbook: %v", err)
	}
	t.Cleanup(src.Close)
	return src
}

// rowsRead returns what each yields: "row: field=value ..." per row, with
// the problem of an unreadable row.
func rowsRead(t *testing.T, src jobfile.Source) []string {
	t.Helper()
	var got []string
	err := src.Each(t.Context(), func(line int, r *jobfile.Row) error {
		s := fmt.Sprintf("%d:", line)
		for i, c := range jobfiletest.Cells(*r) {
			if c != "" {
				s += fmt.Sprintf(" %s=%s", jobfile.Columns[i], c)
			}
		}
		if r.Problem != nil {
			s += " problem: " + jobfile.Describe(r.Problem)
		}
		got = append(got, s)
		return nil
	})
	if err != nil {
		t.Fatalf("each: %v", err)
	}
	return got
}

func TestXLSXSourceRows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "book.xlsx")
	jobfiletest.WriteWorkbook(t, path, jobfiletest.Sheet{Name: "Codes", Rows: jobfiletest.RowsOf(
		nil, // row 1 blank: the header is the first row with a value
		[]any{"Kind", " App_ID ", "scene_id", "path", "width", "name"},
		// Shown as 1.23E+05, 4294967295.00 and 1,280: read as stored.
		[]any{"oa_temp", "wxoa", jobfiletest.NumFmt{ID: 11, Value: 123457}, nil, nil, "Store 12 - entrance"},
		[]any{nil, "", " "}, // nothing but blanks: skipped
		[]any{"oa_temp", "wxoa", jobfiletest.NumFmt{ID: 2, Value: 4294967295}, nil, nil, 12345},
		[]any{"wxa_qrcode", "wxmp", nil, "pages/a?id=1", jobfiletest.NumFmt{ID: 3, Value: 1280}, nil, nil, ""}, // empty trailing cells
		[]any{"wxa_qrcode", "wxmp", nil, "pages/b", 430.0},
		nil,
		[]any{"oa_perm", "wxoa", 7, nil, nil, "x", "stray"}, // a value past the header
		[]any{"oa_perm", "wxoa", 1.5},
	)})
	got := rowsRead(t, openTestXLSX(t, path, ""))
	want := []string{
		"3: kind=oa_temp app_id=wxoa scene_id=123457 name=Store 12 - entrance",
		"5: kind=oa_temp app_id=wxoa scene_id=4294967295 name=12345",
		"6: kind=wxa_qrcode app_id=wxmp path=pages/a?id=1 width=1280",
		"7: kind=wxa_qrcode app_id=wxmp path=pages/b width=430",
		"9: problem: cell G9 has a value, but its column has no header",
		"10: kind=oa_perm app_id=wxoa scene_id=1.5",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestXLSXSourceExponent: a workbook may store a number in exponent form
// (writers other than Excel do); the id read is exact all the same.
func TestXLSXSourceExponent(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain.xlsx")
	jobfiletest.WriteWorkbook(t, plain, jobfiletest.Sheet{Name: "Codes", Rows: jobfiletest.RowsOf(
		[]any{"kind", "app_id", "scene_id", "expire_seconds"},
		[]any{"oa_temp", "wxoa", 100001, 604800},
	)})
	path := filepath.Join(dir, "book.xlsx")
	rewriteZip(t, plain, path, "xl/worksheets/sheet1.xml", func(xml []byte) []byte {
		for from, to := range map[string]string{"<v>100001</v>": "<v>1.00001E+05</v>", "<v>604800</v>": "<v>604800.0</v>"} {
			if !bytes.Contains(xml, []byte(from)) {
				t.Fatalf("the sheet holds no %s:\n%s", from, xml)
			}
			xml = bytes.ReplaceAll(xml, []byte(from), []byte(to))
		}
		return xml
	})
	got := rowsRead(t, openTestXLSX(t, path, ""))
	if want := "2: kind=oa_temp app_id=wxoa scene_id=100001 expire_seconds=604800"; len(got) != 1 || got[0] != want {
		t.Errorf("rows %q, want [%q]", got, want)
	}
}

// rewriteZip copies the zip at from to to, passing the part named part
// through edit.
func rewriteZip(t *testing.T, from, to, part string, edit func([]byte) []byte) {
	t.Helper()
	zr, err := zip.OpenReader(from)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	found := false
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if f.Name == part {
			data, found = edit(data), true
		}
		w, err := zw.Create(f.Name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if !found {
		t.Fatalf("%s has no part %s", from, part)
	}
	if err := os.WriteFile(to, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestXLSXSourceSharedStrings: Excel keeps text in a shared table, which
// excelize reads from memory when small and from a temporary file past
// jobfile.XLSXPartInMemory; both read the same.
func TestXLSXSourceSharedStrings(t *testing.T) {
	for _, n := range []int{3, 40_000} {
		t.Run(strconv.Itoa(n)+" strings", func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "book.xlsx")
			f := excelize.NewFile()
			defer f.Close()
			// SetSheetRow, unlike the StreamWriter, stores text in the
			// shared table, as Excel does.
			if err := f.SetSheetRow("Sheet1", "A1", &[]any{"kind", "app_id", "scene_str", "name"}); err != nil {
				t.Fatal(err)
			}
			for i := range n {
				row := []any{"oa_temp", "wxoa", fmt.Sprintf("coupon-%06d", i), fmt.Sprintf("Store %d – 门店", i)}
				if err := f.SetSheetRow("Sheet1", "A"+strconv.Itoa(i+2), &row); err != nil {
					t.Fatal(err)
				}
			}
			if err := f.SaveAs(path); err != nil {
				t.Fatal(err)
			}
			if size := zipPartSize(t, path, "xl/sharedStrings.xml"); n > 3 && size <= jobfile.XLSXPartInMemory {
				t.Fatalf("shared strings of %d bytes: want more than %d, to be read from a temporary file", size, jobfile.XLSXPartInMemory)
			}
			src := openTestXLSX(t, path, "")
			rows := 0
			err := src.Each(t.Context(), func(line int, r *jobfile.Row) error {
				i := line - 2
				if want := fmt.Sprintf("coupon-%06d", i); r.SceneStr != want || r.Name != fmt.Sprintf("Store %d – 门店", i) || r.Kind != "oa_temp" {
					return fmt.Errorf("row %d: %+v, want scene %s", line, *r, want)
				}
				rows++
				return nil
			})
			if err != nil || rows != n {
				t.Errorf("each read %d rows (%v), want %d", rows, err, n)
			}
		})
	}
}

// zipPartSize returns the unzipped size of the part named part.
func zipPartSize(t *testing.T, path, part string) int {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		if f.Name == part {
			return int(f.UncompressedSize64)
		}
	}
	t.Fatalf("%s has no part %s", path, part)
	return 0
}

func TestXLSXSourceSheets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "book.xlsx")
	jobfiletest.WriteWorkbook(t, path,
		jobfiletest.Sheet{Name: "Lookup", Hidden: true, Rows: jobfiletest.RowsOf([]any{"kind", "app_id", "scene_id"}, []any{"oa_perm", "wxoa", 1})},
		jobfiletest.Sheet{Name: "Codes", Rows: jobfiletest.RowsOf([]any{"kind", "app_id", "scene_id"}, []any{"oa_perm", "wxoa", 2})},
		jobfiletest.Sheet{Name: "Spring 2026", Rows: jobfiletest.RowsOf([]any{"kind", "app_id", "scene_id"}, nil, []any{"oa_perm", "wxoa", 3})},
		jobfiletest.Sheet{Name: "Empty", Rows: jobfiletest.RowsOf()},
		jobfiletest.Sheet{Name: "Colours", Rows: jobfiletest.RowsOf([]any{"kind", "app_id", "colour"})},
	)
	tests := []struct {
		sheet string
		want  string // the row read, or the error
	}{
		{"", "2: kind=oa_perm app_id=wxoa scene_id=2"}, // the first visible sheet
		{"Spring 2026", "3: kind=oa_perm app_id=wxoa scene_id=3"},
		{"lookup", "2: kind=oa_perm app_id=wxoa scene_id=1"}, // named: hidden or not, any case
		{"Summer", `book.xlsx: no sheet "Summer" (the sheets are "Lookup", "Codes", "Spring 2026", "Empty", "Colours")`},
		{"Empty", "book.xlsx:Empty: empty sheet: want a header row"},
		{"Colours", `book.xlsx:Colours!1: unknown column "colour"`},
	}
	for _, tt := range tests {
		t.Run(tt.sheet, func(t *testing.T) {
			src, err := jobfile.OpenWorkbook(path, "book.xlsx", tt.sheet, jobfile.HeaderRules{})
			if err == nil {
				defer src.Close()
				var got []string
				err = src.Each(t.Context(), func(line int, r *jobfile.Row) error {
					got = append(got, fmt.Sprintf("%d: kind=%s app_id=%s scene_id=%s", line, r.Kind, r.AppID, r.SceneID))
					return nil
				})
				if err == nil {
					if len(got) != 1 || got[0] != tt.want {
						t.Errorf("rows %q, want [%q]", got, tt.want)
					}
					return
				}
			}
			if !strings.Contains(err.Error(), tt.want) || !errors.As(err, new(*jobfile.InputError)) {
				t.Errorf("error %v (%T), want an InputError saying %q", err, err, tt.want)
			}
		})
	}
}

func TestSniffJobsFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	workbook := filepath.Join(dir, "book.xlsx")
	jobfiletest.WriteWorkbook(t, workbook, jobfiletest.Sheet{Name: "Codes", Rows: jobfiletest.RowsOf([]any{"kind"})})
	data, err := os.ReadFile(workbook)
	if err != nil {
		t.Fatal(err)
	}
	var other bytes.Buffer
	zw := zip.NewWriter(&other)
	if _, err := zw.Create("word/document.xml"); err != nil {
		t.Fatal(err)
	}
	zw.Close()

	tests := []struct {
		name string
		path string
		want jobfile.Format
		err  string
	}{
		{"workbook", workbook, jobfile.FormatXLSX, ""},
		{"workbook named .csv", write("jobs.csv", data), jobfile.FormatXLSX, ""},
		{"CSV named .xlsx", write("csv.xlsx", []byte("kind,app_id\n")), jobfile.FormatCSV, ""},
		{"empty", write("empty.csv", nil), jobfile.FormatCSV, ""},
		{"short", write("short.csv", []byte("k\n")), jobfile.FormatCSV, ""},
		{"another zip", write("doc.xlsx", other.Bytes()), 0, "a zip archive but not an Excel workbook"},
		{"broken zip", write("broken.xlsx", data[:100]), 0, "cannot be read as one"},
		{"xls", write("old.xls", append([]byte("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"), make([]byte, 512)...)), 0, "Excel 97-2003 (.xls) or password-protected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := jobfile.Sniff(tt.path, "jobs")
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.As(err, new(*jobfile.InputError)) {
					t.Errorf("Sniff = %v, %v; want an input error saying %q", got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("Sniff = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestExactInteger(t *testing.T) {
	tests := []struct{ in, want string }{
		{"100001", "100001"},
		{" 60 ", " 60 "}, // no fraction, no exponent: the checker reads it
		{"1.00001E+05", "100001"},
		{"1.00001e5", "100001"},
		{"100001.0", "100001"},
		{"430.000", "430"},
		{"4.294967295E9", "4294967295"},
		{"+1.5E1", "15"},
		{"-1.0", "-1"},
		{"0.0", "0"},
		{"1E-0", "1"},
		{"1.5", "1.5"},
		{"1.23E-2", "1.23E-2"},
		{"12.5E+1", "125"},
		{"1E+999", "1E+999"},
		{"1e5x", "1e5x"},
		{".", "."},
		{"e5", "e5"},
		{"pages/a.b", "pages/a.b"},
	}
	for _, tt := range tests {
		if got := jobfile.ExactInteger(tt.in); got != tt.want {
			t.Errorf("jobfile.ExactInteger(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
