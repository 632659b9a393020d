package printsheet

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Paper is a page size.
type Paper string

// The page sizes a sheet can have.
const (
	A4     Paper = "a4"     // 210 × 297 mm
	Letter Paper = "letter" // 8.5 × 11 in, 215.9 × 279.4 mm
)

// size returns the width and height of the paper in millimetres, and its
// name, as fpdf and people know it.
func (p Paper) size() (w, h float64, name string) {
	if p == Letter {
		return 215.9, 279.4, "Letter"
	}
	return 210, 297, "A4"
}

// ParsePaper returns the paper named s ("a4" or "letter", in any case).
func ParsePaper(s string) (Paper, error) {
	switch p := Paper(strings.ToLower(s)); p {
	case A4, Letter:
		return p, nil
	}
	return "", fmt.Errorf("paper %q: want a4 or letter", s)
}

// Sheet is the layout of a PDF label sheet: a grid of equal cells on every
// page, each a code with its label under it, between a header line
// (campaign, page number) and a footer line (the expiry warning). Lengths
// are in millimetres.
type Sheet struct {
	// Paper is the page size. Default A4.
	Paper Paper
	// Columns and Rows are the grid of codes on each page. Default
	// DefaultColumns × DefaultRows.
	Columns, Rows int
	// CodeSize is the side of each code, its quiet zone included. Default
	// DefaultCodeSize; at least MinCodeSize, which phones still read.
	CodeSize float64
	// Margin is the blank border around each page. 0 is none (most
	// printers cannot print the outer 4 mm or so); the command and the
	// monitor default to DefaultMargin.
	Margin float64
	// Gutter is the space between two cells. 0 is none (the codes' quiet
	// zones still keep them apart); the command and the monitor default to
	// DefaultGutter.
	Gutter float64
	// Font draws every text of the sheet. Default nil: Helvetica, which
	// prints Western European text only; any other character prints as
	// "?" (see LoadFont).
	Font *Font
}

// Defaults of a Sheet.
const (
	DefaultColumns  = 3
	DefaultRows     = 4
	DefaultCodeSize = 50.0
	DefaultMargin   = 10.0
	DefaultGutter   = 5.0
	MinCodeSize     = 10.0
)

// The bands of a page, in millimetres: the header line at the top and the
// footer line at the bottom (both inside the margin), and the label under
// each code.
const (
	headerHeight = 8.0
	footerHeight = 8.0
	labelHeight  = 6.0
)

// WithDefaults returns s with every zero field that has a default set to it.
func (s Sheet) WithDefaults() Sheet {
	if s.Paper == "" {
		s.Paper = A4
	}
	if s.Columns == 0 {
		s.Columns = DefaultColumns
	}
	if s.Rows == 0 {
		s.Rows = DefaultRows
	}
	if s.CodeSize == 0 {
		s.CodeSize = DefaultCodeSize
	}
	return s
}

// validate checks that the grid fits on the page, and says by how much it
// does not.
func (s Sheet) validate() error {
	if _, err := ParsePaper(string(s.Paper)); err != nil {
		return err
	}
	switch {
	case s.Columns < 1 || s.Rows < 1:
		return fmt.Errorf("grid %dx%d: want at least one column and one row", s.Columns, s.Rows)
	case s.CodeSize < MinCodeSize:
		return fmt.Errorf("code size %gmm: want at least %gmm, or phones cannot read the codes", s.CodeSize, MinCodeSize)
	case s.Margin < 0:
		return fmt.Errorf("margin %gmm: must not be negative", s.Margin)
	case s.Gutter < 0:
		return fmt.Errorf("gutter %gmm: must not be negative", s.Gutter)
	}
	pageW, pageH, paper := s.Paper.size()
	needW, needH := s.gridSize()
	roomW, roomH := pageW-2*s.Margin, pageH-2*s.Margin-headerHeight-footerHeight
	if needW > roomW+1e-9 || needH > roomH+1e-9 {
		return fmt.Errorf("grid %dx%d of %gmm codes needs %.1f × %.1f mm, but %s paper has %.1f × %.1f mm inside its %gmm margins and the header and footer lines",
			s.Columns, s.Rows, s.CodeSize, needW, needH, paper, roomW, roomH, s.Margin)
	}
	return nil
}

