package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wxqr/wxqr/internal/testenv"
)

// TestDemo runs the demo as the README does, small, twice into one
// directory: the first run makes every code, the second none.
func TestDemo(t *testing.T) {
	opts := testenv.RedisOptions(t)
	env := map[string]string{"REDIS_URL": fmt.Sprintf("redis://%s/%d", opts.Addr, opts.DB)}
	out := t.TempDir()
	args := []string{"--temp", "6", "--perm", "2", "--mini", "3", "--out", out}

	for i, wantMade := range []int{11, 0} {
		var stdout, stderr bytes.Buffer
		if err := run(t.Context(), args, func(k string) string { return env[k] }, &stdout, &stderr); err != nil {
			t.Fatalf("run %d: %v\n%s\n%s", i+1, err, stdout.String(), stderr.String())
		}
		if want := fmt.Sprintf("WeChat made %d codes this run", wantMade); !strings.Contains(stdout.String(), want) {
			t.Errorf("run %d says:\n%s\nwant %q", i+1, stdout.String(), want)
		}
		if images, err := countImages(out); err != nil || images != 11 {
			t.Errorf("run %d: %d images in %s (%v), want 11", i+1, images, out, err)
		}
		manifest, err := os.ReadFile(filepath.Join(out, "manifest.csv"))
		if err != nil {
			t.Fatal(err)
		}
		if lines := strings.Count(string(manifest), "\n"); lines != 12 {
			t.Errorf("run %d: manifest has %d lines, want a header and 11 codes", i+1, lines)
		}
		// A person opening the directory sees the images and the manifest;
		// everything else is hidden.
		for _, name := range visibleFiles(t, out) {
			if !strings.HasSuffix(name, ".jpg") && name != "manifest.csv" {
				t.Errorf("run %d: %s in sight in %s, want only images and the manifest", i+1, name, out)
			}
		}
	}
}

// visibleFiles lists the files under dir, in slash form, that are not
// hidden and not in a hidden folder.
func visibleFiles(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.IsDir() {
			rel, err := filepath.Rel(dir, path)
			names = append(names, filepath.ToSlash(rel))
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}
