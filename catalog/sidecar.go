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
// object that holds the code's record as JSON (storage.SidecarKey). An S3
// bucket keeps it next to the image; a directory in its hidden folder.
func SidecarKey(imageKey string) string { return storage.SidecarKey(imageKey) }

// WriteSidecar stores rec as JSON at SidecarKey(rec.Spec.Key()), the
// sidecar of the code's image, so that the bucket alone can rebuild the
// catalog. Call it
// after putting the image, before Catalog.Put. It fails without writing if
// rec's id does not match its spec.
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

// SidecarError is a sidecar that Rebuild could not use: unreadable JSON or a
// record whose id does not match its spec.
type SidecarError struct {
	Key string // the sidecar's key in the store
	Err error
}

func (e *SidecarError) Error() string {
	return "catalog: rebuild: sidecar " + e.Key + ": " + e.Err.Error()
}

func (e *SidecarError) Unwrap() error { return e.Err }

// Rebuild walks store and puts the record of every sidecar (every key ending
// in storage.SidecarSuffix, ".json"; other keys are skipped) into the
// catalog, with the same indexes as Put. Each record's Bucket and Key are set to where its image
// really is (store.Location), so a catalog rebuilt from a copy of the bucket
// points at the copy. A record the catalog already holds at a higher
// generation is left alone, so Rebuild is idempotent and safe on a live
// catalog. Then it recounts (Recount) every campaign it put a record of.
// It returns how many records it put.
//
// A corrupt sidecar does not stop the rebuild: the error is nil if every
// sidecar was used, and otherwise joins one *SidecarError per corrupt
// sidecar (errors.As finds the first; the error's Unwrap() []error lists
// them all). A failing store or Redis stops the rebuild; its error is joined
// to those.
func (c *Catalog) Rebuild(ctx context.Context, store storage.Store) (int, error) {
	n := 0
	var errs []error
	touched := map[string]bool{} // campaigns to recount
	err := store.Walk(ctx, "", func(key string) error {
		if !strings.HasSuffix(key, storage.SidecarSuffix) {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rec, err := readSidecar(ctx, store, key)
		if errors.Is(err, storage.ErrNotFound) { // deleted since the listing
			return nil
		}
		var bad *SidecarError
		if errors.As(err, &bad) {
			errs = append(errs, err)
			return nil
		}
		if err != nil {
			return err
		}
		rec.Bucket, rec.ObjectKey = store.Location(strings.TrimSuffix(key, storage.SidecarSuffix))
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

// readSidecar returns the record in the sidecar at key. A sidecar that is
// there but unusable is a *SidecarError; any other error is the store's.
func readSidecar(ctx context.Context, store storage.Store, key string) (*wxqr.Record, error) {
	obj, err := store.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("read sidecar %s: %w", key, err)
	}
	var rec wxqr.Record
	if err := json.Unmarshal(obj.Body, &rec); err != nil {
		return nil, &SidecarError{Key: key, Err: err}
	}
	if err := checkRecord(&rec); err != nil {
		return nil, &SidecarError{Key: key, Err: err}
	}
	return &rec, nil
}
