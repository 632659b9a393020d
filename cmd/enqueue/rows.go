package main

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

// rawRow is one code as the input states it: text, before any parsing, so
// that every source (CSV file, workbook, flags) goes through the same checks.
type rawRow struct {
	Kind, AppID, SceneID, SceneStr, Path, Width, ExpireSeconds, Campaign string
	// Name is the code's label for people (wxqr.Request.Name).
	Name string
	// Problem is what made the row unreadable (a wrong number of CSV
	// fields); nil for a readable row.
	Problem *wxqr.FieldError
	rawStyle
}

// source yields the rows of one input. each may be called more than once
// and yields the same rows every time: the input is read once to validate
// it and again to queue it, so it never has to fit in memory.
type source interface {
	// name is how errors refer to the input: "jobs.csv", "stdin",
	// "--scene-ids", "campaign.xlsx:Codes".
	name() string
	// each calls fn with every row and its line number (its row number in
	// a sheet, its position for inputs without lines), stopping at the
	// first error.
	each(ctx context.Context, fn func(line int, r *rawRow) error) error
}

// rowLocator is a source whose rows are not lines of a text file: it says
// itself how an error points at one.
type rowLocator interface {
	locate(line int) string
}

// locate is how an error points at the row of src at line: "jobs.csv:12",
// or what src says ("campaign.xlsx:Codes!12").
func locate(src source, line int) string {
	if l, ok := src.(rowLocator); ok {
		return l.locate(line)
	}
	return fmt.Sprintf("%s:%d", src.name(), line)
}

// The columns of a jobs file, in documented order.
var columns = []string{"kind", "app_id", "scene_id", "scene_str", "path", "width", "expire_seconds", "campaign", "name",
	"auto_color", "line_color", "is_hyaline", "env_version", "check_path"}

// csvSource is a jobs file: CSV with a header naming some of columns.
type csvSource struct {
	path    string
	display string
	headerRules
}

func (s csvSource) name() string { return s.display }

func (s csvSource) each(ctx context.Context, fn func(line int, r *rawRow) error) error {
	f, err := os.Open(s.path)
	if err != nil {
		return fmt.Errorf("open jobs file: %w", err)
	}
	defer f.Close()
	return s.read(ctx, f, fn)
}

// read is each over an open jobs file. No record may pass maxRecordBytes:
// a quote that never closes would otherwise read the rest of the input
// into memory.
func (s csvSource) read(ctx context.Context, r io.Reader, fn func(line int, r *rawRow) error) error {
	cr := csv.NewReader(newRecordLimiter(bufio.NewReaderSize(r, 64<<10), maxRecordBytes))
	// One record buffer for the whole file; the strings cut from it are
	// used before the next Read.
	cr.ReuseRecord = true

	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return inputErrorf("%s: empty file: want a header line naming the columns (%s)", s.display, strings.Join(columns, ","))
	}
	if err != nil {
		return s.parseError(err)
	}
	set, err := s.setters(header, s.display+":1")
	if err != nil {
		return err
	}
	// csv.Reader now expects every record to have as many fields as the
	// header (FieldsPerRecord is set from the first record).
	var row rawRow
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
		row = rawRow{}
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

// headerRules is what the header of a jobs file must name, whatever the
// file's format.
type headerRules struct {
	// haveKind and haveApp say whether flags supply kind and app_id, so a
	// file without those columns is accepted.
	haveKind, haveApp bool
}

