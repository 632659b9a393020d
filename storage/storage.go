// Package storage keeps the images wxqr generates, and their metadata, in an
// object store: an S3-compatible bucket ([S3Store], for production) or a
// local directory ([DirStore], for development and the demo). [Open] picks
// one from a URL such as "s3://bucket/prefix" or "file:///var/lib/wxqr".
//
// Keys are slash-separated paths relative to the store's prefix. Choosing
// safe keys is the caller's job: wxqr derives them from wxqr.Spec.Key, which
// escapes every scene and path. Both stores still refuse a dangerous key
// (see [ErrInvalidKey]) rather than trust it, because a DirStore turns keys
// into file names and a key such as "../x" would write outside its
// directory. They refuse the same keys, so data can move from one store to
// the other.
//
// Metadata is a small map of lower-case names to UTF-8 values, stored with
// each object (see [ErrInvalidMeta] for the limits, which are S3's).
//
// A sidecar is an object that describes another: the one at [SidecarKey]
// of its key. Both stores keep it as an ordinary object, which Get and Walk
// find by its key; an S3Store keeps it next to the object it describes, and
// a DirStore in its hidden folder, out of the sight of people who open the
// directory.
package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Store is an object store. Every implementation is safe for concurrent use.
type Store interface {
	// Put stores body at key with its content type (empty means
	// DefaultContentType) and metadata, replacing whatever was there.
	Put(ctx context.Context, key string, body []byte, contentType string, meta map[string]string) error
	// Get returns the object at key, or an error wrapping ErrNotFound.
	Get(ctx context.Context, key string) (*Object, error)
	// Head returns the content type and metadata of the object at key,
	// without its body (Body is nil), or an error wrapping ErrNotFound.
	Head(ctx context.Context, key string) (*Object, error)
	// Walk calls fn with every key that starts with prefix, in byte order.
	// Keys are relative to the store's prefix, as given to Put. An error
	// from fn stops the walk and is returned as is. A prefix that no valid
	// key can start with (such as "../") is an error wrapping
	// ErrInvalidKey.
	Walk(ctx context.Context, prefix string, fn func(key string) error) error
	// Check reports whether the store is reachable and writable, for
	// readiness probes. It writes and deletes a small probe object.
	Check(ctx context.Context) error
	// Location tells where key really lives: a bucket (or, for a DirStore,
	// a directory) and the object's full key in it. Records and exports
	// carry it so that others can fetch the image without wxqr.
	Location(key string) (bucket, objectKey string)
}

// Object is a stored object.
type Object struct {
	Body        []byte // nil from Head
	ContentType string
	Meta        map[string]string // never nil
}

// DefaultContentType is what Put stores when given no content type.
const DefaultContentType = "application/octet-stream"

var (
	// ErrNotFound means there is no object at the key.
	ErrNotFound = errors.New("not found")

	// ErrInvalidKey means a key that a store refuses. A key must be at
	// most 1024 bytes of UTF-8 without control characters or backslashes,
	// made of non-empty slash-separated segments (so no leading, trailing
	// or double slash) none of which starts with "." (so no "." or ".."
	// and no hidden files, which DirStore uses for temporary files and its
	// hidden folder), and must not end in ".meta.json" (DirStore's metadata
	// files).
	ErrInvalidKey = errors.New("invalid key")

	// ErrInvalidMeta means metadata that a store refuses. Names must be
	// non-empty and made of a-z, 0-9, "-" and "_" (S3 folds names to lower
	// case); values must be valid UTF-8; and the names and values, as
	// S3Store stores them (see S3Store), must add up to at most 2 KiB.
	ErrInvalidMeta = errors.New("invalid metadata")
)

// maxKeyLen is S3's limit on the length of an object key.
const maxKeyLen = 1024

// maxMetaSize is S3's limit on the size of an object's user metadata.
const maxMetaSize = 2048

// metaSuffix ends the name of the file where a DirStore keeps an object's
// content type and metadata. It is reserved in every store.
const metaSuffix = ".meta.json"

// SidecarSuffix ends the key of every sidecar, and of nothing else that
// wxqr stores.
const SidecarSuffix = ".json"

// SidecarKey returns the key of the sidecar of the object at key.
func SidecarKey(key string) string { return key + SidecarSuffix }

// isSidecar reports whether key is a sidecar's.
func isSidecar(key string) bool { return strings.HasSuffix(key, SidecarSuffix) }

// checkPath checks a slash-separated path (a key or a store prefix).
func checkPath(p string) error {
	if p == "" {
		return fmt.Errorf("%w: empty", ErrInvalidKey)
	}
	if !utf8.ValidString(p) {
		return fmt.Errorf("%w: not valid UTF-8", ErrInvalidKey)
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return fmt.Errorf("%w: contains %q", ErrInvalidKey, r)
		}
	}
	for seg := range strings.SplitSeq(p, "/") {
		switch {
		case seg == "":
			return fmt.Errorf("%w: empty segment (leading, trailing or double slash)", ErrInvalidKey)
		case seg[0] == '.':
			return fmt.Errorf("%w: segment %q starts with \".\"", ErrInvalidKey, seg)
		}
	}
	return nil
}

// checkKey checks that a store accepts key.
func checkKey(key string) error {
	if len(key) > maxKeyLen {
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidKey, maxKeyLen)
	}
	if strings.HasSuffix(key, metaSuffix) {
		return fmt.Errorf("%w: ends in %q, which is reserved", ErrInvalidKey, metaSuffix)
	}
	return checkPath(key)
}

// checkWalkPrefix checks that some valid key can start with prefix.
func checkWalkPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	return checkPath(prefix + "x")
}

// CheckMeta reports whether every store accepts meta: nil, or an error
// wrapping ErrInvalidMeta that says why not. Put checks it too; callers
// check first to choose what to store when metadata may be too large.
func CheckMeta(meta map[string]string) error {
	size := 0
	for name, value := range meta {
		if name == "" || strings.IndexFunc(name, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_')
		}) >= 0 {
			return fmt.Errorf("%w: name %q (use a-z, 0-9, - and _)", ErrInvalidMeta, name)
		}
		if !utf8.ValidString(value) {
			return fmt.Errorf("%w: value of %q is not valid UTF-8", ErrInvalidMeta, name)
		}
		size += len(name) + len(encodeMetaValue(value))
	}
	if size > maxMetaSize {
		return fmt.Errorf("%w: %d bytes, more than %d", ErrInvalidMeta, size, maxMetaSize)
	}
	return nil
}

// checkPut checks the arguments of Put and returns the content type to
// store.
func checkPut(key, contentType string, meta map[string]string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	if err := CheckMeta(meta); err != nil {
		return "", err
	}
	if contentType == "" {
		contentType = DefaultContentType
	}
	return contentType, nil
}

// trimPrefix returns a store prefix without surrounding slashes, checked
// like a key ("" is allowed: no prefix).
func trimPrefix(prefix string) (string, error) {
	prefix = strings.Trim(prefix, "/")
	if prefix == "" {
		return "", nil
	}
	if err := checkPath(prefix); err != nil {
		return "", fmt.Errorf("prefix %q: %w", prefix, err)
	}
	return prefix, nil
}

// joinPrefix returns key under prefix.
func joinPrefix(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "/" + key
}

// opError wraps err with the operation and key, the way every error of this
// package reads: `storage: get "a/b.jpg": not found`.
func opError(op, key string, err error) error {
	return fmt.Errorf("storage: %s %q: %w", op, key, err)
}
