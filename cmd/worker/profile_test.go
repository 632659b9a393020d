package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestStartCPUProfile(t *testing.T) {
	t.Run("unset", func(t *testing.T) {
		stop, err := startCPUProfile(func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		stop()
	})
	t.Run("written", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "cpu.prof")
		stop, err := startCPUProfile(profileEnv(path))
		if err != nil {
			t.Fatal(err)
		}
		stop()
		if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
			t.Errorf("profile %s: %v; want a profile written", path, err)
		}
	})
	t.Run("unwritable", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "missing", "cpu.prof")
		if _, err := startCPUProfile(profileEnv(path)); err == nil {
			t.Error("startCPUProfile into a missing directory succeeded, want an error")
		}
	})
}

// profileEnv is an environment that names path as the CPU profile.
func profileEnv(path string) func(string) string {
	return func(name string) string {
		if name == envCPUProfile {
			return path
		}
		return ""
	}
}
