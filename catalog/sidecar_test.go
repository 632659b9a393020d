package catalog_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/internal/testenv"
	"github.com/wxqr/wxqr/storage"
)

// memStore is an in-memory storage.Store. getErr, if set, fails every Get
// and Head.
type memStore struct {
	mu      sync.Mutex
	objects map[string]storage.Object
	getErr  error
}

var _ storage.Store = (*memStore)(nil)

func newMemStore() *memStore { return &memStore{objects: map[string]storage.Object{}} }

func (m *memStore) Put(ctx context.Context, key string, body []byte, contentType string, meta map[string]string) error {
	if err := storage.CheckMeta(meta); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objects[key] = storage.Object{Body: slices.Clone(body), ContentType: contentType, Meta: maps.Clone(meta)}
	return nil
}

func (m *memStore) Get(ctx context.Context, key string) (*storage.Object, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.getErr != nil {
		return nil, m.getErr
	}
	obj, ok := m.objects[key]
	if !ok {
		return nil, fmt.Errorf("get %q: %w", key, storage.ErrNotFound)
	}
	return &obj, nil
}

func (m *memStore) Head(ctx context.Context, key string) (*storage.Object, error) {
	obj, err := m.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	obj.Body = nil
	return obj, nil
}

func (m *memStore) Walk(ctx context.Context, prefix string, fn func(key string) error) error {
	m.mu.Lock()
	keys := slices.Sorted(maps.Keys(m.objects))
	m.mu.Unlock()
	for _, k := range keys {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		if err := fn(k); err != nil {
			return err
		}
	}
	return nil
}

func (m *memStore) Check(context.Context) error { return nil }

func (m *memStore) Location(key string) (string, string) { return "mem-bucket", "codes/" + key }

func TestSidecarKey(t *testing.T) {
	tests := []struct{ image, want string }{
		{"wx1/oa_temp/s-a.jpg", "wx1/oa_temp/s-a.jpg.json"},
		{"a.jpg", "a.jpg.json"},
	}
	for _, tt := range tests {
		if got := catalog.SidecarKey(tt.image); got != tt.want {
			t.Errorf("SidecarKey(%q) = %q, want %q", tt.image, got, tt.want)
		}
	}
}

func TestWriteSidecar(t *testing.T) {
	store := newMemStore()
	rec := tempRecord("sidecar", "spring", base)
	if err := catalog.WriteSidecar(t.Context(), store, rec); err != nil {
		t.Fatal(err)
	}
	obj, err := store.Get(t.Context(), rec.Spec.Key()+".json")
	if err != nil {
		t.Fatal(err)
	}
	if obj.ContentType != "application/json" {
		t.Errorf("content type %q, want application/json", obj.ContentType)
	}
	if got, want := string(obj.Body), toJSON(t, rec); got != want {
		t.Errorf("sidecar = %s\nwant %s", got, want)
	}

	bad := tempRecord("sidecar", "spring", base)
	bad.ID = "not-the-id"
	if err := catalog.WriteSidecar(t.Context(), store, bad); err == nil {
		t.Error("WriteSidecar(record with a wrong id) succeeded, want an error")
	}
}

// generate stores the image of rec in store with its record and puts it in
// c, as a worker does.
func generate(t *testing.T, c *catalog.Catalog, store storage.Store, rec *wxqr.Record) {
	t.Helper()
	rec.Bucket, rec.ObjectKey = store.Location(rec.Spec.Key())
	if err := catalog.PutImage(t.Context(), store, rec, []byte("\xff\xd8\xff image "+rec.ID)); err != nil {
		t.Fatal(err)
	}
	mustPut(t, c, rec)
}

// generateWithSidecar stores the image of rec and its sidecar, as wxqr did
// before records moved into the image's metadata, and puts it in c.
func generateWithSidecar(t *testing.T, c *catalog.Catalog, store storage.Store, rec *wxqr.Record) {
	t.Helper()
	imageKey := rec.Spec.Key()
	meta := map[string]string{"wxqr-id": rec.ID, "wxqr-generation": fmt.Sprint(rec.Generation)}
	if err := store.Put(t.Context(), imageKey, []byte("\xff\xd8\xff image "+rec.ID), "image/jpeg", meta); err != nil {
		t.Fatal(err)
	}
	rec.Bucket, rec.ObjectKey = store.Location(imageKey)
	if err := catalog.WriteSidecar(t.Context(), store, rec); err != nil {
		t.Fatal(err)
	}
	mustPut(t, c, rec)
}

