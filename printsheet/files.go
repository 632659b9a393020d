package printsheet

import (
	"archive/zip"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/wxqr/wxqr"
)

// Format is the format of the per-code files in a zip.
type Format string

// The per-code formats.
const (
	// SVG: an Official Account code as vector squares from its url; a Mini
	// Program code as its stored image, embedded (a data: URI).
	SVG Format = "svg"
	// PNG: an Official Account code drawn from its url, at least
	// MinPNGWidth pixels wide; a Mini Program code as its stored image,
	// JPEG or PNG as stored.
	PNG Format = "png"
)

// ParseFormat returns the file format named s ("svg" or "png").
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(s)); f {
	case SVG, PNG:
		return f, nil
	}
	return "", fmt.Errorf("format %q: want svg or png", s)
}

// WriteZip streams to w a zip with one file per code in format, named by
// its label (made safe for any file system; a repeated name gets " (2)",
// " (3)"...), in print order. An SVG is size millimetres wide (0: the
// DefaultCodeSize). Only one image is in memory at a time. Codes whose
// image is missing or broken are left out, listed in MISSING.txt at the
// end and in Printed.Missing; a file WARNING.txt holds Warning when codes
// expire.
func (c *Codes) WriteZip(ctx context.Context, w io.Writer, format Format, size float64) (Printed, error) {
	if _, err := ParseFormat(string(format)); err != nil {
		return Printed{}, fmt.Errorf("printsheet: %w", err)
	}
	if size == 0 {
		size = DefaultCodeSize
	}
	zw := zip.NewWriter(w)
	names := newFileNames()
	var printed Printed
	for _, rec := range c.Records {
		body, ext, err := c.file(ctx, rec, format, size)
		if errors.Is(err, errImageMissing) {
			printed.Missing = append(printed.Missing, err.Error())
			continue
		}
		if err == nil {
			err = writeZipFile(zw, names.name(rec.Label(), rec.ID)+ext, rec, body)
		}
		if err != nil {
			return Printed{}, err
		}
		printed.Codes++
	}
	if err := c.writeNotes(zw, printed.Missing); err != nil {
		return Printed{}, err
	}
	if err := zw.Close(); err != nil {
		return Printed{}, fmt.Errorf("printsheet: write zip: %w", err)
	}
	return printed, nil
}

// file returns rec's file in format, and its extension.
func (c *Codes) file(ctx context.Context, rec *wxqr.Record, format Format, size float64) ([]byte, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	if drawnFromURL(rec) {
		if format == SVG {
			body, err := urlSVG(rec.URL, rec.Label(), size)
			return body, ".svg", err
		}
		body, err := urlPNG(rec.URL)
		return body, ".png", err
	}
	body, contentType, err := c.image(ctx, rec)
	switch {
	case err != nil:
		return nil, "", err
	case format == SVG:
		return imageSVG(body, contentType, rec.Label(), size), ".svg", nil
	case contentType == wxqr.ContentTypePNG:
		return body, ".png", nil
	default:
		return body, ".jpg", nil
	}
}

func writeZipFile(zw *zip.Writer, name string, rec *wxqr.Record, body []byte) error {
	method := zip.Deflate
	if !strings.HasSuffix(name, ".svg") {
		method = zip.Store // images are compressed already
	}
	f, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: method, Modified: rec.CreatedAt})
	if err == nil {
		_, err = f.Write(body)
	}
	if err != nil {
		return fmt.Errorf("printsheet: write zip: %w", err)
	}
	return nil
}

// writeNotes ends the zip with what its reader must know: WARNING.txt
// when codes expire, MISSING.txt when codes were left out.
func (c *Codes) writeNotes(zw *zip.Writer, missing []string) error {
	notes := []struct{ name, text string }{
		{"WARNING.txt", c.Warning()},
		{"MISSING.txt", strings.Join(missing, "\n")},
	}
	for _, n := range notes {
		if n.text == "" {
			continue
		}
		f, err := zw.Create(n.name)
		if err == nil {
			_, err = io.WriteString(f, n.text+"\n")
		}
		if err != nil {
			return fmt.Errorf("printsheet: write zip: %w", err)
		}
	}
	return nil
}

