package e2e

import (
	"testing"
	"time"
)

// eventually waits until cond holds, checking every 50 ms, and fails the test
// with what after timeout. It waits for a state the test cannot be told
// about (a count in the simulator, a process's progress), never for time to
// pass.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("test ended waiting for %s", what)
		case <-tick.C:
		}
	}
}
