package exitcode

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"
)

func TestOf(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, OK},
		{"help", fmt.Errorf("parse: %w", flag.ErrHelp), OK},
		{"plain", errors.New("boom"), Error},
		{"usage", UsageError(errors.New("bad flag")), Usage},
		{"wrapped status", fmt.Errorf("run: %w", Withf(4, "%d failed", 3)), 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Of(tt.err); got != tt.want {
				t.Errorf("Of(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

func TestExit(t *testing.T) {
	var stderr strings.Builder
	var code int
	exit("worker", Withf(3, "%d tasks paused", 2), &stderr, func(c int) { code = c })
	if code != 3 || stderr.String() != "worker: 2 tasks paused\n" {
		t.Errorf("exit: status %d, stderr %q; want 3, %q", code, stderr.String(), "worker: 2 tasks paused\n")
	}
	stderr.Reset()
	exit("worker", flag.ErrHelp, &stderr, func(c int) { code = c })
	if code != OK || stderr.Len() != 0 {
		t.Errorf("exit(help): status %d, stderr %q; want 0 and nothing", code, stderr.String())
	}
}
