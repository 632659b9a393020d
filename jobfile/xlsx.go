package jobfile

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/xuri/excelize/v2"

	"github.com/wxqr/wxqr"
)

// Reading workbooks. excelize unzips every part of a workbook when it opens
// it: parts up to xlsxPartInMemory stay in memory, larger ones (the sheets
// and the shared strings of a big campaign) go to temporary files that rows
// are then read from one at a time. So memory does not grow with the sheet,
// only the temporary files do.
const (
	// xlsxPartInMemory is the largest part of a workbook kept in memory.
	xlsxPartInMemory = 1 << 20
	// xlsxMaxUnzipped bounds what a workbook may unzip to, so that a small
	// file that unzips to gigabytes (a zip bomb) is refused. A
	// million-row sheet is a few hundred megabytes.
	xlsxMaxUnzipped = 2 << 30
)

// Format is how a jobs file is written.
type Format int

const (
	FormatCSV Format = iota
	FormatXLSX
)

// File signatures that tell a jobs file's format from its first bytes.
var (
	zipSignature = []byte("PK\x03\x04")
	// oleSignature starts an Excel 97-2003 workbook (.xls), and also an
	// encrypted (password-protected) .xlsx.
	oleSignature = []byte("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1")
)

// Sniff tells the format of the jobs file at path from its content,
// not its name: spreadsheets get saved under the wrong extension. A zip
// holding a workbook's parts ([Content_Types].xml and xl/workbook.xml) is a
// workbook; any other zip, and old or encrypted Excel files, are refused
// with what to do; everything else is read as CSV.
func Sniff(path, display string) (Format, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("open jobs file: %w", err)
	}
	defer f.Close()
	head := make([]byte, len(oleSignature))
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("read %s: %w", display, err)
	}
	head = head[:n]
	switch {
	case bytes.Equal(head, oleSignature):
		return 0, inputErrorf("%s is an Excel 97-2003 (.xls) or password-protected workbook: save it as .xlsx without a password, or as CSV", display)
	case !bytes.HasPrefix(head, zipSignature):
		return FormatCSV, nil
	}
	info, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", display, err)
	}
	zr, err := zip.NewReader(f, info.Size())
	if err != nil {
		return 0, inputErrorf("%s: starts like a zip archive but cannot be read as one: %v", display, err)
	}
	var types, workbook bool
	for _, part := range zr.File {
		types = types || strings.EqualFold(part.Name, "[Content_Types].xml")
		workbook = workbook || strings.EqualFold(part.Name, "xl/workbook.xml")
	}
	if !types || !workbook {
		return 0, inputErrorf("%s is a zip archive but not an Excel workbook (.xlsx): give a .xlsx or CSV file", display)
	}
	return FormatXLSX, nil
}

// Workbook is a jobs file saved as an Excel workbook: one sheet whose
// first non-empty row is the header, with the columns and rules of a CSV
// jobs file. It reads the sheet a row at a time.
//
// Cells are read as the workbook stores them, not as Excel displays them: a
// scene id shown as 1.00E+05 or 100001.00 is read as 100001. Rows without
// a value are skipped, as blank lines are in CSV.
type Workbook struct {
	file    *excelize.File
	display string // how errors name the file: "campaign.xlsx", "stdin"
	sheet   string // as the workbook spells it
	HeaderRules
}

// OpenWorkbook opens the workbook at path and picks its sheet: the one named
// sheet (matched without regard to case, as Excel does), or without a name
// the first visible one. Close it with close.
func OpenWorkbook(path, display, sheet string, rules HeaderRules) (*Workbook, error) {
	f, err := excelize.OpenFile(path, excelize.Options{
		RawCellValue:      true,
		UnzipXMLSizeLimit: xlsxPartInMemory,
		UnzipSizeLimit:    xlsxMaxUnzipped,
	})
	if err != nil {
		if f != nil {
			f.Close() // removes the parts unzipped so far
		}
		return nil, inputErrorf("%s: cannot read the workbook: %v", display, err)
	}
	s := &Workbook{file: f, display: display, HeaderRules: rules}
	if s.sheet, err = pickSheet(f, sheet); err != nil {
		f.Close()
		return nil, inputErrorf("%s: %v", display, err)
	}
	return s, nil
}

