package storage_test

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/internal/testenv"
	"github.com/wxqr/wxqr/storage"
)

// testPrefix is the prefix every store under test has, so that every test
// also checks that keys are relative to it.
const testPrefix = "campaigns/2025"

// newStore returns an empty store of one kind, for one test.
type newStore func(t *testing.T) storage.Store

// backends are the stores that must all behave alike.
var backends = []struct {
	name string
	open newStore
}{
	{"dir", newDirStore},
	{"s3", newS3Store},
}

func newDirStore(t *testing.T) storage.Store {
	t.Helper()
	s, err := storage.NewDir(t.TempDir(), testPrefix)
	if err != nil {
		t.Fatalf("NewDir: %v", err)
	}
	return s
}

func newS3Store(t *testing.T) storage.Store {
	t.Helper()
	return newS3StoreIn(t, testenv.S3(t))
}

func newS3StoreIn(t *testing.T, cfg testenv.S3Config) *storage.S3Store {
	t.Helper()
	s, err := storage.NewS3(t.Context(), storage.S3Config{
		Bucket:         cfg.Bucket,
		Prefix:         testPrefix,
		Endpoint:       cfg.Endpoint,
		Region:         cfg.Region,
		ForcePathStyle: true,
		AccessKey:      cfg.AccessKey,
		SecretKey:      cfg.SecretKey,
	})
	if err != nil {
		t.Fatalf("NewS3: %v", err)
	}
	return s
}

// TestStores runs the same tests against every backend.
func TestStores(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, open newStore)
	}{
		{"PutGet", testPutGet},
		{"Overwrite", testOverwrite},
		{"Walk", testWalk},
		{"WalkInvalidPrefix", testWalkInvalidPrefix},
		{"WalkStopsOnError", testWalkStopsOnError},
		{"NotFound", testNotFound},
		{"InvalidKey", testInvalidKey},
		{"InvalidMeta", testInvalidMeta},
		{"Check", testCheck},
		{"Location", testLocation},
		{"CancelledContext", testCancelledContext},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) { tt.run(t, b.open) })
			}
		})
	}
}

func testPutGet(t *testing.T, open newStore) {
	s := open(t)
	codeKey := wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: "wx1234", SceneStr: "春节/../促销 2025"}.Key()
	tests := []struct {
		name            string
		key             string
		body            []byte
		contentType     string
		meta            map[string]string
		wantContentType string
	}{
		{
			name: "image with metadata", key: codeKey, body: []byte("\xff\xd8\xff jpeg"),
			contentType: "image/jpeg", wantContentType: "image/jpeg",
			meta: map[string]string{"id": "0123abcd", "scene_str": "春节/../促销 2025", "campaign": "spring-sale"},
		},
		{
			name: "values that headers mangle", key: "a/values.jpg", body: []byte("x"),
			contentType: "image/jpeg", wantContentType: "image/jpeg",
			meta: map[string]string{
				"spaces": "  both ends  ", "percent": "100%25 %zz %", "empty": "", "newline": "a\nb\r\n",
				"emoji": "☃🎉", "plus": "a+b=c&d", "quote": `"q" 'q'`,
			},
		},
		{
			name: "no metadata, no content type", key: "plain.bin", body: []byte{0, 1, 2},
			wantContentType: storage.DefaultContentType,
		},
		{
			name: "empty body", key: "a/empty.json", body: []byte{},
			contentType: "application/json", wantContentType: "application/json",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.Put(t.Context(), tt.key, tt.body, tt.contentType, tt.meta); err != nil {
				t.Fatalf("Put: %v", err)
			}
			got, err := s.Get(t.Context(), tt.key)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if !bytes.Equal(got.Body, tt.body) {
				t.Errorf("body = %q, want %q", got.Body, tt.body)
			}
			if got.ContentType != tt.wantContentType {
				t.Errorf("content type = %q, want %q", got.ContentType, tt.wantContentType)
			}
			if got.Meta == nil {
				t.Error("meta is nil, want a map")
			}
			if !maps.Equal(got.Meta, tt.meta) {
				t.Errorf("meta = %q, want %q", got.Meta, tt.meta)
			}
			head, err := s.Head(t.Context(), tt.key)
			if err != nil {
				t.Fatalf("Head: %v", err)
			}
			if head.Body != nil || head.ContentType != tt.wantContentType || !maps.Equal(head.Meta, tt.meta) || head.Meta == nil {
				t.Errorf("Head = body %q, content type %q, meta %q; want no body, %q, %q",
					head.Body, head.ContentType, head.Meta, tt.wantContentType, tt.meta)
			}
		})
	}
}