// urlSVG draws the code of url as an SVG size millimetres wide, one unit
// per module: a white square and one path of dark squares.
func urlSVG(url, title string, size float64) ([]byte, error) {
	m, err := modules(url)
	if err != nil {
		return nil, err
	}
	n := strconv.Itoa(len(m))
	var b strings.Builder
	svgOpen(&b, title, size, len(m), len(m))
	b.WriteString(`<rect width="` + n + `" height="` + n + `" fill="#fff"/>` + "\n")
	b.WriteString(`<path fill="#000" d="`)
	for _, r := range runs(m) {
		fmt.Fprintf(&b, "M%d %dh%dv1h-%dz", r.x, r.y, r.n, r.n)
	}
	b.WriteString(`"/>` + "\n</svg>\n")
	return []byte(b.String()), nil
}

// imageSVG wraps a stored image in an SVG size millimetres wide.
func imageSVG(body []byte, contentType, title string, size float64) []byte {
	info, _ := wxqr.CheckImage(body, 0) // checked whole by Codes.image
	var b strings.Builder
	svgOpen(&b, title, size, info.Width, info.Height)
	fmt.Fprintf(&b, `<image width="%d" height="%d" xlink:href="data:%s;base64,`, info.Width, info.Height, contentType)
	b.WriteString(base64.StdEncoding.EncodeToString(body))
	b.WriteString(`"/>` + "\n</svg>\n")
	return []byte(b.String())
}

// svgOpen starts an SVG whose user units run w × h, drawn size
// millimetres wide.
func svgOpen(b *strings.Builder, title string, size float64, w, h int) {
	mm := func(v float64) string { return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64) + "mm" }
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" version="1.1" `)
	fmt.Fprintf(b, `width="%s" height="%s" viewBox="0 0 %d %d" shape-rendering="crispEdges">`+"\n",
		mm(size), mm(size*float64(h)/float64(w)), w, h)
	title = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f { // not allowed in XML 1.0, or meaningless in a title
			return ' '
		}
		return r
	}, title)
	b.WriteString("<title>" + html.EscapeString(title) + "</title>\n")
}

// fileNames hands out file names for a zip, each used once. Names are
// compared without case, as macOS and Windows do.
type fileNames struct {
	used map[string]bool
	next map[string]int // the next number to try after a name, once it is used
}

func newFileNames() *fileNames {
	return &fileNames{used: map[string]bool{}, next: map[string]int{}}
}

// maxFileName bounds a name's bytes, well under the 255 most file systems
// allow, leaving room for " (n)" and the extension.
const maxFileName = 120

// name returns label as a safe file name (fallback when nothing is left of
// it), with " (2)", " (3)"... when the name was handed out already.
func (f *fileNames) name(label, fallback string) string {
	base := safeFileName(label)
	if base == "" {
		base = fallback
	}
	key := strings.ToLower(base)
	candidate := base
	n := max(f.next[key], 2)
	// "x (2)" may be a label of its own: skip the names in use.
	for f.used[strings.ToLower(candidate)] {
		candidate = base + " (" + strconv.Itoa(n) + ")"
		n++
	}
	f.next[key] = n
	f.used[strings.ToLower(candidate)] = true
	return candidate
}

// safeFileName keeps what every file system accepts of s: no path
// separators or characters Windows refuses, no control characters, no
// leading dot or trailing dot and space, at most maxFileName bytes.
func safeFileName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || strings.ContainsRune(`/\:*?"<>|`, r) {
			return '_'
		}
		return r
	}, s)
	for len(s) > maxFileName {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	s = strings.TrimRight(strings.TrimLeft(strings.TrimSpace(s), "."), ". ")
	if reservedOnWindows[strings.ToUpper(s)] {
		s = "_" + s
	}
	return s
}

// reservedOnWindows are names Windows keeps for devices, whatever the
// extension.
var reservedOnWindows = map[string]bool{
	"CON": true, "PRN": true, "AUX": true, "NUL": true,
	"COM1": true, "COM2": true, "COM3": true, "COM4": true, "COM5": true, "COM6": true, "COM7": true, "COM8": true, "COM9": true,
	"LPT1": true, "LPT2": true, "LPT3": true, "LPT4": true, "LPT5": true, "LPT6": true, "LPT7": true, "LPT8": true, "LPT9": true,
}
