package testenv

import (
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
