package catalog_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"image"
	"image/jpeg"
	"testing"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/storage"
)

// jpegImage returns a whole JPEG width pixels square.
func jpegImage(t *testing.T, width int) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, width, width))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// newDirStore returns a directory store in a directory of the test's own.
func newDirStore(t *testing.T) *storage.DirStore {
	t.Helper()
	store, err := storage.NewDir(t.TempDir(), "codes")
	if err != nil {
		t.Fatal(err)
	}
	return store
}

// describe sets rec's size and sha256 to those of body, and its location
// to where store keeps it, as the generator records a stored code.
func describe(store storage.Store, rec *wxqr.Record, body []byte) *wxqr.Record {
	sum := sha256.Sum256(body)
	rec.Size, rec.SHA256 = int64(len(body)), hex.EncodeToString(sum[:])
	rec.Bucket, rec.ObjectKey = store.Location(rec.Spec.Key())
	return rec
}

func putObject(t *testing.T, store storage.Store, key string, body []byte) {
	t.Helper()
	if err := store.Put(t.Context(), key, body, wxqr.ContentTypeJPEG, nil); err != nil {
		t.Fatal(err)
	}
}

func TestCheckObject(t *testing.T) {
	whole := jpegImage(t, 430)
	other := jpegImage(t, 280)
	tests := []struct {
		name string
		// stored is what the store holds at the record's key (nil: nothing);
		// described is what the record says it holds.
		stored, described []byte
		kind              wxqr.Kind
		wantErr           []error // nil: whole
	}{
		{name: "whole", stored: whole, described: whole, kind: wxqr.KindWxaQRCode},
		{name: "whole, any width for an official account", stored: other, described: other, kind: wxqr.KindOAPerm},
		{name: "missing", described: whole, kind: wxqr.KindOAPerm, wantErr: []error{catalog.ErrObjectMissing}},
		{name: "0 bytes", stored: []byte{}, described: whole, kind: wxqr.KindOAPerm, wantErr: []error{catalog.ErrObjectBroken}},
		{name: "0 bytes, recorded as such", stored: []byte{}, described: []byte{}, kind: wxqr.KindOAPerm,
			wantErr: []error{catalog.ErrObjectBroken, wxqr.ErrIncompleteImage}},
		{name: "truncated", stored: whole[:len(whole)/2], described: whole, kind: wxqr.KindOAPerm, wantErr: []error{catalog.ErrObjectBroken}},
		{name: "truncated, recorded as such", stored: whole[:len(whole)/2], described: whole[:len(whole)/2], kind: wxqr.KindOAPerm,
			wantErr: []error{catalog.ErrObjectBroken, wxqr.ErrIncompleteImage}},
		{name: "another image", stored: other, described: whole, kind: wxqr.KindOAPerm, wantErr: []error{catalog.ErrObjectBroken}},
		{name: "same size, another sha256", stored: flipLastPixelByte(whole), described: whole, kind: wxqr.KindOAPerm,
			wantErr: []error{catalog.ErrObjectBroken}},
		{name: "wrong width for a mini program code", stored: other, described: other, kind: wxqr.KindWxaQRCode,
			wantErr: []error{catalog.ErrObjectBroken, wxqr.ErrIncompleteImage}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newDirStore(t)
			rec := describe(store, permRecord("wxapp", tt.kind, 1, "spring"), tt.described)
			if tt.stored != nil {
				putObject(t, store, rec.Spec.Key(), tt.stored)
			}
			err := catalog.CheckObject(t.Context(), store, rec)
			if tt.wantErr == nil && err != nil {
				t.Fatalf("CheckObject = %v, want nil", err)
			}
			for _, want := range tt.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("CheckObject = %v, want it to match %v", err, want)
				}
			}
		})
	}
	t.Run("store fails", func(t *testing.T) {
		store := newMemStore()
		store.getErr = errors.New("bucket unreachable")
		rec := describe(store, permRecord("wxapp", wxqr.KindOAPerm, 1, "spring"), whole)
		err := catalog.CheckObject(t.Context(), store, rec)
		if err == nil || errors.Is(err, catalog.ErrObjectMissing) || errors.Is(err, catalog.ErrObjectBroken) {
			t.Errorf("CheckObject = %v, want the store's error, neither missing nor broken", err)
		}
	})
}

// flipLastPixelByte returns a copy of a JPEG with one byte of its scan data
// changed: as long, as whole to CheckImage, another sha256.
func flipLastPixelByte(img []byte) []byte {
	c := bytes.Clone(img)
	c[len(c)-3] ^= 0x01
	return c
}

