package catalog_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/storage"
)

func TestPutImage(t *testing.T) {
	for _, st := range []struct {
		name string
		new  func(t *testing.T) storage.Store
	}{
		{"memory", func(*testing.T) storage.Store { return newMemStore() }},
		{"dir", func(t *testing.T) storage.Store { return newDirStore(t) }},
	} {
		t.Run(st.name, func(t *testing.T) {
			store := st.new(t)
			rec := tempRecord("image-record", "spring", base)
			rec.Name = `Store 12 <entrance> & "door" 春节`
			image := jpegImage(t, 64)
			if err := catalog.PutImage(t.Context(), store, rec, image); err != nil {
				t.Fatal(err)
			}
			obj, err := store.Get(t.Context(), rec.Spec.Key())
			if err != nil {
				t.Fatal(err)
			}
			if string(obj.Body) != string(image) || obj.ContentType != rec.ContentType {
				t.Errorf("stored %d bytes of %s, want the image (%d bytes) as %s", len(obj.Body), obj.ContentType, len(image), rec.ContentType)
			}
			if _, ok := obj.Meta[catalog.RecordMeta]; !ok || len(obj.Meta) != 1 {
				t.Errorf("image metadata %q, want the record alone", obj.Meta)
			}
			if _, err := store.Get(t.Context(), catalog.SidecarKey(rec.Spec.Key())); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("a sidecar was written (%v); want one object per code", err)
			}
			got, err := catalog.ReadRecord(t.Context(), store, rec.Spec.Key())
			if err != nil {
				t.Fatal(err)
			}
			want := *rec
			want.Bucket, want.ObjectKey = store.Location(rec.Spec.Key())
			if toJSON(t, got) != toJSON(t, &want) {
				t.Errorf("ReadRecord = %s\nwant %s", toJSON(t, got), toJSON(t, &want))
			}

			bad := tempRecord("image-record", "spring", base)
			bad.ID = "not-the-id"
			if err := catalog.PutImage(t.Context(), store, bad, image); err == nil {
				t.Error("PutImage(record with a wrong id) succeeded, want an error")
			}
		})
	}
}

