package printsheet

import (
	"strings"
	"unicode"

	"github.com/go-pdf/fpdf"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/unicode/norm"
)

// The size of the text on a sheet, in points.
const (
	labelPoints = 8
	notePoints  = 7
)

// pen writes the text of one PDF in its font, and cuts it to fit.
type pen struct {
	pdf *fpdf.Fpdf
	// encode turns UTF-8 into what the font takes: Windows-1252 bytes for
	// Helvetica, the text itself for a TrueType font.
	encode func(string) string
	family string
}

// newPen sets up the font of pdf: font, or Helvetica when it is nil.
func newPen(pdf *fpdf.Fpdf, font *Font) *pen {
	if font == nil {
		return &pen{pdf: pdf, encode: toWindows1252, family: "Helvetica"}
	}
	pdf.AddUTF8FontFromBytes(fontFamily, "", font.ttf)
	return &pen{pdf: pdf, encode: func(s string) string { return s }, family: fontFamily}
}

// write draws text in the box at (x, y) of width w and height h, aligned
// as fpdf's CellFormat takes it ("L", "C", "R"), cut to fit.
func (p *pen) write(text string, points float64, x, y, w, h float64, align string) {
	p.pdf.SetFont(p.family, "", points)
	p.pdf.SetXY(x, y)
	p.pdf.CellFormat(w, h, p.fit(text, w), "", 0, align+"M", false, 0, "")
}

// width is how wide a cell must be to hold text whole.
func (p *pen) width(text string, points float64) float64 {
	p.pdf.SetFont(p.family, "", points)
	const slack = 0.1 // mm: rounding must not cut what was measured whole
	return p.pdf.GetStringWidth(p.encode(text)) + 2*p.pdf.GetCellMargin() + slack
}

// fit returns text encoded for the font, cut with an ellipsis to be at
// most w wide.
func (p *pen) fit(text string, w float64) string {
	// A cell keeps a small padding on each side.
	w -= 2 * p.pdf.GetCellMargin()
	if enc := p.encode(text); p.pdf.GetStringWidth(enc) <= w {
		return enc
	}
	runes := []rune(text)
	// The longest prefix that fits with the ellipsis: a binary search,
	// since the width only grows with the prefix.
	lo, hi := 0, len(runes)
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if p.pdf.GetStringWidth(p.encode(string(runes[:mid])+"…")) <= w {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return p.encode(strings.TrimRightFunc(string(runes[:lo]), unicode.IsSpace) + "…")
}

// toWindows1252 encodes s for fpdf's core fonts, which know Windows-1252
// only. A character outside it is replaced by its base letters when it has
// some ("ő" → "o", "ﬁ" → "fi", a full-width "Ａ" → "A"), else by "?". Control
// characters become spaces.
func toWindows1252(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsControl(r) {
			b.WriteByte(' ')
			continue
		}
		if c, ok := charmap.Windows1252.EncodeRune(r); ok {
			b.WriteByte(c)
			continue
		}
		b.WriteString(baseLetters(r))
	}
	return b.String()
}

// baseLetters is r decomposed (NFKD) without its marks, when every part is
// in Windows-1252; else "?".
func baseLetters(r rune) string {
	var b strings.Builder
	for _, part := range norm.NFKD.String(string(r)) {
		if unicode.Is(unicode.Mn, part) {
			continue
		}
		c, ok := charmap.Windows1252.EncodeRune(part)
		if !ok || part == r {
			return "?"
		}
		b.WriteByte(c)
	}
	if b.Len() == 0 {
		return "?"
	}
	return b.String()
}