// setters maps each header column to the rawRow field it fills; at is where
// errors say the header is ("jobs.csv:1"). Column names are matched without
// regard to case or surrounding spaces, and a UTF-8 byte order mark
// (spreadsheets write one) is ignored.
func (s headerRules) setters(header []string, at string) ([]func(*rawRow) *string, error) {
	fields := map[string]func(*rawRow) *string{
		"kind":           func(r *rawRow) *string { return &r.Kind },
		"app_id":         func(r *rawRow) *string { return &r.AppID },
		"scene_id":       func(r *rawRow) *string { return &r.SceneID },
		"scene_str":      func(r *rawRow) *string { return &r.SceneStr },
		"path":           func(r *rawRow) *string { return &r.Path },
		"width":          func(r *rawRow) *string { return &r.Width },
		"expire_seconds": func(r *rawRow) *string { return &r.ExpireSeconds },
		"campaign":       func(r *rawRow) *string { return &r.Campaign },
		"name":           func(r *rawRow) *string { return &r.Name },
	}
	maps.Copy(fields, styleFields)
	set := make([]func(*rawRow) *string, len(header))
	seen := map[string]bool{}
	for i, h := range header {
		if i == 0 {
			h = strings.TrimPrefix(h, "\ufeff")
		}
		name := strings.ToLower(strings.TrimSpace(h))
		f, ok := fields[name]
		switch {
		case name == "":
			return nil, inputErrorf("%s: column %d has no name", at, i+1)
		case !ok:
			return nil, inputErrorf("%s: unknown column %q (known columns: %s)", at, h, strings.Join(columns, ", "))
		case seen[name]:
			return nil, inputErrorf("%s: column %q appears twice", at, name)
		}
		seen[name] = true
		set[i] = f
	}
	if !seen["kind"] && !s.haveKind {
		return nil, inputErrorf("%s: no kind column: add one or give --kind", at)
	}
	if !seen["app_id"] && !s.haveApp {
		return nil, inputErrorf("%s: no app_id column: add one or give --app", at)
	}
	return set, nil
}

func (s csvSource) parseError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return inputErrorf("%s:%d:%d: %v", s.display, pe.Line, pe.Column, pe.Err)
	}
	var tooLong *recordTooLongError
	if errors.As(err, &tooLong) {
		return inputErrorf("%s:%d: %v", s.display, tooLong.line, tooLong)
	}
	return fmt.Errorf("read %s: %w", s.display, err)
}

// sceneIDSource is the codes of --scene-ids, e.g. "1-5000" or
// "1-100,250,300-399". Kind, app and the rest come from flags.
type sceneIDSource struct {
	ranges []idRange
}

type idRange struct{ from, to int64 }

// parseSceneIDs parses a --scene-ids value.
func parseSceneIDs(s string) (sceneIDSource, error) {
	var src sceneIDSource
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		from, to, isRange := strings.Cut(part, "-")
		lo, err1 := strconv.ParseInt(strings.TrimSpace(from), 10, 64)
		hi, err2 := lo, error(nil)
		if isRange {
			hi, err2 = strconv.ParseInt(strings.TrimSpace(to), 10, 64)
		}
		if err1 != nil || err2 != nil || hi < lo {
			return sceneIDSource{}, fmt.Errorf("--scene-ids: %q: want N or FROM-TO with FROM <= TO, e.g. 1-5000", part)
		}
		src.ranges = append(src.ranges, idRange{lo, hi})
	}
	return src, nil
}

func (sceneIDSource) name() string { return "--scene-ids" }

func (s sceneIDSource) each(ctx context.Context, fn func(line int, r *rawRow) error) error {
	n := 0
	var row rawRow
	for _, rg := range s.ranges {
		for id := rg.from; id <= rg.to; id++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			n++
			row = rawRow{SceneID: strconv.FormatInt(id, 10)}
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

// lineSource is a text file with one scene string (--scene-strs) or one
// Mini Program path (--paths) per line. Blank lines are skipped; a trailing
// carriage return is dropped.
type lineSource struct {
	path    string
	display string
	isPath  bool // lines are paths, not scene strings
}

func (s lineSource) name() string { return s.display }

func (s lineSource) each(ctx context.Context, fn func(line int, r *rawRow) error) error {
	f, err := os.Open(s.path)
	if err != nil {
		return fmt.Errorf("open %s: %w", s.display, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	var row rawRow
	for sc.Scan() {
		if err := ctx.Err(); err != nil {
			return err
		}
		n++
		text := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(text) == "" {
			continue
		}
		row = rawRow{}
		if s.isPath {
			row.Path = text
		} else {
			row.SceneStr = text
		}
		if err := fn(n, &row); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", s.display, err)
	}
	return nil
}
