package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/internal/testenv"
	"github.com/wxqr/wxqr/scans"
)

// demoArgs make a small demo: 11 codes, 8 of them OA codes, and 20 scans.
var demoArgs = []string{"--temp", "6", "--perm", "2", "--mini", "3", "--scans", "20"}

// wantScans are the counts each run of the demo with demoArgs adds to the
// campaign: 10 new users follow, 10 scans by the followers but the 2 who
// unfollow, 2 launches. The 10 scanners are the new users.
var wantScans = scans.Counts{Scans: 20, NewFollows: 10, Unfollows: 2, UniqueScanners: 10, Launches: 2}

// wantCounted is what the demo says callback counted of each run's 22
// pushes, of which every fourth was delivered twice, and of its launches.
var wantCounted = []string{
	"pushed 22 events to callback",
	"5 of them delivered twice",
	"callback answered 27 of 27 deliveries and counted 22 events (22 attributed to the campaign's codes); 5 deliveries were duplicates",
	"2 taken, 2 counted (2 attributed)",
}

// TestDemo runs the demo as the README does, small, twice into one
// directory: the first run makes every code, the second none; both push
// scans of the codes to callback, which counts them in the Redis.
func TestDemo(t *testing.T) {
	opts := testenv.RedisOptions(t)
	env := map[string]string{"REDIS_URL": fmt.Sprintf("redis://%s/%d", opts.Addr, opts.DB)}
	out := t.TempDir()
	args := slices.Concat(demoArgs, []string{"--out", out})

	for i, wantMade := range []int{11, 0} {
		stdout := runDemo(t, args, env)
		if want := fmt.Sprintf("WeChat made %d codes this run", wantMade); !strings.Contains(stdout, want) {
			t.Errorf("run %d says:\n%s\nwant %q", i+1, stdout, want)
		}
		for _, want := range wantCounted {
			if !strings.Contains(stdout, want) {
				t.Errorf("run %d says:\n%s\nwant %q", i+1, stdout, want)
			}
		}
		// The campaign's counts add up over the runs: the second run scans
		// the codes the first made, which the catalog knows.
		runs := int64(i + 1)
		want := scans.Counts{
			Scans: runs * wantScans.Scans, NewFollows: runs * wantScans.NewFollows, Unfollows: runs * wantScans.Unfollows,
			UniqueScanners: runs * wantScans.UniqueScanners, Launches: runs * wantScans.Launches,
		}
		if got := campaignCounts(t, opts); got != want {
			t.Errorf("run %d: campaign %q counts %+v, want %+v", i+1, campaign, got, want)
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

// TestDemoInMemoryRedis runs the demo where no Redis answers: on the
// in-memory one it starts, the codes are made and callback counts every
// scan once (the counting script runs there too).
func TestDemoInMemoryRedis(t *testing.T) {
	env := map[string]string{"REDIS_URL": "redis://" + testenv.UnreachableRedis(t).Options().Addr + "/0"}
	stdout := runDemo(t, slices.Concat(demoArgs, []string{"--out", t.TempDir()}), env)
	for _, want := range append([]string{"using an in-memory Redis", "WeChat made 11 codes this run"}, wantCounted...) {
		if !strings.Contains(stdout, want) {
			t.Errorf("the demo says:\n%s\nwant %q", stdout, want)
		}
	}
}

// runDemo runs the demo with args and the environment env, and returns
// what it printed.
func runDemo(t *testing.T, args []string, env map[string]string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), args, func(k string) string { return env[k] }, &stdout, &stderr); err != nil {
		t.Fatalf("demo %v: %v\n%s\n%s", args, err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// campaignCounts reads the demo campaign's counts in the Redis at opts.
func campaignCounts(t *testing.T, opts *redis.Options) scans.Counts {
	t.Helper()
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	cat, err := catalog.NewWithConfig(rdb, catalog.Config{})
	if err != nil {
		t.Fatal(err)
	}
	store, err := scans.New(t.Context(), rdb, cat, scans.Config{})
	if err != nil {
		t.Fatal(err)
	}
	counts, err := store.Campaigns(t.Context(), []string{campaign})
	if err != nil {
		t.Fatal(err)
	}
	return counts[0]
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
