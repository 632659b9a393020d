package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// Tool returns the path of a command-line tool a test needs, e.g. openssl
// as a reference implementation. When it is not installed, the test is
// skipped, or fails under CI=true.
func Tool(tb testing.TB, name string) string {
	tb.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		unavailable(tb, "%s is not installed", name)
	}
	return path
}

// File returns path, a file a test needs that the system provides (a font,
// say). When it is missing, the test is skipped, or fails under CI=true.
func File(tb testing.TB, path string) string {
	tb.Helper()
	if _, err := os.Stat(path); err != nil {
		unavailable(tb, "%s is missing (%v)", path, err)
	}
	return path
}
