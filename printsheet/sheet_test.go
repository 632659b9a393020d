package printsheet

import (
	"math"
	"strings"
	"testing"
)

func TestParseGrid(t *testing.T) {
	tests := []struct {
		in         string
		cols, rows int
		ok         bool
	}{
		{"3x4", 3, 4, true},
		{"2X7", 2, 7, true},
		{" 1 x 1 ", 1, 1, true},
		{"3", 0, 0, false},
		{"0x4", 0, 0, false},
		{"3x-1", 0, 0, false},
		{"axb", 0, 0, false},
		{"", 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			cols, rows, err := ParseGrid(tt.in)
			if (err == nil) != tt.ok || cols != tt.cols || rows != tt.rows {
				t.Errorf("ParseGrid(%q) = %d, %d, %v; want %d, %d, ok=%v", tt.in, cols, rows, err, tt.cols, tt.rows, tt.ok)
			}
		})
	}
}

func TestParseLength(t *testing.T) {
	tests := []struct {
		in   string
		mm   float64
		fail bool
	}{
		{"50mm", 50, false},
		{"50", 50, false},
		{"5cm", 50, false},
		{"2in", 50.8, false},
		{"72pt", 25.4, false},
		{" 7.5 MM ", 7.5, false},
		{"0", 0, false},
		{"-1mm", 0, true},
		{"NaN", 0, true},
		{"Infmm", 0, true},
		{"5 furlongs", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			mm, err := ParseLength(tt.in)
			if (err != nil) != tt.fail || math.Abs(mm-tt.mm) > 1e-9 {
				t.Errorf("ParseLength(%q) = %g, %v; want %g, fail=%v", tt.in, mm, err, tt.mm, tt.fail)
			}
		})
	}
}

func TestParsePaper(t *testing.T) {
	for in, want := range map[string]Paper{"a4": A4, "A4": A4, "Letter": Letter} {
		if got, err := ParsePaper(in); err != nil || got != want {
			t.Errorf("ParsePaper(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParsePaper("a3"); err == nil || !strings.Contains(err.Error(), "a4 or letter") {
		t.Errorf("ParsePaper(a3) = %v, want an error naming the papers", err)
	}
}

func TestSheetValidate(t *testing.T) {
	tests := []struct {
		name  string
		sheet Sheet
		want  string // "" = fits
	}{
		{"defaults", Sheet{Margin: DefaultMargin, Gutter: DefaultGutter}, ""},
		{"defaults on letter", Sheet{Paper: Letter, Margin: DefaultMargin, Gutter: DefaultGutter}, ""},
		{"no margin, no gutter", Sheet{Columns: 4, Rows: 4, CodeSize: 52}, ""},
		{"too wide", Sheet{Columns: 4, Margin: 10, Gutter: 5}, "grid 4x4 of 50mm codes needs 215.0 × 239.0 mm, but A4 paper has 190.0 × 261.0 mm"},
		{"too tall on letter", Sheet{Paper: Letter, Rows: 5, Margin: 10}, "needs 150.0 × 280.0 mm, but Letter paper"},
		{"tiny code", Sheet{CodeSize: 5}, "at least 10mm"},
		{"negative margin", Sheet{Margin: -1}, "margin"},
		{"negative gutter", Sheet{Gutter: -1}, "gutter"},
		{"bad paper", Sheet{Paper: "a0"}, "a4 or letter"},
		{"negative grid", Sheet{Columns: -2}, "at least one column"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.sheet.WithDefaults().validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("validate: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("validate = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestCodeAt(t *testing.T) {
	s := Sheet{Columns: 3, Rows: 2, CodeSize: 40, Margin: 12, Gutter: 4}.WithDefaults()
	pageW, pageH := s.PageSize()
	type box struct{ x0, y0, x1, y1 float64 }
	var cells []box
	for i := range s.PerPage() {
		x, y := s.CodeAt(i)
		// A cell is its code and the label under it.
		cells = append(cells, box{x, y, x + s.CodeSize, y + s.CodeSize + labelHeight})
	}
	if x, y := s.CodeAt(0); x != 12 || y != 12+headerHeight {
		t.Errorf("first code at (%g, %g), want (12, %g)", x, y, 12+headerHeight)
	}
	if x, y := s.CodeAt(4); x != 12+44 || y != 12+headerHeight+40+labelHeight+4 {
		t.Errorf("fifth code at (%g, %g), want the second column of the second row", x, y)
	}
	for i, c := range cells {
		if c.x0 < s.Margin || c.x1 > pageW-s.Margin || c.y0 < s.Margin+headerHeight || c.y1 > pageH-s.Margin-footerHeight {
			t.Errorf("cell %d %+v leaves the printable area", i, c)
		}
		for j, d := range cells[:i] {
			if c.x0 < d.x1 && d.x0 < c.x1 && c.y0 < d.y1 && d.y0 < c.y1 {
				t.Errorf("cells %d and %d overlap", j, i)
			}
		}
	}
}

func TestNaturalCompare(t *testing.T) {
	ordered := []string{"", "Store", "Store 1", "Store 2", "Store 002b", "Store 12", "Store 12a", "Store a", "Store1"}
	for i := range ordered {
		for j := range ordered {
			got := naturalCompare(ordered[i], ordered[j])
			want := min(max(i-j, -1), 1)
			if got != want {
				t.Errorf("naturalCompare(%q, %q) = %d, want %d", ordered[i], ordered[j], got, want)
			}
		}
	}
}

func TestSheetText(t *testing.T) {
	tests := []struct {
		name string
		text SheetText
		want Sheet
		err  string
	}{
		{"defaults", SheetText{}, Sheet{Paper: A4, Columns: 3, Rows: 4, CodeSize: 50, Margin: 10, Gutter: 5}, ""},
		{"all set", SheetText{Paper: "Letter", Grid: "2x3", Size: "2.5in", Margin: "0.5in", Gutter: "0"},
			Sheet{Paper: Letter, Columns: 2, Rows: 3, CodeSize: 63.5, Margin: 12.7, Gutter: 0}, ""},
		{"bad paper", SheetText{Paper: "a5"}, Sheet{}, `paper "a5"`},
		{"bad grid", SheetText{Grid: "3"}, Sheet{}, `grid "3"`},
		{"bad size", SheetText{Size: "big"}, Sheet{}, `size: length "big"`},
		{"zero size", SheetText{Size: "0mm"}, Sheet{}, `size "0mm": want at least 10mm`},
		{"bad margin", SheetText{Margin: "-3mm"}, Sheet{}, `margin: length "-3mm"`},
		{"bad gutter", SheetText{Gutter: "x"}, Sheet{}, `gutter: length "x"`},
		{"does not fit", SheetText{Grid: "5x5"}, Sheet{}, "grid 5x5 of 50mm codes needs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.text.Sheet()
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("Sheet: %v", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("Sheet = %v, want an error containing %q", err, tt.err)
			}
			if math.Abs(got.CodeSize-tt.want.CodeSize) > 1e-9 || math.Abs(got.Margin-tt.want.Margin) > 1e-9 {
				t.Errorf("Sheet = %+v, want %+v", got, tt.want)
			}
			got.CodeSize, got.Margin = tt.want.CodeSize, tt.want.Margin
			if got != tt.want {
				t.Errorf("Sheet = %+v, want %+v", got, tt.want)
			}
		})
	}
}
