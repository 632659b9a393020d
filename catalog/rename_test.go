package catalog_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
)

func TestRename(t *testing.T) {
	c, _ := newCatalog(t, catalog.Config{})
	store := newMemStore()
	rec := permRecord("wxoa", wxqr.KindOAPerm, 1, "spring")
	rec.Name = "Store 12"
	mustPut(t, c, rec)

	if err := c.Rename(t.Context(), store, rec.ID, "Store 12 - entrance"); err != nil {
		t.Fatalf("Rename: %v", err)
	}
	got := mustGet(t, c, rec.ID)
	want := *rec
	want.Name = "Store 12 - entrance"
	if toJSON(t, got) != toJSON(t, &want) {
		t.Errorf("record after Rename:\n%s\nwant only the name changed:\n%s", toJSON(t, got), toJSON(t, &want))
	}
	// No image in the store: the record goes to the sidecar.
	obj, err := store.Get(t.Context(), catalog.SidecarKey(rec.Spec.Key()))
	if err != nil {
		t.Fatalf("no sidecar: %v", err)
	}
	var sidecar wxqr.Record
	if err := json.Unmarshal(obj.Body, &sidecar); err != nil || sidecar.Name != want.Name || sidecar.ID != rec.ID {
		t.Errorf("sidecar %s (%v), want the record with the new name", obj.Body, err)
	}

	t.Run("same name writes nothing", func(t *testing.T) {
		store := newMemStore()
		if err := c.Rename(t.Context(), store, rec.ID, want.Name); err != nil {
			t.Fatal(err)
		}
		if len(store.objects) != 0 {
			t.Errorf("Rename to the same name wrote %d objects", len(store.objects))
		}
	})
	t.Run("unknown code", func(t *testing.T) {
		err := c.Rename(t.Context(), store, permRecord("wxoa", wxqr.KindOAPerm, 2, "").ID, "x")
		if !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("Rename of an unknown code: %v, want ErrNotFound", err)
		}
	})
	t.Run("code being made", func(t *testing.T) {
		lease, err := c.Lock(t.Context(), rec.ID, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		defer lease.Release()
		if err := c.Rename(t.Context(), store, rec.ID, "Store 99"); !errors.Is(err, catalog.ErrLocked) {
			t.Errorf("Rename of a locked code: %v, want ErrLocked", err)
		}
		if got := mustGet(t, c, rec.ID); got.Name != want.Name {
			t.Errorf("name %q after a refused rename, want %q", got.Name, want.Name)
		}
	})
	t.Run("keeps a retirement", func(t *testing.T) {
		mustRetire(t, c, rec.ID)
		if err := c.Rename(t.Context(), store, rec.ID, "Store 12 - old entrance"); err != nil {
			t.Fatal(err)
		}
		if got := mustGet(t, c, rec.ID); !got.Retired || got.Name != "Store 12 - old entrance" {
			t.Errorf("retired %v, name %q; want still retired, renamed", got.Retired, got.Name)
		}
	})
	t.Run("the image carries the record", func(t *testing.T) {
		store := newMemStore()
		image := jpegImage(t, 8)
		mustPutImage(t, store, rec, image)
		if err := c.Rename(t.Context(), store, rec.ID, "Store 12 - exit"); err != nil {
			t.Fatal(err)
		}
		got, err := catalog.ReadRecord(t.Context(), store, rec.Spec.Key())
		if err != nil || got.Name != "Store 12 - exit" {
			t.Errorf("ReadRecord after Rename = %v, %v; want the new name", got, err)
		}
		if obj, err := store.Get(t.Context(), rec.Spec.Key()); err != nil || string(obj.Body) != string(image) {
			t.Errorf("image after Rename: %v; want it unchanged", err)
		}
		if len(store.objects) != 1 {
			t.Errorf("%d objects after Rename, want the image alone", len(store.objects))
		}
	})
}
