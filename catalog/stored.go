package catalog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/storage"
)

// ErrObjectMissing is returned (wrapped) by CheckObject when the store has
// no image at the record's key.
var ErrObjectMissing = errors.New("missing")

// ErrObjectBroken is returned (wrapped) by CheckObject when the image at the
// record's key is not what the record says: another size or sha256, or not a
// complete image (wxqr.ErrIncompleteImage is wrapped too).
var ErrObjectBroken = errors.New("broken")

// CheckObject reads the image of rec from store and reports whether it is
// whole and the one rec describes: present, of rec's size and sha256, and a
// complete image of the expected width. The error says what is wrong and
// wraps ErrObjectMissing or ErrObjectBroken, or is the store's own error
// when the store could not be read.
func CheckObject(ctx context.Context, store storage.Store, rec *wxqr.Record) error {
	obj, err := store.Get(ctx, rec.Spec.Key())
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("%w: no object", ErrObjectMissing)
	}
	if err != nil {
		return err
	}
	return checkImageOf(rec, obj.Body)
}

func checkImageOf(rec *wxqr.Record, body []byte) error {
	if int64(len(body)) != rec.Size {
		return fmt.Errorf("%w: %d bytes, the record says %d", ErrObjectBroken, len(body), rec.Size)
	}
	if sum := sha256.Sum256(body); hex.EncodeToString(sum[:]) != rec.SHA256 {
		return fmt.Errorf("%w: sha256 differs from the record", ErrObjectBroken)
	}
	if _, err := wxqr.CheckImage(body, rec.Spec.ImageWidth()); err != nil {
		return fmt.Errorf("%w: %w", ErrObjectBroken, err)
	}
	return nil
}

// StoredRecord returns the record in the sidecar of spec's image, when the
// sidecar and the image are both in store and whole: what an earlier attempt
// stored before it could record the code in the catalog. It returns nil (and
// no error) when there is no such record, or what is there cannot be used
// (a corrupt sidecar, a broken image); an error only when the store fails.
func StoredRecord(ctx context.Context, store storage.Store, spec wxqr.Spec) (*wxqr.Record, error) {
	rec, err := readSidecar(ctx, store, SidecarKey(spec.Key()))
	var corrupt *SidecarError
	switch {
	case errors.Is(err, storage.ErrNotFound), errors.As(err, &corrupt):
		return nil, nil
	case err != nil:
		return nil, err
	case rec.ID != spec.ID():
		return nil, nil
	}
	err = CheckObject(ctx, store, rec)
	switch {
	case errors.Is(err, ErrObjectMissing), errors.Is(err, ErrObjectBroken):
		return nil, nil
	case err != nil:
		return nil, err
	}
	rec.Bucket, rec.ObjectKey = store.Location(spec.Key())
	return rec, nil
}
