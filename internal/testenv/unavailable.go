package testenv

import "testing"

// Unavailable stops a test that found a service it needs missing (one it
// starts itself, such as redis-server or MinIO): it is skipped, or fails
// under CI=true, as for the services this package gives.
func Unavailable(tb testing.TB, format string, args ...any) {
	tb.Helper()
	unavailable(tb, format, args...)
}