func TestStoredRecord(t *testing.T) {
	whole := jpegImage(t, 430)
	spec := permRecord("wxapp", wxqr.KindWxaQRCode, 1, "spring").Spec
	tests := []struct {
		name string
		// setup stores what an earlier attempt left for rec (described as
		// holding the whole image).
		setup   func(t *testing.T, store storage.Store, rec *wxqr.Record)
		wantRec bool
	}{
		{name: "image and sidecar whole", wantRec: true, setup: func(t *testing.T, store storage.Store, rec *wxqr.Record) {
			putObject(t, store, rec.Spec.Key(), whole)
			mustWriteSidecar(t, store, rec)
		}},
		{name: "image with its record", wantRec: true, setup: func(t *testing.T, store storage.Store, rec *wxqr.Record) {
			mustPutImage(t, store, rec, whole)
		}},
		{name: "truncated image with its record", setup: func(t *testing.T, store storage.Store, rec *wxqr.Record) {
			mustPutImage(t, store, rec, whole[:len(whole)-10])
		}},
		{name: "image with the record of another code", setup: func(t *testing.T, store storage.Store, rec *wxqr.Record) {
			another := describe(store, permRecord("wxapp", wxqr.KindWxaQRCode, 2, "spring"), whole)
			obj := mustPutImage(t, newMemStore(), another, whole)
			if err := store.Put(t.Context(), rec.Spec.Key(), whole, wxqr.ContentTypeJPEG, obj.Meta); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "nothing stored", setup: func(*testing.T, storage.Store, *wxqr.Record) {}},
		{name: "image without sidecar", setup: func(t *testing.T, store storage.Store, rec *wxqr.Record) {
			putObject(t, store, rec.Spec.Key(), whole)
		}},
		{name: "sidecar without image", setup: func(t *testing.T, store storage.Store, rec *wxqr.Record) {
			mustWriteSidecar(t, store, rec)
		}},
		{name: "0-byte image", setup: func(t *testing.T, store storage.Store, rec *wxqr.Record) {
			putObject(t, store, rec.Spec.Key(), []byte{})
			mustWriteSidecar(t, store, rec)
		}},
		{name: "truncated image", setup: func(t *testing.T, store storage.Store, rec *wxqr.Record) {
			putObject(t, store, rec.Spec.Key(), whole[:len(whole)-10])
			mustWriteSidecar(t, store, rec)
		}},
		{name: "image of another sha256", setup: func(t *testing.T, store storage.Store, rec *wxqr.Record) {
			putObject(t, store, rec.Spec.Key(), flipLastPixelByte(whole))
			mustWriteSidecar(t, store, rec)
		}},
		{name: "sidecar of another code", setup: func(t *testing.T, store storage.Store, rec *wxqr.Record) {
			putObject(t, store, rec.Spec.Key(), whole)
			another := describe(store, permRecord("wxapp", wxqr.KindWxaQRCode, 2, "spring"), whole)
			putObject(t, store, catalog.SidecarKey(rec.Spec.Key()), []byte(toJSON(t, another)))
		}},
		{name: "corrupt sidecar", setup: func(t *testing.T, store storage.Store, rec *wxqr.Record) {
			putObject(t, store, rec.Spec.Key(), whole)
			putObject(t, store, catalog.SidecarKey(rec.Spec.Key()), []byte(`{"id": "cut sh`))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newDirStore(t)
			rec := describe(store, permRecord("wxapp", wxqr.KindWxaQRCode, 1, "spring"), whole)
			tt.setup(t, store, rec)
			got, err := catalog.StoredRecord(t.Context(), store, spec.ID(), spec)
			if err != nil {
				t.Fatalf("StoredRecord: %v", err)
			}
			if !tt.wantRec {
				if got != nil {
					t.Errorf("StoredRecord = %+v, want nil: nothing usable is stored", got)
				}
				return
			}
			if got == nil {
				t.Fatal("StoredRecord = nil, want the stored record")
			}
			if toJSON(t, got) != toJSON(t, rec) {
				t.Errorf("StoredRecord = %s\nwant %s", toJSON(t, got), toJSON(t, rec))
			}
		})
	}
	t.Run("store fails", func(t *testing.T) {
		store := newMemStore()
		store.getErr = errors.New("bucket unreachable")
		if got, err := catalog.StoredRecord(t.Context(), store, spec.ID(), spec); err == nil {
			t.Errorf("StoredRecord = %+v, nil; want the store's error", got)
		}
	})
}

// mustPutImage stores image with rec, as a worker does, and returns the
// object stored.
func mustPutImage(t *testing.T, store storage.Store, rec *wxqr.Record, image []byte) *storage.Object {
	t.Helper()
	if err := catalog.PutImage(t.Context(), store, rec, image); err != nil {
		t.Fatal(err)
	}
	obj, err := store.Get(t.Context(), rec.Spec.Key())
	if err != nil {
		t.Fatal(err)
	}
	return obj
}

func mustWriteSidecar(t *testing.T, store storage.Store, rec *wxqr.Record) {
	t.Helper()
	if err := catalog.WriteSidecar(t.Context(), store, rec); err != nil {
		t.Fatal(err)
	}
}