func TestRebuild(t *testing.T) {
	stores := []struct {
		name string
		new  func(t *testing.T) storage.Store
	}{
		{"memory", func(*testing.T) storage.Store { return newMemStore() }},
		{"dir", func(t *testing.T) storage.Store {
			s, err := storage.NewDir(t.TempDir(), "")
			if err != nil {
				t.Fatal(err)
			}
			return s
		}},
		{"dir with prefix", func(t *testing.T) storage.Store {
			s, err := storage.NewDir(t.TempDir(), "images/2025")
			if err != nil {
				t.Fatal(err)
			}
			return s
		}},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			c, rdb := newCatalog(t, catalog.Config{BatchSize: 3})
			store := st.new(t)
			recs := []*wxqr.Record{
				permRecord("wxoa", wxqr.KindOAPerm, 1, "spring"),
				permRecord("wxoa", wxqr.KindOAPerm, 2, ""),
				permRecord("wxmini", wxqr.KindWxaQRCode, 1, "summer"),
				permRecord("wxmini", wxqr.KindWxaUnlimited, 0, "summer"),
			}
			for i := range 5 {
				recs = append(recs, tempRecord(fmt.Sprintf("t/%d ..?", i), "spring", base.Add(time.Duration(i)*time.Hour)))
			}
			// Every other code as an earlier wxqr stored it: the record
			// in a sidecar.
			for i, rec := range recs {
				if i%2 == 0 {
					generate(t, c, store, rec)
				} else {
					generateWithSidecar(t, c, store, rec)
				}
			}
			if err := store.Put(t.Context(), "notes/readme.txt", []byte("not a sidecar"), "text/plain", nil); err != nil {
				t.Fatal(err)
			}
			want := testenv.Dump(t, rdb)

			if err := rdb.FlushDB(t.Context()).Err(); err != nil {
				t.Fatal(err)
			}
			for i := range 2 { // rebuilding again changes nothing
				n, err := c.Rebuild(t.Context(), store)
				if err != nil || n != len(recs) {
					t.Fatalf("Rebuild() #%d = %d, %v; want %d, nil", i+1, n, err, len(recs))
				}
				if got := testenv.Dump(t, rdb); got != want {
					t.Errorf("after Rebuild() #%d the catalog is\n%s\nwant\n%s", i+1, got, want)
				}
			}
		})
	}
}

