package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/storage"
)

// SidecarContentType is the content type sidecars are stored with.
const SidecarContentType = "application/json"

// SidecarKey returns the key of the sidecar of the image at imageKey: the
// object that holds the code's record as JSON (storage.SidecarKey) when the
// image's metadata cannot (see PutImage), or when an earlier version of wxqr
// wrote it. An S3 bucket keeps it next to the image; a directory in its
// hidden folder.
func SidecarKey(imageKey string) string { return storage.SidecarKey(imageKey) }

// WriteSidecar stores rec as JSON at SidecarKey(rec.Spec.Key()), the
// sidecar of the code's image, for a record that does not fit in the image's
// metadata (see PutImage), so that the bucket alone can rebuild the catalog.
// Call it after putting the image, before Catalog.Put. It fails without
// writing if rec's id does not match its spec.
func WriteSidecar(ctx context.Context, store storage.Store, rec *wxqr.Record) error {
	if err := checkRecord(rec); err != nil {
		return fmt.Errorf("catalog: write sidecar: %w", err)
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("catalog: write sidecar %s: encode: %w", rec.ID, err)
	}
	key := SidecarKey(rec.Spec.Key())
	if err := store.Put(ctx, key, data, SidecarContentType, nil); err != nil {
		return fmt.Errorf("catalog: write sidecar %s: %w", key, err)
	}
	return nil
}

// Rebuild walks store and puts every record it holds into the catalog, with
// the same indexes as Put: the one in each image's metadata (RecordMeta),
// and the one in each sidecar (every key ending in storage.SidecarSuffix,
// ".json") whose image carries none in its metadata. An image whose
// metadata holds the record was written after its sidecar, if it has one:
// the metadata is the record. It reads every object's metadata (a HEAD
// request per object on S3) and, for images without a record there, their
// sidecar: one request per code in a bucket written by this version, two in
// one written before records moved into the metadata.
//
// Each record's Bucket and Key are set to where its image really is
// (store.Location), so a catalog rebuilt from a copy of the bucket points at
// the copy. A record the catalog already holds at a higher generation is
// left alone, so Rebuild is idempotent and safe on a live catalog. Then it
// recounts (Recount) every campaign it put a record of. It returns how many
// records it put.
//
// A corrupt record does not stop the rebuild: the error is nil if every
// record was used, and otherwise joins one *RecordError per corrupt record
// (errors.As finds the first; the error's Unwrap() []error lists them all).
// A failing store or Redis stops the rebuild; its error is joined to those.
func (c *Catalog) Rebuild(ctx context.Context, store storage.Store) (int, error) {
	n := 0
	var errs []error
	touched := map[string]bool{} // campaigns to recount
	r := &rebuildReader{store: store}
	err := store.Walk(ctx, "", func(key string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec, err := r.record(ctx, key)
		var bad *RecordError
		if errors.As(err, &bad) {
			errs = append(errs, err)
			return nil
		}
		if err != nil || rec == nil {
			return err
		}
		written, err := c.put(ctx, rec, true, nil, nil)
		if err != nil {
			return err
		}
		if written {
			n++
			touched[rec.Campaign] = true
		}
		return nil
	})
	if err == nil {
		// Put kept the counters right for the records it replaced, as
		// they counted them; records from before the counters were not.
		err = c.recountCampaigns(ctx, touched)
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("catalog: rebuild: %w", err))
	}
	return n, errors.Join(errs...)
}

// rebuildReader reads the records of a store's keys, in the order Walk
// lists them. It remembers whether the last image it read carries its
// record: its sidecar, if any, is listed soon after it (a key sorts before
// the same key with ".json" appended), and is then read or skipped without
// asking the store again.
type rebuildReader struct {
	store storage.Store
	// last is the last image whose metadata was read, and lastHas whether
	// that metadata holds its record.
	last    string
	lastHas bool
}

// record returns the record key holds for a rebuild, nil when it holds none
// (or, a sidecar, one that its image's metadata supersedes). A record that
// cannot be used is a *RecordError; any other error is the store's. An
// object deleted since the listing holds none.
func (r *rebuildReader) record(ctx context.Context, key string) (*wxqr.Record, error) {
	image, isSidecar := strings.CutSuffix(key, storage.SidecarSuffix)
	if !isSidecar {
		return r.imageRecord(ctx, key)
	}
	if image != r.last {
		if _, err := r.imageRecord(ctx, image); err != nil && !isRecordError(err) {
			return nil, err
		}
	}
	if r.lastHas {
		return nil, nil
	}
	rec, err := readSidecar(ctx, r.store, key)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	rec.Bucket, rec.ObjectKey = r.store.Location(image)
	return rec, nil
}

// imageRecord returns the record in the metadata of the object at key, nil
// if it has none (or is not there), and remembers which.
func (r *rebuildReader) imageRecord(ctx context.Context, key string) (*wxqr.Record, error) {
	r.last, r.lastHas = key, false
	obj, err := r.store.Head(ctx, key)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	// A corrupt record counts as none: a sidecar, if there is one, is
	// used instead.
	rec, err := recordOf(r.store, key, obj)
	r.lastHas = rec != nil
	return rec, err
}

func isRecordError(err error) bool {
	var bad *RecordError
	return errors.As(err, &bad)
}

// readSidecar returns the record in the sidecar at key. A sidecar that is
// there but unusable is a *RecordError; any other error is the store's.
func readSidecar(ctx context.Context, store storage.Store, key string) (*wxqr.Record, error) {
	obj, err := store.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("read sidecar %s: %w", key, err)
	}
	rec, err := decodeStoredRecord(obj.Body)
	if err != nil {
		return nil, &RecordError{Key: key, Err: err}
	}
	return rec, nil
}
