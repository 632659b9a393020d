package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/wxqr/wxqr/internal/testenv"
)

// A tiny run goes through every step and prints a table with numbers: the
// command keeps working. (Its figures mean nothing at this size.)
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the commands and starts MinIO and Redis")
	}
	var out, log bytes.Buffer
	err := run(t.Context(), []string{"--codes", "40", "--rounds", "1", "--concurrency", "4"}, os.Getenv, &out, &log)
	if errors.Is(err, errMissing) {
		testenv.Unavailable(t, "%v", err)
	}
	if err != nil {
		t.Fatalf("run: %v\n%s", err, log.String())
	}
	// Each row gives wxqr's figure; the first three give the naive loop's and
	// the loop's on asynq too.
	for i, row := range []string{"codes/s", "CPU per code, the process making codes", "MinIO CPU per code", "Redis bytes per finished code"} {
		t.Run(row, func(t *testing.T) {
			m := regexp.MustCompile(`(?m)^\| ` + regexp.QuoteMeta(row) + ` \|(.*)\|$`).FindStringSubmatch(out.String())
			if m == nil {
				t.Fatalf("no row %q in:\n%s", row, out.String())
			}
			cells := strings.Split(m[1], "|")
			ways := []string{"wxqr", "the naive loop", "the naive loop on asynq"}
			if i == 3 {
				ways = ways[:1]
			}
			for j, way := range ways {
				number, _, _ := strings.Cut(strings.TrimSpace(cells[j]), " ")
				if v, err := strconv.ParseFloat(number, 64); err != nil || v <= 0 {
					t.Errorf("%s's %s = %q, want a positive number", way, row, cells[j])
				}
			}
		})
	}
	if !regexp.MustCompile(`raw S3 PUTs: [1-9][0-9]*/s`).MatchString(out.String()) {
		t.Errorf("no raw PUT rate in:\n%s", out.String())
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		ok   bool
	}{
		{"defaults", nil, true},
		{"all", []string{"--codes", "10", "--concurrency", "2", "--rounds", "1", "--latency", "20ms"}, true},
		{"no codes", []string{"--codes", "0"}, false},
		{"negative latency", []string{"--latency", "-1s"}, false},
		{"argument", []string{"extra"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseFlags(tt.args, func(string) string { return "" }, io.Discard)
			if (err == nil) != tt.ok {
				t.Errorf("parseFlags(%q) error = %v, want ok %v", tt.args, err, tt.ok)
			}
		})
	}
}
