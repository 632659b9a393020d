package catalog

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/wxqr/wxqr"
)

// RecordWriter writes records one at a time in some export format. Write
// may buffer; Flush writes out whatever is buffered and reports any error
// so far.
type RecordWriter interface {
	Write(rec *wxqr.Record) error
	Flush() error
}

var (
	_ RecordWriter = (*CSVWriter)(nil)
	_ RecordWriter = (*JSONLWriter)(nil)
)

// Export writes every record of campaign ("" = every record) to w, in id
// order, and flushes it. It returns how many records it wrote.
func (c *Catalog) Export(ctx context.Context, campaign string, w RecordWriter) (int, error) {
	n := 0
	err := c.Each(ctx, campaign, func(rec *wxqr.Record) error {
		if err := w.Write(rec); err != nil {
			return fmt.Errorf("catalog: export %s: %w", rec.ID, err)
		}
		n++
		return nil
	})
	if err != nil {
		return n, err
	}
	if err := w.Flush(); err != nil {
		return n, fmt.Errorf("catalog: export: %w", err)
	}
	return n, nil
}

// csvHeader names the CSV columns; names and order are part of the format.
var csvHeader = []string{
	"id", "kind", "app_id", "scene_id", "scene_str", "path", "width", "campaign",
	"ticket", "url", "expire_seconds", "expires_at", "created_at", "generation",
	"bucket", "key", "content_type", "size", "sha256", "retired",
}

// CSVWriter writes records as CSV with a header row (RFC 4180, "\n" line
// ends). Times are RFC 3339 in UTC, to the second; optional numbers
// (scene_id, width, expire_seconds) and times are empty when zero. Values are
// written verbatim: no spreadsheet formula escaping, so that the file reads
// back exactly.
type CSVWriter struct {
	w           *csv.Writer
	wroteHeader bool
}

// WriteCSV returns a CSVWriter on w. The header is written with the first
// record, or by Flush if there is none.
func WriteCSV(w io.Writer) *CSVWriter {
	return &CSVWriter{w: csv.NewWriter(w)}
}

// Write writes rec as one CSV row.
func (cw *CSVWriter) Write(rec *wxqr.Record) error {
	if err := cw.header(); err != nil {
		return err
	}
	return cw.w.Write([]string{
		rec.ID,
		string(rec.Kind),
		rec.AppID,
		optionalInt(rec.SceneID),
		rec.SceneStr,
		rec.Path,
		optionalInt(int64(rec.Width)),
		rec.Campaign,
		rec.Ticket,
		rec.URL,
		optionalInt(int64(rec.ExpireSeconds)),
		optionalTime(rec.ExpiresAt),
		optionalTime(rec.CreatedAt),
		strconv.Itoa(rec.Generation),
		rec.Bucket,
		rec.ObjectKey,
		rec.ContentType,
		strconv.FormatInt(rec.Size, 10),
		rec.SHA256,
		strconv.FormatBool(rec.Retired),
	})
}

// Flush writes out buffered rows (and the header if nothing was written
// yet) and returns the first error any write met.
func (cw *CSVWriter) Flush() error {
	if err := cw.header(); err != nil {
		return err
	}
	cw.w.Flush()
	return cw.w.Error()
}

func (cw *CSVWriter) header() error {
	if cw.wroteHeader {
		return nil
	}
	cw.wroteHeader = true
	return cw.w.Write(csvHeader)
}

func optionalInt(n int64) string {
	if n == 0 {
		return ""
	}
	return strconv.FormatInt(n, 10)
}

func optionalTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// JSONLWriter writes records as JSON lines: one wxqr.Record JSON object per
// line, exactly as the catalog and the sidecars hold it.
type JSONLWriter struct {
	buf *bufio.Writer
	enc *json.Encoder
}

// WriteJSONL returns a JSONLWriter on w.
func WriteJSONL(w io.Writer) *JSONLWriter {
	buf := bufio.NewWriter(w)
	enc := json.NewEncoder(buf)
	// URLs carry '&': keep them readable rather than \u0026.
	enc.SetEscapeHTML(false)
	return &JSONLWriter{buf: buf, enc: enc}
}

// Write writes rec as one line.
func (jw *JSONLWriter) Write(rec *wxqr.Record) error {
	return jw.enc.Encode(rec)
}

// Flush writes out buffered lines.
func (jw *JSONLWriter) Flush() error {
	return jw.buf.Flush()
}
