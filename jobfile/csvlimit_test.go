package jobfile_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wxqr/wxqr/jobfile"
)

// TestCSVRecordTooLong feeds jobs files whose quote never closes, or whose
// one line is too long, and checks the error names the line the record
// starts on.
func TestCSVRecordTooLong(t *testing.T) {
	const header = "kind,app_id,scene_str\n"
	tests := []struct {
		name     string
		contents string
		wantLine int
		wantRows int // rows passed on before the error
	}{
		{"quote never closes", header + "oa_perm,wx1,a\noa_perm,wx1,b\n\n" +
			"oa_perm,wx1,\"never closes\n" + strings.Repeat("oa_perm,wx1,x\n", 300_000), 5, 2},
		{"one long line", header + "oa_perm,wx1," + strings.Repeat("x", jobfile.MaxRecordBytes) + "\n", 2, 0},
		{"multi-line header quote", "\"kind\n" + strings.Repeat("\n", jobfile.MaxRecordBytes), 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "jobs.csv")
			if err := os.WriteFile(path, []byte(tt.contents), 0o600); err != nil {
				t.Fatal(err)
			}
			rows := 0
			err := jobfile.CSVFile{Path: path, Display: "jobs.csv"}.Each(t.Context(), func(int, *jobfile.Row) error {
				rows++
				return nil
			})
			want := fmt.Sprintf("jobs.csv:%d: record longer than %d bytes (unterminated quote?)", tt.wantLine, jobfile.MaxRecordBytes)
			if err == nil || err.Error() != want {
				t.Fatalf("each = %v, want %q", err, want)
			}
			if !errors.As(err, new(*jobfile.InputError)) {
				t.Errorf("error %v (%T) is not an InputError", err, err)
			}
			if rows != tt.wantRows {
				t.Errorf("%d rows before the error, want %d", rows, tt.wantRows)
			}
		})
	}
}

// TestCSVRecordLimitStreams reads an unterminated quote followed by 16 MB
// and checks that the error comes after reading about one record's bound,
// not the whole input.
func TestCSVRecordLimitStreams(t *testing.T) {
	const rest = 16 << 20
	prefix := "kind,app_id,scene_str\noa_perm,wx1,\"open\n"
	in := &countingReader{r: io.MultiReader(strings.NewReader(prefix), io.LimitReader(repeatReader('x'), rest))}
	err := jobfile.ReadCSV(t.Context(), jobfile.CSVFile{Display: "stdin"}, in, func(int, *jobfile.Row) error { return nil })
	if err == nil || !strings.HasPrefix(err.Error(), "stdin:2: record longer than") {
		t.Fatalf("read = %v, want a record too long at line 2", err)
	}
	// What may be read past the bound: the reader's buffer (64 KiB) and
	// encoding/csv's (4 KiB).
	if limit := len(prefix) + jobfile.MaxRecordBytes + 64<<10 + 4<<10; in.n > limit {
		t.Errorf("read %d bytes of %d before failing, want at most %d", in.n, len(prefix)+rest, limit)
	}
}

// TestCSVRecordLimitPerRecord checks that the bound is per record: records
// that together pass it, quoted fields with newlines and doubled quotes
// among them, are read whole.
func TestCSVRecordLimitPerRecord(t *testing.T) {
	field := strings.Repeat("a\"\"b\n", (jobfile.MaxRecordBytes-100)/5) // just under the bound
	var b strings.Builder
	b.WriteString("kind,app_id,scene_str\n")
	for range 3 {
		b.WriteString("oa_perm,wx1,\"" + field + "\"\n")
	}
	rows := 0
	err := jobfile.ReadCSV(t.Context(), jobfile.CSVFile{Display: "jobs.csv"}, strings.NewReader(b.String()), func(_ int, r *jobfile.Row) error {
		rows++
		if want := strings.ReplaceAll(field, `""`, `"`); r.SceneStr != want {
			t.Errorf("row %d: scene_str of %d bytes, want %d", rows, len(r.SceneStr), len(want))
		}
		return nil
	})
	if err != nil || rows != 3 {
		t.Fatalf("read: %d rows, error %v; want 3 rows", rows, err)
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// repeatReader is an endless stream of one byte.
type repeatReader byte

func (b repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}
