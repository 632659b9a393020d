package printsheet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	"github.com/go-pdf/fpdf"
)

// Font is a TrueType font for the text of PDF sheets, for labels that
// Helvetica cannot print: Chinese, for one. Load it once with LoadFont and
// share it; the PDF embeds the glyphs it uses.
type Font struct {
	ttf []byte
}

// fontFamily is the name a PDF knows the font by.
const fontFamily = "label"

// LoadFont reads a TrueType font (.ttf) from path and checks that the PDF
// library can use it: a TrueType outline font (not OpenType CFF .otf, not a
// collection .ttc) with a Unicode character map and no embedding
// restriction. A font with Chinese, such as Noto Sans SC or Droid Sans
// Fallback, prints Chinese labels.
func LoadFont(path string) (*Font, error) {
	ttf, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("printsheet: font: %w", err)
	}
	if err := checkTrueType(ttf); err != nil {
		return nil, fmt.Errorf("printsheet: font %s: %w", path, err)
	}
	if err := tryFont(ttf); err != nil {
		return nil, fmt.Errorf("printsheet: font %s: %w", path, err)
	}
	return &Font{ttf: ttf}, nil
}

// checkTrueType refuses, before the PDF library sees it, a font that
// library would misread: it prints its complaints to the process's stdout
// (where a PDF may be going) rather than return them.
func checkTrueType(ttf []byte) error {
	tables, err := sfntTables(ttf)
	if err != nil {
		return err
	}
	for _, tag := range []string{"head", "hhea", "hmtx", "maxp", "cmap", "name", "post", "glyf", "loca"} {
		if tables[tag] == nil {
			return fmt.Errorf("not a TrueType outline font: no %q table", tag)
		}
	}
	if u16(tables["name"], 0) != 0 {
		return errors.New("its name table has a format the PDF library cannot read")
	}
	if os2 := tables["OS/2"]; os2 != nil && (u16(os2, 8) == 0x0002 || u16(os2, 8)&0x0300 != 0) {
		return errors.New("its licence does not allow embedding it in a document")
	}
	if !hasUnicodeMap(tables["cmap"]) {
		return errors.New("it has no Unicode character map (format 4)")
	}
	return nil
}

// sfntTables returns the tables of a TrueType font by tag, each checked to
// lie within the file.
func sfntTables(ttf []byte) (map[string][]byte, error) {
	if len(ttf) < 12 {
		return nil, errors.New("not a TrueType font: too short")
	}
	switch string(ttf[:4]) {
	case "\x00\x01\x00\x00", "true":
	case "OTTO":
		return nil, errors.New("an OpenType font with CFF outlines (.otf): use a TrueType (.ttf) font")
	case "ttcf":
		return nil, errors.New("a font collection (.ttc): use a single TrueType (.ttf) font")
	default:
		return nil, errors.New("not a TrueType font")
	}
	n := int(u16(ttf, 4))
	if len(ttf) < 12+16*n {
		return nil, errors.New("not a TrueType font: its table directory is cut short")
	}
	tables := make(map[string][]byte, n)
	for i := range n {
		rec := ttf[12+16*i:]
		off, size := uint64(binary.BigEndian.Uint32(rec[8:])), uint64(binary.BigEndian.Uint32(rec[12:]))
		if off+size > uint64(len(ttf)) {
			return nil, fmt.Errorf("its %q table lies beyond the end of the file", rec[:4])
		}
		tables[string(rec[:4])] = ttf[off : off+size]
	}
	return tables, nil
}

// hasUnicodeMap reports whether a cmap table has the subtable the PDF
// library reads: format 4, for Windows Unicode (3, 1) or any Unicode
// platform (0).
func hasUnicodeMap(cmap []byte) bool {
	n := int(u16(cmap, 2))
	for i := range n {
		rec := 4 + 8*i
		platform, encoding := u16(cmap, rec), u16(cmap, rec+2)
		if !(platform == 3 && encoding == 1 || platform == 0) || len(cmap) < rec+8 {
			continue
		}
		if off := int(binary.BigEndian.Uint32(cmap[rec+4:])); u16(cmap, off) == 4 {
			return true
		}
	}
	return false
}

// u16 is the big-endian uint16 at off in b, or 0 past its end.
func u16(b []byte, off int) uint16 {
	if off < 0 || off+2 > len(b) {
		return 0
	}
	return binary.BigEndian.Uint16(b[off:])
}

// tryFont loads ttf into a throwaway PDF, which fails on what
// checkTrueType does not look at. The library reads the font without
// bounds checks: a malformed font panics, which is recovered here.
func tryFont(ttf []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the PDF library cannot read it: %v", r)
		}
	}()
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.AddUTF8FontFromBytes(fontFamily, "", ttf)
	pdf.SetFont(fontFamily, "", labelPoints)
	if pdf.GetStringWidth("A") <= 0 {
		return errors.New("the PDF library reads no glyph widths from it")
	}
	if err := pdf.Error(); err != nil {
		return fmt.Errorf("the PDF library cannot use it: %w", err)
	}
	return nil
}
