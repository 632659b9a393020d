package catalog

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/storage"
)

// RecordMeta is the name of the image metadata that holds the code's
// record: its JSON, base64url-encoded (no padding), without the bucket and
// key, which are where the image is found. Base64 keeps the value ASCII, as
// S3 metadata must be, at 4/3 of the JSON's size whatever the script of a
// name or scene (percent-encoding would take 9 bytes for a Chinese
// character, base64 4).
const RecordMeta = "wxqr-record"

// PutImage stores image at rec.Spec.Key() with rec in its metadata
// (RecordMeta): one object, one PUT per code, so the bucket alone can
// rebuild the catalog. A record too large for object metadata (S3 allows
// 2 KiB: storage.CheckMeta), such as a Mini Program code's with a path of
// hundreds of bytes, goes to the image's sidecar (WriteSidecar) after the
// image, which then carries only the code's id and generation. Call it
// before Catalog.Put or Finish. It fails without writing if rec's id does
// not match its spec.
func PutImage(ctx context.Context, store storage.Store, rec *wxqr.Record, image []byte) error {
	if err := checkRecord(rec); err != nil {
		return fmt.Errorf("catalog: put image: %w", err)
	}
	key := rec.Spec.Key()
	meta, err := recordMeta(rec)
	if err != nil {
		return fmt.Errorf("catalog: put image %s: %w", key, err)
	}
	fits := storage.CheckMeta(meta) == nil
	if !fits {
		meta = map[string]string{"wxqr-id": rec.ID, "wxqr-generation": strconv.Itoa(rec.Generation)}
	}
	if err := store.Put(ctx, key, image, rec.ContentType, meta); err != nil {
		return fmt.Errorf("catalog: put image: %w", err)
	}
	if !fits {
		return WriteSidecar(ctx, store, rec)
	}
	return nil
}

// recordMeta is the metadata that carries rec (RecordMeta).
func recordMeta(rec *wxqr.Record) (map[string]string, error) {
	r := canonical(rec)
	r.Bucket, r.ObjectKey = "", ""
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	// "<" in a name would take six bytes as \u003c: the value is no HTML.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return nil, fmt.Errorf("encode the record: %w", err)
	}
	data := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	return map[string]string{RecordMeta: base64.RawURLEncoding.EncodeToString(data)}, nil
}

// recordOf returns the record that the metadata of the object at key
// carries (RecordMeta), its bucket and key set to where the object is: nil
// when it carries none, a *RecordError when it is not a usable record.
func recordOf(store storage.Store, key string, obj *storage.Object) (*wxqr.Record, error) {
	value, ok := obj.Meta[RecordMeta]
	if !ok {
		return nil, nil
	}
	data, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil {
		return nil, &RecordError{Key: key, Err: fmt.Errorf("metadata %s: %w", RecordMeta, err)}
	}
	rec, err := decodeStoredRecord(data)
	if err != nil {
		return nil, &RecordError{Key: key, Err: fmt.Errorf("metadata %s: %w", RecordMeta, err)}
	}
	rec.Bucket, rec.ObjectKey = store.Location(key)
	return rec, nil
}

// decodeStoredRecord decodes a record kept in the bucket and checks it.
func decodeStoredRecord(data []byte) (*wxqr.Record, error) {
	var rec wxqr.Record
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, err
	}
	if err := checkRecord(&rec); err != nil {
		return nil, err
	}
	return &rec, nil
}

// ReadRecord returns the record stored with the image at imageKey: the one
// in its metadata (RecordMeta), else the one in its sidecar (written by a
// version of wxqr before records moved into the metadata, or too large for
// it), its bucket and key set to where the image is. It fails with an error
// wrapping storage.ErrNotFound when neither holds one, and with a
// *RecordError when the one found is not usable.
func ReadRecord(ctx context.Context, store storage.Store, imageKey string) (*wxqr.Record, error) {
	obj, err := store.Head(ctx, imageKey)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return nil, fmt.Errorf("catalog: read record: %w", err)
	}
	if err == nil {
		if rec, err := recordOf(store, imageKey, obj); rec != nil || err != nil {
			return rec, err
		}
	}
	rec, err := readSidecar(ctx, store, SidecarKey(imageKey))
	if err != nil {
		return nil, fmt.Errorf("catalog: read record: %w", err)
	}
	rec.Bucket, rec.ObjectKey = store.Location(imageKey)
	return rec, nil
}

// RecordError is a record kept in the bucket that cannot be used:
// unreadable, or whose id does not match its spec. Key is the object that
// holds it: a sidecar, or an image whose metadata carries it.
type RecordError struct {
	Key string
	Err error
}

func (e *RecordError) Error() string {
	return "catalog: record in " + e.Key + ": " + e.Err.Error()
}

func (e *RecordError) Unwrap() error { return e.Err }
