package jobfile

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"strconv"
	"strings"

	"github.com/wxqr/wxqr"
)

// Row is one code as the input states it: text, before any parsing, so
// that every source (CSV file, workbook, flags) goes through the same checks.
type Row struct {
	Kind, AppID, SceneID, SceneStr, Path, Width, ExpireSeconds, Campaign string
	// Name is the code's label for people (wxqr.Request.Name).
	Name string
	// Problem is what made the row unreadable (a wrong number of CSV
	// fields); nil for a readable row.
	Problem *wxqr.FieldError
	Style
}

// Source yields the rows of one input. Each may be called more than once
// and yields the same rows every time: the input is read once to validate
// it and again to queue it, so it never has to fit in memory.
type Source interface {
	// Name is how errors refer to the input: "jobs.csv", "stdin",
	// "--scene-ids", "campaign.xlsx:Codes".
	Name() string
	// Each calls fn with every row and its line number (its row number in
	// a sheet, its position for inputs without lines), stopping at the
	// first error.
	Each(ctx context.Context, fn func(line int, r *Row) error) error
}

// rowLocator is a source whose rows are not lines of a text file: it says
// itself how an error points at one.
type rowLocator interface {
	locate(line int) string
}

// Locate is how an error points at the row of src at line: "jobs.csv:12",
// or what src says ("campaign.xlsx:Codes!12").
func Locate(src Source, line int) string {
	if l, ok := src.(rowLocator); ok {
		return l.locate(line)
	}
	return fmt.Sprintf("%s:%d", src.Name(), line)
}

// Columns are the columns of a jobs file, in documented order.
var Columns = []string{"kind", "app_id", "scene_id", "scene_str", "path", "width", "expire_seconds", "campaign", "name",
	"auto_color", "line_color", "is_hyaline", "env_version", "check_path"}

// CSVFile is a jobs file: CSV with a header naming some of Columns.
type CSVFile struct {
	// Path is where the file is.
	Path string
	// Display is how errors name it: "jobs.csv", "stdin".
	Display string
	HeaderRules
}

func (s CSVFile) Name() string { return s.Display }

func (s CSVFile) Each(ctx context.Context, fn func(line int, r *Row) error) error {
	f, err := os.Open(s.Path)
	if err != nil {
		return fmt.Errorf("open jobs file: %w", err)
	}
	defer f.Close()
	return s.read(ctx, f, fn)
}

// read is each over an open jobs file. No record may pass maxRecordBytes:
// a quote that never closes would otherwise read the rest of the input
// into memory.
func (s CSVFile) read(ctx context.Context, r io.Reader, fn func(line int, r *Row) error) error {
	cr := csv.NewReader(newRecordLimiter(bufio.NewReaderSize(r, 64<<10), maxRecordBytes))
	// One record buffer for the whole file; the strings cut from it are
	// used before the next Read.
	cr.ReuseRecord = true

	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return inputErrorf("%s: empty file: want a header line naming the columns (%s)", s.Display, strings.Join(Columns, ","))
	}
	if err != nil {
		return s.parseError(err)
	}
	set, err := s.setters(header, s.Display+":1")
	if err != nil {
		return err
	}
	// csv.Reader now expects every record to have as many fields as the
	// header (FieldsPerRecord is set from the first record).
	var row Row
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		record, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil && !errors.Is(err, csv.ErrFieldCount) {
			return s.parseError(err)
		}
		line, _ := cr.FieldPos(0)
		row = Row{}
		if err != nil {
			row.Problem = &wxqr.FieldError{Rule: fmt.Sprintf("want %d fields as in the header, got %d", len(header), len(record))}
		} else {
			for i, v := range record {
				*set[i](&row) = v
			}
		}
		if err := fn(line, &row); err != nil {
			return err
		}
	}
}

// HeaderRules is what the header of a jobs file must name, whatever the
// file's format.
type HeaderRules struct {
	// HaveKind and HaveApp say whether flags supply kind and app_id, so a
	// file without those columns is accepted.
	HaveKind, HaveApp bool
}

// cells maps each column to the Row field that holds its cell.
var cells = func() map[string]func(*Row) *string {
	m := map[string]func(*Row) *string{
		"kind":           func(r *Row) *string { return &r.Kind },
		"app_id":         func(r *Row) *string { return &r.AppID },
		"scene_id":       func(r *Row) *string { return &r.SceneID },
		"scene_str":      func(r *Row) *string { return &r.SceneStr },
		"path":           func(r *Row) *string { return &r.Path },
		"width":          func(r *Row) *string { return &r.Width },
		"expire_seconds": func(r *Row) *string { return &r.ExpireSeconds },
		"campaign":       func(r *Row) *string { return &r.Campaign },
		"name":           func(r *Row) *string { return &r.Name },
	}
	maps.Copy(m, styleFields)
	return m
}()

