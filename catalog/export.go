package catalog

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/wxqr/wxqr"
)

// RecordWriter writes records one at a time in some export format, each
// followed by the values of the writer's extra columns: numbers joined from
// elsewhere (the scan counts of each code, say) that the catalog does not
// know. Write may buffer; Flush writes out whatever is buffered and reports
// any error so far.
type RecordWriter interface {
	// Write writes rec and its extra values, one per extra column the
	// writer was made with, in order; any other number is an error.
	Write(rec *wxqr.Record, extra ...int64) error
	Flush() error
}

var (
	_ RecordWriter = (*CSVWriter)(nil)
	_ RecordWriter = (*JSONLWriter)(nil)
)

// Extra returns the values of an export's extra columns for a batch of
// records: one row per record, in order, each with one value per extra
// column of the writer.
type Extra func(ctx context.Context, recs []*wxqr.Record) ([][]int64, error)

// Export writes every record of campaign ("" = every record) to w, in id
// order, and flushes it. It returns how many records it wrote. When extra is
// not nil, it is called once per batch of BatchSize records, so a join costs
// a round trip per batch, not one per code; a nil extra writes no extra
// values.
func (c *Catalog) Export(ctx context.Context, campaign string, w RecordWriter, extra Extra) (int, error) {
	n := 0
	err := c.eachRecords(ctx, campaign, func(recs []*wxqr.Record) error {
		rows := make([][]int64, len(recs))
		if extra != nil {
			var err error
			if rows, err = extra(ctx, recs); err != nil {
				return fmt.Errorf("catalog: export: %w", err)
			}
			if len(rows) != len(recs) {
				return fmt.Errorf("catalog: export: %d rows of extra values for %d records", len(rows), len(recs))
			}
		}
		for i, rec := range recs {
			if err := w.Write(rec, rows[i]...); err != nil {
				return fmt.Errorf("catalog: export %s: %w", rec.ID, err)
			}
			n++
		}
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

// extraCount checks that a writer with want extra columns got as many
// values.
func extraCount(got, want int) error {
	if got != want {
		return fmt.Errorf("%d extra values for %d extra columns", got, want)
	}
	return nil
}

// csvHeader names the CSV columns; names and order are part of the format,
// so new columns go at the end (before the writer's extra columns).
var csvHeader = []string{
	"id", "kind", "app_id", "scene_id", "scene_str", "path", "width", "campaign",
	"ticket", "url", "expire_seconds", "expires_at", "created_at", "generation",
	"bucket", "key", "content_type", "size", "sha256", "retired", "name",
}

// CSVWriter writes records as CSV with a header row (RFC 4180, "\n" line
// ends). Times are RFC 3339 in UTC, to the second; optional numbers
// (scene_id, width, expire_seconds) and times are empty when zero. Values are
// written verbatim: no spreadsheet formula escaping, so that the file reads
// back exactly. Extra columns follow the record's own.
type CSVWriter struct {
	w           *csv.Writer
	header      []string
	extra       int
	wroteHeader bool
}

// WriteCSV returns a CSVWriter on w, with extra columns named extra after
// the record's own. The header is written with the first record, or by
// Flush if there is none.
func WriteCSV(w io.Writer, extra ...string) *CSVWriter {
	return &CSVWriter{w: csv.NewWriter(w), header: slices.Concat(csvHeader, extra), extra: len(extra)}
}

// Write writes rec and its extra values as one CSV row.
func (cw *CSVWriter) Write(rec *wxqr.Record, extra ...int64) error {
	if err := extraCount(len(extra), cw.extra); err != nil {
		return err
	}
	if err := cw.writeHeader(); err != nil {
		return err
	}
	row := []string{
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
		rec.Name,
	}
	for _, v := range extra {
		row = append(row, strconv.FormatInt(v, 10))
	}
	return cw.w.Write(row)
}

// Flush writes out buffered rows (and the header if nothing was written
// yet) and returns the first error any write met.
func (cw *CSVWriter) Flush() error {
	if err := cw.writeHeader(); err != nil {
		return err
	}
	cw.w.Flush()
	return cw.w.Error()
}

func (cw *CSVWriter) writeHeader() error {
	if cw.wroteHeader {
		return nil
	}
	cw.wroteHeader = true
	return cw.w.Write(cw.header)
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
// line, exactly as the catalog and the sidecars hold it, with the extra
// columns as more fields at its end.
type JSONLWriter struct {
	buf *bufio.Writer
	// line holds the record being written, encoded by enc.
	line bytes.Buffer
	enc  *json.Encoder
	// extraKeys are the extra columns' names as JSON object keys, each
	// with the comma before it and the colon after it.
	extraKeys []string
}

// WriteJSONL returns a JSONLWriter on w, with extra fields named extra. An
// extra name must not be one of a record's own fields.
func WriteJSONL(w io.Writer, extra ...string) *JSONLWriter {
	jw := &JSONLWriter{buf: bufio.NewWriter(w)}
	jw.enc = json.NewEncoder(&jw.line)
	// URLs carry '&': keep them readable rather than \u0026.
	jw.enc.SetEscapeHTML(false)
	for _, name := range extra {
		key, _ := json.Marshal(name) // a string always encodes
		jw.extraKeys = append(jw.extraKeys, ","+string(key)+":")
	}
	return jw
}

// Write writes rec and its extra fields as one line.
func (jw *JSONLWriter) Write(rec *wxqr.Record, extra ...int64) error {
	if err := extraCount(len(extra), len(jw.extraKeys)); err != nil {
		return err
	}
	jw.line.Reset()
	if err := jw.enc.Encode(rec); err != nil {
		return err
	}
	if len(extra) == 0 {
		_, err := jw.buf.Write(jw.line.Bytes())
		return err
	}
	// The record is one object ending in "}\n": the extra fields go
	// before its closing brace.
	jw.line.Truncate(jw.line.Len() - len("}\n"))
	for i, v := range extra {
		jw.line.WriteString(jw.extraKeys[i])
		jw.line.WriteString(strconv.FormatInt(v, 10))
	}
	jw.line.WriteString("}\n")
	_, err := jw.buf.Write(jw.line.Bytes())
	return err
}

// Flush writes out buffered lines.
func (jw *JSONLWriter) Flush() error {
	return jw.buf.Flush()
}