// A directory written before the hidden folder existed, with each sidecar
// next to its image, rebuilds the same catalog.
func TestRebuildFromTheOldDirectoryLayout(t *testing.T) {
	c, rdb := newCatalog(t, catalog.Config{})
	root := t.TempDir()
	store, err := storage.NewDir(root, "")
	if err != nil {
		t.Fatal(err)
	}
	recs := []*wxqr.Record{
		permRecord("wxoa", wxqr.KindOAPerm, 1, "spring"),
		tempRecord("old", "spring", base),
	}
	for _, rec := range recs {
		generateWithSidecar(t, c, store, rec)
	}
	want := testenv.Dump(t, rdb)
	// Back to the old layout: everything in the hidden folder goes next to
	// the image it describes.
	hidden := filepath.Join(root, ".wxqr")
	err = filepath.WalkDir(hidden, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(hidden, path)
		if err != nil {
			return err
		}
		return os.Rename(path, filepath.Join(root, rel))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(hidden); err != nil {
		t.Fatal(err)
	}
	if err := rdb.FlushDB(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}

	n, err := c.Rebuild(t.Context(), store)
	if err != nil || n != len(recs) {
		t.Fatalf("Rebuild() = %d, %v; want %d, nil", n, err, len(recs))
	}
	if got := testenv.Dump(t, rdb); got != want {
		t.Errorf("after Rebuild() the catalog is\n%s\nwant\n%s", got, want)
	}
}

func TestRebuildCorruptSidecars(t *testing.T) {
	c, rdb := newCatalog(t, catalog.Config{})
	store := newMemStore()
	good := []*wxqr.Record{tempRecord("good-1", "spring", base), tempRecord("good-2", "spring", base)}
	for _, rec := range good {
		generate(t, c, store, rec)
	}
	wrongID := tempRecord("wrong-id", "", base)
	wrongID.ID = good[0].ID
	corrupt := map[string][]byte{
		"wxa1b2c3/oa_temp/broken.jpg.json":   []byte(`{"id": "abc", "kind":`),
		"wxa1b2c3/oa_temp/wrong-id.jpg.json": []byte(toJSON(t, wrongID)),
		"wxa1b2c3/oa_temp/not-a-record.json": []byte(`[1, 2, 3]`),
	}
	for key, body := range corrupt {
		if err := store.Put(t.Context(), key, body, "application/json", nil); err != nil {
			t.Fatal(err)
		}
	}
	// An image whose metadata holds no record that can be read.
	const badMeta = "wxa1b2c3/oa_temp/bad-meta.jpg"
	if err := store.Put(t.Context(), badMeta, []byte("\xff\xd8\xff"), "image/jpeg", map[string]string{catalog.RecordMeta: "bm90IGpzb24"}); err != nil {
		t.Fatal(err)
	}
	corrupt[badMeta] = nil
	want := testenv.Dump(t, rdb)
	if err := rdb.FlushDB(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}

	n, err := c.Rebuild(t.Context(), store)
	if n != len(good) {
		t.Errorf("Rebuild() put %d records, want %d", n, len(good))
	}
	var first *catalog.RecordError
	if !errors.As(err, &first) {
		t.Fatalf("Rebuild() error = %v, want *RecordError", err)
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("Rebuild() error %T does not list its errors", err)
	}
	var badKeys []string
	for _, e := range joined.Unwrap() {
		var se *catalog.RecordError
		if !errors.As(e, &se) {
			t.Errorf("unexpected error %v", e)
			continue
		}
		badKeys = append(badKeys, se.Key)
		if !strings.Contains(e.Error(), se.Key) {
			t.Errorf("error %q does not name its sidecar", e)
		}
	}
	if wantKeys := slices.Sorted(maps.Keys(corrupt)); !slices.Equal(badKeys, wantKeys) {
		t.Errorf("reported sidecars %v, want %v", badKeys, wantKeys)
	}
	if got := testenv.Dump(t, rdb); got != want {
		t.Errorf("after Rebuild() the catalog is\n%s\nwant\n%s", got, want)
	}
}

func TestRebuildLiveCatalog(t *testing.T) {
	c, _ := newCatalog(t, catalog.Config{})
	store := newMemStore()
	old := tempRecord("live", "spring", base)
	generate(t, c, store, old)
	retired := tempRecord("live-retired", "spring", base)
	generate(t, c, store, retired)
	if _, err := c.Retire(t.Context(), retired.ID); err != nil {
		t.Fatal(err)
	}
	// A newer generation reached the catalog, its sidecar not (yet).
	newer := tempRecord("live", "spring", base.Add(24*time.Hour))
	newer.Generation = 2
	newer.Bucket, newer.ObjectKey = old.Bucket, old.ObjectKey
	mustPut(t, c, newer)

	n, err := c.Rebuild(t.Context(), store)
	if err != nil || n != 1 {
		t.Errorf("Rebuild() = %d, %v; want 1 (the newer record kept), nil", n, err)
	}
	if got := mustGet(t, c, newer.ID); got.Generation != 2 {
		t.Errorf("generation %d after Rebuild, want 2", got.Generation)
	}
	if !mustGet(t, c, retired.ID).Retired {
		t.Error("Rebuild un-retired a code")
	}
}

func TestRebuildPointsAtTheStore(t *testing.T) {
	c, _ := newCatalog(t, catalog.Config{})
	store := newMemStore()
	// The sidecar was written in another bucket, then copied here.
	rec := tempRecord("copied", "", base)
	rec.Bucket, rec.ObjectKey = "old-bucket", "old/prefix/"+rec.Spec.Key()
	if err := catalog.WriteSidecar(t.Context(), store, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Rebuild(t.Context(), store); err != nil {
		t.Fatal(err)
	}
	got := mustGet(t, c, rec.ID)
	if wantBucket, wantKey := store.Location(rec.Spec.Key()); got.Bucket != wantBucket || got.ObjectKey != wantKey {
		t.Errorf("rebuilt record at %s/%s, want %s/%s", got.Bucket, got.ObjectKey, wantBucket, wantKey)
	}
}

func TestRebuildStoreFails(t *testing.T) {
	c, _ := newCatalog(t, catalog.Config{})
	store := newMemStore()
	generate(t, c, store, tempRecord("a", "", base))
	store.getErr = errors.New("connection refused")
	_, err := c.Rebuild(t.Context(), store)
	var se *catalog.RecordError
	if err == nil || errors.As(err, &se) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("Rebuild() error = %v, want the store's error, not a record error", err)
	}
}

func TestRebuildCancelled(t *testing.T) {
	c, _ := newCatalog(t, catalog.Config{})
	store := newMemStore()
	generate(t, c, store, tempRecord("a", "", base))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := c.Rebuild(ctx, store); !errors.Is(err, context.Canceled) {
		t.Errorf("Rebuild(cancelled) error = %v, want context.Canceled", err)
	}
}