// gridSize is the width and height of the grid of cells.
func (s Sheet) gridSize() (w, h float64) {
	w = float64(s.Columns)*s.CodeSize + float64(s.Columns-1)*s.Gutter
	h = float64(s.Rows)*(s.CodeSize+labelHeight) + float64(s.Rows-1)*s.Gutter
	return w, h
}

// PerPage is how many codes a page holds.
func (s Sheet) PerPage() int { return s.Columns * s.Rows }

// PageSize is the width and height of a page in millimetres.
func (s Sheet) PageSize() (w, h float64) {
	w, h, _ = s.Paper.size()
	return w, h
}

// CodeAt returns the top-left corner, in millimetres from the page's, of
// the i-th code of a page (0 ≤ i < PerPage), row by row. The grid starts
// at the margins, under the header line: the first code's corner is at
// (Margin, Margin + 8 mm) on every page, where pre-cut label stock needs
// it to be.
func (s Sheet) CodeAt(i int) (x, y float64) {
	col, row := i%s.Columns, i/s.Columns
	x = s.Margin + float64(col)*(s.CodeSize+s.Gutter)
	y = s.Margin + headerHeight + float64(row)*(s.CodeSize+labelHeight+s.Gutter)
	return x, y
}

// ParseGrid reads a grid written COLUMNSxROWS, e.g. "3x4".
func ParseGrid(s string) (columns, rows int, err error) {
	c, r, ok := strings.Cut(strings.ToLower(s), "x")
	columns, errC := strconv.Atoi(strings.TrimSpace(c))
	rows, errR := strconv.Atoi(strings.TrimSpace(r))
	if !ok || errC != nil || errR != nil || columns < 1 || rows < 1 {
		return 0, 0, fmt.Errorf("grid %q: want COLUMNSxROWS, e.g. 3x4", s)
	}
	return columns, rows, nil
}

// lengthUnits are the units ParseLength reads, in millimetres.
var lengthUnits = map[string]float64{"mm": 1, "cm": 10, "in": 25.4, "pt": 25.4 / 72}

// ParseLength reads a length such as "50mm", "5cm", "2in" or "12pt" and
// returns it in millimetres. A bare number is millimetres.
func ParseLength(s string) (float64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	unit := 1.0
	for name, mm := range lengthUnits {
		if num, ok := strings.CutSuffix(t, name); ok {
			t, unit = strings.TrimSpace(num), mm
			break
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || !(n >= 0 && n <= 1e4) { // NaN too
		return 0, fmt.Errorf("length %q: want a number of mm, cm, in or pt, e.g. 50mm", s)
	}
	return n * unit, nil
}

// SheetText is a sheet as people write it, in a command's flags or a URL's
// query: "letter", "3x4", "50mm". An empty field takes the default, and
// Margin and Gutter default to DefaultMargin and DefaultGutter.
type SheetText struct {
	Paper, Grid, Size, Margin, Gutter string
}

// Sheet reads the sheet t describes, without a font, and checks it: a
// grid that does not fit on the paper, a code too small to scan, a
// negative length are refused before anything is printed. The error names the field at fault in its words: `grid
// "3": want COLUMNSxROWS, e.g. 3x4`.
func (t SheetText) Sheet() (Sheet, error) {
	s := Sheet{Margin: DefaultMargin, Gutter: DefaultGutter}
	var err error
	if t.Paper != "" {
		s.Paper, err = ParsePaper(t.Paper)
	}
	if err == nil && t.Grid != "" {
		s.Columns, s.Rows, err = ParseGrid(t.Grid)
	}
	lengths := []struct {
		name, text string
		mm         *float64
	}{{"size", t.Size, &s.CodeSize}, {"margin", t.Margin, &s.Margin}, {"gutter", t.Gutter, &s.Gutter}}
	for _, l := range lengths {
		if err == nil && l.text != "" {
			*l.mm, err = ParseLength(l.text)
			if err != nil {
				err = fmt.Errorf("%s: %w", l.name, err)
			}
		}
	}
	if err == nil && t.Size != "" && s.CodeSize == 0 {
		err = fmt.Errorf("size %q: want at least %gmm", t.Size, MinCodeSize) // not "the default"
	}
	if err == nil {
		err = s.WithDefaults().validate()
	}
	if err != nil {
		return Sheet{}, fmt.Errorf("printsheet: %w", err)
	}
	return s.WithDefaults(), nil
}

// ErrNoCodes is returned (wrapped) when there is nothing to print: the
// campaign has no generated code.
var ErrNoCodes = errors.New("no codes to print")
