package catalog

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/storage"
)

// renameLockTTL bounds how long a rename holds a code that its process
// stopped holding (it is renewed while the rename runs).
const renameLockTTL = 30 * time.Second

// Rename gives the code id the name name: a person's label, which is not
// part of the code's identity (see wxqr.Request.Name). It writes the record
// with the name to the bucket (rewriting the image with it, see PutImage, or
// to the sidecar when there is no image), then to the catalog, as a worker
// does, and under the code's lock, so that it never overwrites a
// generation a worker writes at the same time. A code being made right now
// is not renamed: Rename fails with ErrLocked. An unknown code fails with
// ErrNotFound.
func (c *Catalog) Rename(ctx context.Context, store storage.Store, id, name string) error {
	lease, err := c.Lock(ctx, id, renameLockTTL)
	if err != nil {
		return fmt.Errorf("catalog: rename %s: %w", id, err)
	}
	defer lease.Release()
	rec, err := c.Get(ctx, id)
	if err != nil {
		return fmt.Errorf("catalog: rename: %w", err)
	}
	if rec.Name == name {
		return nil
	}
	rec.Name = name
	if err := rewriteRecord(ctx, store, rec); err != nil {
		return fmt.Errorf("catalog: rename: %w", err)
	}
	if err := c.PutHeld(ctx, rec, lease); err != nil {
		return fmt.Errorf("catalog: rename: %w", err)
	}
	return nil
}

// rewriteRecord stores rec in the bucket where a rebuild reads it: with its
// image, put again as it is with rec in its metadata; in the sidecar when
// the image is missing (a repair puts it back with the catalog's record).
func rewriteRecord(ctx context.Context, store storage.Store, rec *wxqr.Record) error {
	obj, err := store.Get(ctx, rec.Spec.Key())
	if errors.Is(err, storage.ErrNotFound) {
		return WriteSidecar(ctx, store, rec)
	}
	if err != nil {
		return err
	}
	return PutImage(ctx, store, rec, obj.Body)
}