// Cell returns the field of r that holds the cell of column (one of
// Columns), or nil for a column that is not one: how a writer of jobs files
// lays a row out in columns.
func (r *Row) Cell(column string) *string {
	f, ok := cells[column]
	if !ok {
		return nil
	}
	return f(r)
}

// setters maps each header column to the Row field it fills; at is where
// errors say the header is ("jobs.csv:1"). Column names are matched without
// regard to case or surrounding spaces, and a UTF-8 byte order mark
// (spreadsheets write one) is ignored.
func (s HeaderRules) setters(header []string, at string) ([]func(*Row) *string, error) {
	set := make([]func(*Row) *string, len(header))
	seen := map[string]bool{}
	for i, h := range header {
		if i == 0 {
			h = strings.TrimPrefix(h, "\ufeff")
		}
		name := strings.ToLower(strings.TrimSpace(h))
		f, ok := cells[name]
		switch {
		case name == "":
			return nil, inputErrorf("%s: column %d has no name", at, i+1)
		case !ok:
			return nil, inputErrorf("%s: unknown column %q (known columns: %s)", at, h, strings.Join(Columns, ", "))
		case seen[name]:
			return nil, inputErrorf("%s: column %q appears twice", at, name)
		}
		seen[name] = true
		set[i] = f
	}
	if !seen["kind"] && !s.HaveKind {
		return nil, inputErrorf("%s: no kind column: add one or give --kind", at)
	}
	if !seen["app_id"] && !s.HaveApp {
		return nil, inputErrorf("%s: no app_id column: add one or give --app", at)
	}
	return set, nil
}

func (s CSVFile) parseError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return inputErrorf("%s:%d:%d: %v", s.Display, pe.Line, pe.Column, pe.Err)
	}
	var tooLong *recordTooLongError
	if errors.As(err, &tooLong) {
		return inputErrorf("%s:%d: %v", s.Display, tooLong.line, tooLong)
	}
	return fmt.Errorf("read %s: %w", s.Display, err)
}

// SceneIDs is the codes of --scene-ids, e.g. "1-5000" or
// "1-100,250,300-399". Kind, app and the rest come from flags.
type SceneIDs struct {
	ranges []idRange
}

type idRange struct{ from, to int64 }

// ParseSceneIDs parses a --scene-ids value.
func ParseSceneIDs(s string) (SceneIDs, error) {
	var src SceneIDs
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		from, to, isRange := strings.Cut(part, "-")
		lo, err1 := strconv.ParseInt(strings.TrimSpace(from), 10, 64)
		hi, err2 := lo, error(nil)
		if isRange {
			hi, err2 = strconv.ParseInt(strings.TrimSpace(to), 10, 64)
		}
		if err1 != nil || err2 != nil || hi < lo {
			return SceneIDs{}, fmt.Errorf("--scene-ids: %q: want N or FROM-TO with FROM <= TO, e.g. 1-5000", part)
		}
		src.ranges = append(src.ranges, idRange{lo, hi})
	}
	return src, nil
}

func (SceneIDs) Name() string { return "--scene-ids" }

func (s SceneIDs) Each(ctx context.Context, fn func(line int, r *Row) error) error {
	n := 0
	var row Row
	for _, rg := range s.ranges {
		for id := rg.from; id <= rg.to; id++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			n++
			row = Row{SceneID: strconv.FormatInt(id, 10)}
			if err := fn(n, &row); err != nil {
				return err
			}
			if id == rg.to { // id++ would overflow at the int64 maximum
				break
			}
		}
	}
	return nil
}

// Lines is a text file with one scene string (enqueue's --scene-strs) or
// one Mini Program path (--paths) per line. Blank lines are skipped; a trailing
// carriage return is dropped.
type Lines struct {
	Path    string
	Display string // how errors name the file
	IsPath  bool   // lines are paths, not scene strings
}

func (s Lines) Name() string { return s.Display }

func (s Lines) Each(ctx context.Context, fn func(line int, r *Row) error) error {
	f, err := os.Open(s.Path)
	if err != nil {
		return fmt.Errorf("open %s: %w", s.Display, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	var row Row
	for sc.Scan() {
		if err := ctx.Err(); err != nil {
			return err
		}
		n++
		text := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(text) == "" {
			continue
		}
		row = Row{}
		if s.IsPath {
			row.Path = text
		} else {
			row.SceneStr = text
		}
		if err := fn(n, &row); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", s.Display, err)
	}
	return nil
}