// Records that fit in S3's 2 KiB of metadata are kept there; one that does
// not (a getwxacode path may have 1,024 bytes) goes to a sidecar, and both
// read back alike.
func TestPutImageLargestRecords(t *testing.T) {
	chinese := func(n int) string { return strings.Repeat("码", n) }
	emoji := func(n int) string { return strings.Repeat("🎉", n) }
	longest := func(rec *wxqr.Record, name, scene string) *wxqr.Record {
		rec.Name = name
		rec.Campaign = chinese(40)
		rec.Ticket = strings.Repeat("gQH47joAAAAAAAAAASxodHRwOi8v", 4) // WeChat's are ~96 bytes
		rec.URL = "http://weixin.qq.com/q/" + strings.Repeat("02AbCdEfGh", 3)
		if scene != "" {
			rec.SceneStr = scene
			rec.ID = rec.Spec.ID()
		}
		return rec
	}
	mp := func(path string) *wxqr.Record {
		rec := permRecord("wxmini", wxqr.KindWxaCode, 0, chinese(40))
		rec.Spec.Path = path
		rec.Spec.LineColor, rec.Spec.IsHyaline, rec.Spec.EnvVersion = "#1a5fb4", true, wxqr.EnvTrial
		rec.ID = rec.Spec.ID()
		rec.Name = chinese(wxqr.MaxNameLen)
		return rec
	}
	tests := []struct {
		name    string
		rec     *wxqr.Record
		sidecar bool
	}{
		{"temporary, Chinese name and scene", longest(tempRecord("x", "", base), chinese(wxqr.MaxNameLen), chinese(wxqr.MaxSceneStrLen)), false},
		{"temporary, emoji name and scene", longest(tempRecord("x", "", base), emoji(wxqr.MaxNameLen), emoji(wxqr.MaxSceneStrLen)), false},
		{"permanent, escaped name", longest(permRecord("wxoa", wxqr.KindOAPerm, 7, ""), strings.Repeat(`"\`, wxqr.MaxNameLen/2), ""), false},
		{"Mini Program, longest createwxaqrcode path", mp("pages/" + strings.Repeat("a", wxqr.MaxWxaQRPathLen-6)), false},
		{"Mini Program, longest getwxacode path", mp("pages/" + strings.Repeat("码", (wxqr.MaxWxaCodePathLen-6)/3)), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newMemStore()
			if err := catalog.PutImage(t.Context(), store, tt.rec, jpegImage(t, 8)); err != nil {
				t.Fatal(err)
			}
			obj, err := store.Head(t.Context(), tt.rec.Spec.Key())
			if err != nil {
				t.Fatal(err)
			}
			value, inMeta := obj.Meta[catalog.RecordMeta]
			t.Logf("%d bytes of record in the metadata", len(value))
			_, sideErr := store.Get(t.Context(), catalog.SidecarKey(tt.rec.Spec.Key()))
			switch {
			case tt.sidecar && (inMeta || sideErr != nil || obj.Meta["wxqr-id"] != tt.rec.ID):
				t.Errorf("metadata %q, sidecar: %v; want the id in the metadata and the record in a sidecar", obj.Meta, sideErr)
			case !tt.sidecar && (!inMeta || sideErr == nil):
				t.Errorf("record in the metadata: %v, sidecar: %v; want the metadata alone", inMeta, sideErr)
			}
			got, err := catalog.ReadRecord(t.Context(), store, tt.rec.Spec.Key())
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != tt.rec.ID || got.Name != tt.rec.Name || got.Spec != tt.rec.Spec.Normalize() {
				t.Errorf("ReadRecord = %s\nwant %s", toJSON(t, got), toJSON(t, tt.rec))
			}
		})
	}
}

func TestReadRecord(t *testing.T) {
	store := newMemStore()
	rec := tempRecord("read", "", base)
	key := rec.Spec.Key()
	t.Run("nothing stored", func(t *testing.T) {
		if got, err := catalog.ReadRecord(t.Context(), store, key); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("ReadRecord = %v, %v; want ErrNotFound", got, err)
		}
	})
	t.Run("corrupt metadata", func(t *testing.T) {
		if err := store.Put(t.Context(), key, jpegImage(t, 8), wxqr.ContentTypeJPEG, map[string]string{catalog.RecordMeta: "eyJpZCI6"}); err != nil {
			t.Fatal(err)
		}
		_, err := catalog.ReadRecord(t.Context(), store, key)
		var bad *catalog.RecordError
		if !errors.As(err, &bad) || bad.Key != key {
			t.Errorf("ReadRecord = %v, want a *RecordError of %s", err, key)
		}
	})
	t.Run("sidecar of a lost image", func(t *testing.T) {
		store := newMemStore()
		mustWriteSidecar(t, store, rec)
		got, err := catalog.ReadRecord(t.Context(), store, key)
		if err != nil || got.ID != rec.ID {
			t.Errorf("ReadRecord = %v, %v; want the sidecar's record", got, err)
		}
	})
	t.Run("store fails", func(t *testing.T) {
		store := newMemStore()
		store.getErr = errors.New("connection refused")
		if _, err := catalog.ReadRecord(t.Context(), store, key); err == nil || !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("ReadRecord error = %v, want the store's", err)
		}
	})
}

// A record in an image's metadata supersedes its sidecar, written earlier
// (before records moved into the metadata, or when it did not fit), even
// at the same generation: a rename rewrites the metadata.
func TestRebuildPrefersTheImageRecord(t *testing.T) {
	c, rdb := newCatalog(t, catalog.Config{})
	store := newMemStore()
	rec := tempRecord("renamed", "spring", base.Add(time.Hour))
	rec.Name = "old name"
	generateWithSidecar(t, c, store, rec)
	if err := c.Rename(t.Context(), store, rec.ID, "new name"); err != nil {
		t.Fatal(err)
	}
	if err := rdb.FlushDB(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Rebuild(t.Context(), store); err != nil || n != 1 {
		t.Fatalf("Rebuild = %d, %v; want 1, nil", n, err)
	}
	if got := mustGet(t, c, rec.ID); got.Name != "new name" {
		t.Errorf("rebuilt name %q, want the renamed record's %q", got.Name, "new name")
	}
}
