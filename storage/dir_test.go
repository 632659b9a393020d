package storage_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
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
	if err := s.Put(t.Context(), "a/b.jpg", []byte("img"), "image/jpeg", map[string]string{"k": "v"}); err != nil {
		t.Fatalf("Put: %v", err)
	}
	dir := filepath.Join(root, "pre", "a")
	// Debris of a crashed Put, and a file put there by hand.
	for name, body := range map[string]string{".wxqr-123.tmp": "partial", "by-hand.png": "png"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("layout", func(t *testing.T) {
		var names []string
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			names = append(names, e.Name())
		}
		want := []string{".wxqr-123.tmp", "b.jpg", "b.jpg.meta.json", "by-hand.png"}
		if !slices.Equal(names, want) {
			t.Errorf("files = %q, want %q", names, want)
		}
		if body, err := os.ReadFile(filepath.Join(dir, "b.jpg")); err != nil || string(body) != "img" {
			t.Errorf("b.jpg = %q, %v; want the body", body, err)
		}
	})
	t.Run("Walk lists only objects", func(t *testing.T) {
		if got, want := walkAll(t, s, ""), []string{"a/b.jpg", "a/by-hand.png"}; !slices.Equal(got, want) {
			t.Errorf("Walk = %q, want %q", got, want)
		}
	})
	t.Run("file without metadata", func(t *testing.T) {
		obj, err := s.Get(t.Context(), "a/by-hand.png")
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if string(obj.Body) != "png" || obj.ContentType != storage.DefaultContentType || len(obj.Meta) != 0 {
			t.Errorf("Get = %q, %q, %q; want the body, %q and no metadata", obj.Body, obj.ContentType, obj.Meta, storage.DefaultContentType)
		}
	})
	t.Run("Location", func(t *testing.T) {
		bucket, key := s.Location("a/b.jpg")
		if got := filepath.Join(bucket, filepath.FromSlash(key)); got != filepath.Join(dir, "b.jpg") {
			t.Errorf("Location joins to %s, want %s", got, filepath.Join(dir, "b.jpg"))
		}
	})
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
