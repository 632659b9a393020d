package storage_test

import (
	"bytes"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/wxqr/wxqr/storage"
)

func TestDirStoreFiles(t *testing.T) {
	root := t.TempDir()
	s, err := storage.NewDir(root, "pre")
	if err != nil {
		t.Fatalf("NewDir: %v", err)
	}
	put(t, s, "a/b.jpg", "img", "image/jpeg", map[string]string{"k": "v"})
	put(t, s, storage.SidecarKey("a/b.jpg"), "{}", "application/json", nil)
	store := filepath.Join(root, "pre")
	// Debris of a crashed Put, and a file put there by hand.
	for name, body := range map[string]string{"a/.wxqr-123.tmp": "partial", "a/by-hand.png": "png", ".wxqr/a/.wxqr-9.tmp": "partial"} {
		if err := os.WriteFile(filepath.Join(store, filepath.FromSlash(name)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("layout", func(t *testing.T) {
		// What a person opening the directory sees: the objects, and one
		// hidden folder.
		want := []string{".wxqr/", "a/", "a/.wxqr-123.tmp", "a/b.jpg", "a/by-hand.png"}
		if got := filesUnder(t, store, false); !slices.Equal(got, want) {
			t.Errorf("files in sight = %q, want %q", got, want)
		}
		want = []string{"a/", "a/.wxqr-9.tmp", "a/b.jpg.json", "a/b.jpg.json.meta.json", "a/b.jpg.meta.json"}
		if got := filesUnder(t, filepath.Join(store, ".wxqr"), true); !slices.Equal(got, want) {
			t.Errorf("files in .wxqr = %q, want %q", got, want)
		}
		if body, err := os.ReadFile(filepath.Join(store, "a", "b.jpg")); err != nil || string(body) != "img" {
			t.Errorf("b.jpg = %q, %v; want the body", body, err)
		}
	})
	t.Run("Walk lists only objects and sidecars", func(t *testing.T) {
		if got, want := walkAll(t, s, ""), []string{"a/b.jpg", "a/b.jpg.json", "a/by-hand.png"}; !slices.Equal(got, want) {
			t.Errorf("Walk = %q, want %q", got, want)
		}
	})
	t.Run("Get", func(t *testing.T) {
		wantObject(t, s, "a/b.jpg", "img", "image/jpeg", map[string]string{"k": "v"})
		wantObject(t, s, "a/b.jpg.json", "{}", "application/json", nil)
	})
	t.Run("file without metadata", func(t *testing.T) {
		wantObject(t, s, "a/by-hand.png", "png", storage.DefaultContentType, nil)
	})
	t.Run("Location", func(t *testing.T) {
		for key, want := range map[string]string{
			"a/b.jpg":      filepath.Join(store, "a", "b.jpg"),
			"a/b.jpg.json": filepath.Join(store, ".wxqr", "a", "b.jpg.json"),
		} {
			bucket, path := s.Location(key)
			if got := filepath.Join(bucket, filepath.FromSlash(path)); got != want {
				t.Errorf("Location(%q) joins to %s, want %s", key, got, want)
			}
		}
	})
}

// A directory written before the hidden folder existed, with metadata and
// sidecars next to the images, is read as it is; a put moves the object it
// writes to the new layout.
func TestDirStoreReadsTheOldLayout(t *testing.T) {
	root := t.TempDir()
	old := map[string]string{
		"a/b.jpg":                `img`,
		"a/b.jpg.meta.json":      `{"content_type":"image/jpeg","meta":{"k":"v"}}`,
		"a/b.jpg.json":           `{"id":"b"}`,
		"a/b.jpg.json.meta.json": `{"content_type":"application/json"}`,
		"a/c.jpg":                `img c`,
		"a/c.jpg.meta.json":      `{"content_type":"image/jpeg"}`,
		"a/c.jpg.json":           `{"id":"c"}`,
		"a/c.jpg.json.meta.json": `{"content_type":"application/json"}`,
	}
	for name, body := range old {
		file := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err := storage.NewDir(root, "")
	if err != nil {
		t.Fatalf("NewDir: %v", err)
	}
	wantKeys := []string{"a/b.jpg", "a/b.jpg.json", "a/c.jpg", "a/c.jpg.json"}

	t.Run("read", func(t *testing.T) {
		if got := walkAll(t, s, ""); !slices.Equal(got, wantKeys) {
			t.Errorf("Walk = %q, want %q", got, wantKeys)
		}
		wantObject(t, s, "a/b.jpg", "img", "image/jpeg", map[string]string{"k": "v"})
		wantObject(t, s, "a/b.jpg.json", `{"id":"b"}`, "application/json", nil)
	})
	t.Run("put moves to the new layout", func(t *testing.T) {
		put(t, s, "a/b.jpg", "new img", "image/png", nil)
		put(t, s, "a/b.jpg.json", `{"id":"b2"}`, "application/json", nil)
		want := []string{".wxqr/", "a/", "a/b.jpg", "a/c.jpg", "a/c.jpg.json", "a/c.jpg.json.meta.json", "a/c.jpg.meta.json"}
		if got := filesUnder(t, root, false); !slices.Equal(got, want) {
			t.Errorf("files in sight = %q, want %q", got, want)
		}
		if got := walkAll(t, s, ""); !slices.Equal(got, wantKeys) {
			t.Errorf("Walk = %q, want %q", got, wantKeys)
		}
		wantObject(t, s, "a/b.jpg", "new img", "image/png", nil)
		wantObject(t, s, "a/b.jpg.json", `{"id":"b2"}`, "application/json", nil)
		wantObject(t, s, "a/c.jpg.json", `{"id":"c"}`, "application/json", nil)
	})
	t.Run("both layouts at once", func(t *testing.T) {
		// A put that stopped between writing the new files and removing the
		// old ones: the new ones count, and each key is listed once.
		if err := os.WriteFile(filepath.Join(root, "a", "b.jpg.json"), []byte(`{"id":"stale"}`), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := walkAll(t, s, ""); !slices.Equal(got, wantKeys) {
			t.Errorf("Walk = %q, want %q", got, wantKeys)
		}
		wantObject(t, s, "a/b.jpg.json", `{"id":"b2"}`, "application/json", nil)
	})
}

func put(t *testing.T, s storage.Store, key, body, contentType string, meta map[string]string) {
	t.Helper()
	if err := s.Put(t.Context(), key, []byte(body), contentType, meta); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func wantObject(t *testing.T, s storage.Store, key, body, contentType string, meta map[string]string) {
	t.Helper()
	obj, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	if string(obj.Body) != body || obj.ContentType != contentType || !maps.Equal(obj.Meta, meta) {
		t.Errorf("Get(%q) = %q, %q, %q; want %q, %q, %q", key, obj.Body, obj.ContentType, obj.Meta, body, contentType, meta)
	}
}

// filesUnder lists the files and directories (ending in "/") under root, in
// slash form, descending into hidden directories only with hidden.
func filesUnder(t *testing.T, root string, hidden bool) []string {
	t.Helper()
	var names []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == root {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		if d.IsDir() {
			names = append(names, name+"/")
			if !hidden && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		names = append(names, name)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	return names
}

func TestDirStoreRefusedKeysWriteNothing(t *testing.T) {
	parent := t.TempDir()
	s, err := storage.NewDir(filepath.Join(parent, "store"), "")
	if err != nil {
		t.Fatalf("NewDir: %v", err)
	}
	for _, key := range []string{"../escape.jpg", "/tmp/escape.jpg", "a/../../escape.jpg"} {
		if err := s.Put(t.Context(), key, []byte("x"), "", nil); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want ErrInvalidKey", key, err)
		}
	}
	entries, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("refused puts created %v in %s", entries, parent)
	}
}

// A reader racing a writer sees a whole old or whole new body, never part
// of one.
func TestDirStorePutIsAtomic(t *testing.T) {
	s, err := storage.NewDir(t.TempDir(), "")
	if err != nil {
		t.Fatalf("NewDir: %v", err)
	}
	bodies := [][]byte{bytes.Repeat([]byte("a"), 256<<10), bytes.Repeat([]byte("b"), 256<<10)}
	if err := s.Put(t.Context(), "k.jpg", bodies[0], "", nil); err != nil {
		t.Fatalf("Put: %v", err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(done)
		for i := range 50 {
			if err := s.Put(t.Context(), "k.jpg", bodies[i%2], "", nil); err != nil {
				t.Errorf("Put: %v", err)
				return
			}
		}
	})
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			obj, err := s.Get(t.Context(), "k.jpg")
			if err != nil {
				t.Errorf("Get: %v", err)
				return
			}
			if !bytes.Equal(obj.Body, bodies[0]) && !bytes.Equal(obj.Body, bodies[1]) {
				t.Errorf("Get returned %d bytes that are neither body", len(obj.Body))
				return
			}
		}
	})
	wg.Wait()
}

func TestNewDirErrors(t *testing.T) {
	tests := []struct {
		name, root, prefix string
	}{
		{"empty root", "", ""},
		{"prefix escapes", t.TempDir(), "../up"},
		{"hidden prefix", t.TempDir(), "a/.b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if s, err := storage.NewDir(tt.root, tt.prefix); err == nil {
				t.Errorf("NewDir(%q, %q) = %v, want an error", tt.root, tt.prefix, s)
			}
		})
	}
}

func TestDirStoreWalkOfEmptyStore(t *testing.T) {
	s, err := storage.NewDir(filepath.Join(t.TempDir(), "not-yet-created"), "")
	if err != nil {
		t.Fatalf("NewDir: %v", err)
	}
	if keys := walkAll(t, s, ""); len(keys) != 0 {
		t.Errorf("Walk = %q, want nothing", keys)
	}
}
