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

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/internal/filename"
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
	var names filename.Set
	var printed Printed
	for _, rec := range c.Records {
		body, ext, err := c.file(ctx, rec, format, size)
		if errors.Is(err, errImageMissing) {
			printed.Missing = append(printed.Missing, err.Error())
			continue
		}
		if err == nil {
			name := names.Label(rec.Label(), ext)
			if name == "" {
				name = names.Label(rec.ID, ext)
			}
			err = writeZipFile(zw, name, rec, body)
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