func testOverwrite(t *testing.T, open newStore) {
	s := open(t)
	ctx := t.Context()
	const key = "wx1/oa_temp/s-x.jpg"
	if err := s.Put(ctx, key, []byte("first image"), "image/jpeg", map[string]string{"generation": "1", "ticket": "old"}); err != nil {
		t.Fatalf("first Put: %v", err)
	}
	wantMeta := map[string]string{"generation": "2"}
	if err := s.Put(ctx, key, []byte("second"), "image/png", wantMeta); err != nil {
		t.Fatalf("second Put: %v", err)
	}
	got, err := s.Get(ctx, key)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if string(got.Body) != "second" || got.ContentType != "image/png" {
		t.Errorf("got %q (%s), want %q (image/png)", got.Body, got.ContentType, "second")
	}
	if !maps.Equal(got.Meta, wantMeta) {
		t.Errorf("meta = %q, want %q (nothing left of the first put)", got.Meta, wantMeta)
	}
	if keys := walkAll(t, s, ""); !slices.Equal(keys, []string{key}) {
		t.Errorf("Walk = %q, want just %q", keys, key)
	}
}

func testWalk(t *testing.T, open newStore) {
	s := open(t)
	// Put in no particular order; chosen so that the byte order of keys
	// differs from a directory-by-directory order ("a-b" < "a/" < "a0").
	keys := []string{"b/2.jpg", "a/1.jpg.json", "a0.jpg", "a/sub/x.jpg", "a-b.jpg", "a/1.jpg", "c.jpg"}
	for _, k := range keys {
		if err := s.Put(t.Context(), k, []byte(k), "", nil); err != nil {
			t.Fatalf("Put %q: %v", k, err)
		}
	}
	// Check must leave nothing that Walk lists.
	if err := s.Check(t.Context()); err != nil {
		t.Fatalf("Check: %v", err)
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		{"", slices.Sorted(slices.Values(keys))},
		{"a/", []string{"a/1.jpg", "a/1.jpg.json", "a/sub/x.jpg"}},
		{"a/1", []string{"a/1.jpg", "a/1.jpg.json"}},
		{"a/s", []string{"a/sub/x.jpg"}},
		{"b", []string{"b/2.jpg"}},
		{"zzz", nil},
	}
	for _, tt := range tests {
		t.Run("prefix="+tt.prefix, func(t *testing.T) {
			if got := walkAll(t, s, tt.prefix); !slices.Equal(got, tt.want) {
				t.Errorf("Walk(%q) = %q, want %q", tt.prefix, got, tt.want)
			}
		})
	}
}

