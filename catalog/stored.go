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

// ErrObjectMissing is matched (errors.Is) by CheckObject's error when the
// store has no image at the record's key.
var ErrObjectMissing = errors.New("missing")

// ErrObjectBroken is matched (errors.Is) by CheckObject's error when the
// image at the record's key is not what the record says: not a complete
// image (wxqr.ErrIncompleteImage matches too), another size or sha256.
var ErrObjectBroken = errors.New("broken")

// ObjectError is what CheckObject found wrong with a stored image; its
// message is the problem alone ("missing", "0 bytes, ..."), for listings.
type ObjectError struct {
	Problem string
	missing bool
	err     error // the image check's error, if that is what failed
}

func (e *ObjectError) Error() string { return e.Problem }
func (e *ObjectError) Unwrap() error { return e.err }

// Is makes the error match ErrObjectMissing or ErrObjectBroken.
func (e *ObjectError) Is(target error) bool {
	return target == ErrObjectMissing && e.missing || target == ErrObjectBroken && !e.missing
}

// CheckObject reads the image of rec from store and reports whether it is
// whole and the one rec describes: present, a complete image of the expected
// width, of rec's size and sha256. A problem is an *ObjectError; any other
// error is the store's, which says nothing about the image.
func CheckObject(ctx context.Context, store storage.Store, rec *wxqr.Record) error {
	obj, err := store.Get(ctx, rec.Spec.Key())
	if errors.Is(err, storage.ErrNotFound) {
		return &ObjectError{Problem: "missing", missing: true}
	}
	if err != nil {
		return err
	}
	return checkImageOf(rec, obj.Body)
}

func checkImageOf(rec *wxqr.Record, body []byte) error {
	// An incomplete image is the most telling problem: it also explains a
	// size or a sha256 that differ.
	if _, err := wxqr.CheckImage(body, rec.Spec.ImageWidth()); err != nil {
		return &ObjectError{Problem: err.Error(), err: err}
	}
	if int64(len(body)) != rec.Size {
		return &ObjectError{Problem: fmt.Sprintf("%d bytes, the record says %d", len(body), rec.Size)}
	}
	if sum := sha256.Sum256(body); hex.EncodeToString(sum[:]) != rec.SHA256 {
		return &ObjectError{Problem: "sha256 differs from the record"}
	}
	return nil
}

// StoredRecord returns the record stored with spec's image (in its
// metadata, else its sidecar: see ReadRecord), when the record is the
// code's (id, spec.ID(), which the caller carries) and the image is in store
// and whole: what an earlier attempt stored before it could record the code
// in the catalog. It returns nil (and no error) when there is no such record,
// or what is there cannot be used (a corrupt record, a broken image); an
// error only when the store fails. It reads the image, and the sidecar only
// when the image's metadata holds no record.
func StoredRecord(ctx context.Context, store storage.Store, id string, spec wxqr.Spec) (*wxqr.Record, error) {
	key := spec.Key()
	obj, err := store.Get(ctx, key)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	rec, err := recordOf(store, key, obj)
	if rec == nil && err == nil {
		rec, err = readSidecar(ctx, store, SidecarKey(key))
	}
	switch {
	case errors.Is(err, storage.ErrNotFound), isRecordError(err):
		return nil, nil
	case err != nil:
		return nil, err
	case rec.ID != id:
		return nil, nil
	}
	if checkImageOf(rec, obj.Body) != nil {
		return nil, nil
	}
	rec.Bucket, rec.ObjectKey = store.Location(key)
	return rec, nil
}