// pickSheet returns the sheet of f named want, or the first visible sheet
// when want is empty.
func pickSheet(f *excelize.File, want string) (string, error) {
	sheets := f.GetSheetList()
	if len(sheets) == 0 {
		return "", errors.New("the workbook has no sheet")
	}
	if want == "" {
		for _, name := range sheets {
			if visible, err := f.GetSheetVisible(name); err == nil && visible {
				return name, nil
			}
		}
		return sheets[0], nil
	}
	for _, name := range sheets {
		if strings.EqualFold(name, want) {
			return name, nil
		}
	}
	quoted := make([]string, len(sheets))
	for i, name := range sheets {
		quoted[i] = strconv.Quote(name)
	}
	return "", fmt.Errorf("no sheet %q (the sheets are %s)", want, strings.Join(quoted, ", "))
}

// close removes the temporary files the workbook was unzipped to.
func (s *Workbook) Close() {
	s.file.Close()
}

func (s *Workbook) Name() string { return s.display + ":" + s.sheet }

// locate points at a row as spreadsheets do: "campaign.xlsx:Codes!12".
func (s *Workbook) locate(row int) string {
	return s.Name() + "!" + strconv.Itoa(row)
}

func (s *Workbook) Each(ctx context.Context, fn func(line int, r *Row) error) error {
	rows, err := s.file.Rows(s.sheet)
	if err != nil {
		return fmt.Errorf("read %s: %w", s.Name(), err)
	}
	defer rows.Close()
	var (
		set []func(*Row) *string
		row Row
	)
	// Next visits every row number, those the sheet leaves out included,
	// so n is the row number Excel shows.
	for n := 1; rows.Next(); n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		cells, err := rows.Columns()
		if err != nil {
			return fmt.Errorf("read %s: %w", s.locate(n), err)
		}
		cells = trimEmptyCells(cells)
		if len(cells) == 0 {
			continue
		}
		if set == nil {
			if set, err = s.setters(cells, s.locate(n)); err != nil {
				return err
			}
			continue
		}
		row = Row{}
		if len(cells) > len(set) {
			col, _ := excelize.ColumnNumberToName(len(cells))
			row.Problem = &wxqr.FieldError{Rule: fmt.Sprintf("cell %s%d has a value, but its column has no header", col, n)}
		} else {
			for i, v := range cells {
				*set[i](&row) = v
			}
			row.SceneID, row.Width, row.ExpireSeconds = exactInteger(row.SceneID), exactInteger(row.Width), exactInteger(row.ExpireSeconds)
		}
		if err := fn(n, &row); err != nil {
			return err
		}
	}
	if err := rows.Error(); err != nil {
		return fmt.Errorf("read %s: %w", s.Name(), err)
	}
	if set == nil {
		return inputErrorf("%s: empty sheet: want a header row naming the columns (%s)", s.Name(), strings.Join(Columns, ","))
	}
	return nil
}

// trimEmptyCells drops the cells at the end of a row that hold nothing but
// spaces: invisible in a spreadsheet, they are no value (a formula that
// yields "" leaves such a cell).
func trimEmptyCells(cells []string) []string {
	for len(cells) > 0 && strings.TrimSpace(cells[len(cells)-1]) == "" {
		cells = cells[:len(cells)-1]
	}
	return cells
}

// decimalNumber is a number as a workbook may store it: 100001,
// 100001.0, 1.00001E+05.
var decimalNumber = regexp.MustCompile(`^([+-]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]{1,3}))?$`)

// exactInteger writes a number stored with a fraction or an exponent
// ("1.00001E+05", "430.0") as the integer it is ("100001", "430"), so that
// the checker reads ids exactly. A stored number is the exact value, unlike
// the text Excel displays (or writes to CSV) for a wide number, rounded to
// a few digits: that text never reaches here. Anything that is not an
// integer (1.5, text) is returned as it is, for the checker to refuse.
func exactInteger(v string) string {
	t := strings.TrimSpace(v)
	if !strings.ContainsAny(t, ".eE") {
		return v
	}
	m := decimalNumber.FindStringSubmatch(t)
	if m == nil || m[2]+m[3] == "" {
		return v
	}
	sign, digits := m[1], m[2]+m[3]
	exp := -len(m[3])
	if m[4] != "" {
		e, _ := strconv.Atoi(m[4]) // at most three digits: cannot fail
		exp += e
	}
	for exp < 0 && strings.HasSuffix(digits, "0") {
		digits, exp = digits[:len(digits)-1], exp+1
	}
	if exp < 0 {
		return v // a fraction
	}
	if exp > 30 {
		return v // far past any id: left for the checker to refuse
	}
	digits = strings.TrimLeft(digits+strings.Repeat("0", exp), "0")
	if digits == "" {
		return "0"
	}
	if sign == "+" {
		sign = ""
	}
	return sign + digits
}