func testWalkInvalidPrefix(t *testing.T, open newStore) {
	s := open(t)
	for _, prefix := range []string{"../", "a/./", "/a", "a//", ".", `a\`} {
		t.Run(prefix, func(t *testing.T) {
			err := s.Walk(t.Context(), prefix, func(string) error { return nil })
			if !errors.Is(err, storage.ErrInvalidKey) {
				t.Errorf("Walk(%q) = %v, want ErrInvalidKey (no key can start so)", prefix, err)
			}
		})
	}
}

func walkAll(t *testing.T, s storage.Store, prefix string) []string {
	t.Helper()
	var keys []string
	if err := s.Walk(t.Context(), prefix, func(key string) error {
		keys = append(keys, key)
		return nil
	}); err != nil {
		t.Fatalf("Walk(%q): %v", prefix, err)
	}
	return keys
}

func testWalkStopsOnError(t *testing.T, open newStore) {
	s := open(t)
	for _, k := range []string{"a.jpg", "b.jpg", "c.jpg"} {
		if err := s.Put(t.Context(), k, nil, "", nil); err != nil {
			t.Fatalf("Put: %v", err)
		}
	}
	errStop := errors.New("stop")
	calls := 0
	err := s.Walk(t.Context(), "", func(string) error {
		calls++
		return errStop
	})
	if err != errStop {
		t.Errorf("Walk = %v, want the callback's error as it is", err)
	}
	if calls != 1 {
		t.Errorf("callback called %d times, want 1", calls)
	}
}

func testNotFound(t *testing.T, open newStore) {
	s := open(t)
	if err := s.Put(t.Context(), "dir/file.jpg", []byte("x"), "", nil); err != nil {
		t.Fatalf("Put: %v", err)
	}
	for _, key := range []string{
		"missing.jpg",
		"dir",            // holds other keys, but is none
		"dir/file.jpg/x", // below an object
		"dir/file.jpg.json",
	} {
		t.Run(key, func(t *testing.T) {
			for op, read := range map[string]func(context.Context, string) (*storage.Object, error){"Get": s.Get, "Head": s.Head} {
				obj, err := read(t.Context(), key)
				if !errors.Is(err, storage.ErrNotFound) {
					t.Fatalf("%s = %v, %v; want ErrNotFound", op, obj, err)
				}
				if !strings.Contains(err.Error(), key) {
					t.Errorf("%s error %q does not name the key", op, err)
				}
			}
		})
	}
}

func testInvalidKey(t *testing.T, open newStore) {
	s := open(t)
	for _, key := range []string{
		"", "/abs.jpg", "../up.jpg", "a/../../up.jpg", "a/./b.jpg", "a//b.jpg", "a/", ".hidden",
		"a/.hidden", `a\b.jpg`, "a\x00b", "a\nb", "x.jpg.meta.json", "\xff.jpg", strings.Repeat("k", 1025),
	} {
		t.Run(key, func(t *testing.T) {
			if err := s.Put(t.Context(), key, []byte("x"), "", nil); !errors.Is(err, storage.ErrInvalidKey) {
				t.Errorf("Put = %v, want ErrInvalidKey", err)
			}
			if _, err := s.Get(t.Context(), key); !errors.Is(err, storage.ErrInvalidKey) {
				t.Errorf("Get = %v, want ErrInvalidKey", err)
			}
		})
	}
	if keys := walkAll(t, s, ""); len(keys) != 0 {
		t.Errorf("refused keys left %q", keys)
	}
}

func testInvalidMeta(t *testing.T, open newStore) {
	s := open(t)
	for name, meta := range map[string]map[string]string{
		"upper-case name":      {"Campaign": "x"},
		"empty name":           {"": "x"},
		"space in name":        {"a b": "x"},
		"non-ASCII name":       {"活动": "x"},
		"invalid UTF-8 value":  {"k": "\xff"},
		"too large":            {"k": strings.Repeat("x", 2100)},
		"too large as encoded": {"k": strings.Repeat("é", 400)}, // 800 bytes, 2400 percent-encoded
	} {
		t.Run(name, func(t *testing.T) {
			if err := s.Put(t.Context(), "k.jpg", []byte("x"), "", meta); !errors.Is(err, storage.ErrInvalidMeta) {
				t.Errorf("Put = %v, want ErrInvalidMeta", err)
			}
		})
	}
	if keys := walkAll(t, s, ""); len(keys) != 0 {
		t.Errorf("refused puts left %q", keys)
	}
}

func testCheck(t *testing.T, open newStore) {
	s := open(t)
	if err := s.Check(t.Context()); err != nil {
		t.Errorf("Check: %v", err)
	}
}

func testLocation(t *testing.T, open newStore) {
	s := open(t)
	bucket, key := s.Location("a/b.jpg")
	if bucket == "" {
		t.Error("Location gives no bucket")
	}
	if want := testPrefix + "/a/b.jpg"; key != want {
		t.Errorf("Location key = %q, want %q", key, want)
	}
}

func testCancelledContext(t *testing.T, open newStore) {
	s := open(t)
	if err := s.Put(t.Context(), "there.jpg", []byte("x"), "", nil); err != nil {
		t.Fatalf("Put: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	ops := map[string]func() error{
		"Put": func() error { return s.Put(ctx, "new.jpg", []byte("x"), "", nil) },
		"Get": func() error { _, err := s.Get(ctx, "there.jpg"); return err },
		"Walk": func() error {
			return s.Walk(ctx, "", func(string) error { return nil })
		},
		"Check": func() error { return s.Check(ctx) },
	}
	for name, op := range ops {
		t.Run(name, func(t *testing.T) {
			if err := op(); !errors.Is(err, context.Canceled) {
				t.Errorf("%s = %v, want context.Canceled", name, err)
			}
		})
	}
	if _, err := s.Get(t.Context(), "new.jpg"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("after a cancelled Put, Get = %v, want ErrNotFound", err)
	}
}
