package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// DirStore keeps objects as files under a directory, laid out for the people
// who open it: the objects they look for where they look, and everything
// else in one hidden folder, .wxqr, that mirrors the keys. Under
// <root>/<prefix>:
//
//	a/b.jpg                       the object at key "a/b.jpg"
//	.wxqr/a/b.jpg.meta.json       its content type and metadata
//	.wxqr/a/b.jpg.json            the sidecar at key "a/b.jpg.json" (see SidecarKey)
//	.wxqr/a/b.jpg.json.meta.json  the sidecar's content type
//
// Walk lists the objects and the sidecars by their keys, never the metadata
// files.
//
// A directory written before the hidden folder existed has each object's
// metadata file and sidecar next to it (a/b.jpg.meta.json, a/b.jpg.json,
// a/b.jpg.json.meta.json). DirStore reads that layout as it is, without
// touching it, so that a copy on a read-only disk can still rebuild a
// catalog; each object moves to the new layout when it is next put.
//
// Each file is replaced atomically (written to a temporary file in the same
// directory, synced, then renamed), so a reader sees the old or the new
// file, never half of one. The object and its metadata are two files,
// though: a reader racing a Put, or a crash between the two renames, can
// pair new metadata with the old body. Retrying the Put repairs it.
//
// Each segment of a key must fit in a file name once ".meta.json" is
// appended (255 bytes on most systems).
type DirStore struct {
	root   string // absolute
	prefix string // slash-separated, no surrounding slashes; may be ""
}

var _ Store = (*DirStore)(nil)

// NewDir returns a store in directory root (made absolute, created on the
// first Put or Check) under prefix (may be empty). It fails if root is
// empty or prefix is not a valid key (see ErrInvalidKey).
func NewDir(root, prefix string) (*DirStore, error) {
	if root == "" {
		return nil, errors.New("storage: directory store: root is empty")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("storage: directory store: %w", err)
	}
	prefix, err = trimPrefix(prefix)
	if err != nil {
		return nil, fmt.Errorf("storage: directory store: %w", err)
	}
	return &DirStore{root: abs, prefix: prefix}, nil
}

// dir is the directory that holds the store's keys.
func (d *DirStore) dir() string {
	return filepath.Join(d.root, filepath.FromSlash(d.prefix))
}

// hiddenDir is the folder, in the store's directory, that holds what people
// do not look for: metadata files and sidecars. No key starts with ".", so
// no key can reach it.
const hiddenDir = ".wxqr"

// visible is the file where key is in sight: every object's body, and in
// the layout before the hidden folder, sidecars too.
func (d *DirStore) visible(key string) string {
	return filepath.Join(d.dir(), filepath.FromSlash(key))
}

// hidden is the file for key in the hidden folder.
func (d *DirStore) hidden(key string) string {
	return filepath.Join(d.dir(), hiddenDir, filepath.FromSlash(key))
}

// files names where the body and the metadata of key are, and where the
// layout before the hidden folder had them.
type files struct{ body, meta, oldBody, oldMeta string }

func (d *DirStore) files(key string) files {
	f := files{body: d.visible(key), meta: d.hidden(key) + metaSuffix, oldBody: "", oldMeta: d.visible(key) + metaSuffix}
	if isSidecar(key) {
		f.body, f.oldBody = d.hidden(key), d.visible(key)
	}
	return f
}

// sidecar is what a DirStore keeps in a ".meta.json" file.
type sidecar struct {
	ContentType string            `json:"content_type"`
	Meta        map[string]string `json:"meta,omitempty"`
}

// Put stores body at key. See Store.
func (d *DirStore) Put(ctx context.Context, key string, body []byte, contentType string, meta map[string]string) error {
	if err := ctx.Err(); err != nil {
		return opError("put", key, err)
	}
	contentType, err := checkPut(key, contentType, meta)
	if err != nil {
		return opError("put", key, err)
	}
	side, err := json.Marshal(sidecar{ContentType: contentType, Meta: meta})
	if err != nil {
		return opError("put", key, err)
	}
	f := d.files(key)
	for _, name := range []string{f.meta, f.body} {
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			return opError("put", key, err)
		}
	}
	// Metadata first: a crash between the two writes then leaves, for a new
	// key, metadata without a body (Get says not found) rather than a body
	// without its metadata.
	if err := writeFileAtomic(f.meta, side); err != nil {
		return opError("put", key, err)
	}
	if err := writeFileAtomic(f.body, body); err != nil {
		return opError("put", key, err)
	}
	// Get prefers the new files, so what the old layout kept for key can go
	// now: the folder gets tidier with every put.
	if err := removeIfPresent(f.oldMeta, f.oldBody); err != nil {
		return opError("put", key, err)
	}
	return nil
}

// removeIfPresent removes the files names ("" names none) that exist.
func removeIfPresent(names ...string) error {
	for _, name := range names {
		if name == "" {
			continue
		}
		if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// writeFileAtomic replaces name with data through a temporary file in the
// same directory (a rename is atomic only within one file system). The
// temporary name starts with ".", which no key does, so Walk never lists
// one left behind by a crash.
func writeFileAtomic(name string, data []byte) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(name), ".wxqr-*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Chmod(0o644); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}

// Get returns the object at key. See Store.
func (d *DirStore) Get(ctx context.Context, key string) (*Object, error) {
	return d.get(ctx, "get", key, readBody)
}

// Head returns the object at key without its body. See Store.
func (d *DirStore) Head(ctx context.Context, key string) (*Object, error) {
	return d.get(ctx, "head", key, func(name string) ([]byte, error) {
		return nil, statBody(name)
	})
}

// get is Get and Head: read finds the body (or only that it exists).
func (d *DirStore) get(ctx context.Context, op, key string, read func(name string) ([]byte, error)) (*Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, opError(op, key, err)
	}
	if err := checkKey(key); err != nil {
		return nil, opError(op, key, err)
	}
	f := d.files(key)
	body, err := read(f.body)
	if errors.Is(err, ErrNotFound) && f.oldBody != "" {
		body, err = read(f.oldBody)
	}
	if err != nil {
		return nil, opError(op, key, err)
	}
	obj := &Object{Body: body, ContentType: DefaultContentType, Meta: map[string]string{}}
	side, err := readMeta(f.meta, f.oldMeta)
	if err != nil {
		return nil, opError(op, key, err)
	}
	if side.ContentType != "" {
		obj.ContentType = side.ContentType
	}
	for name, value := range side.Meta {
		obj.Meta[name] = value
	}
	return obj, nil
}

// readBody reads the file name, which holds an object's body, or fails with
// ErrNotFound.
func readBody(name string) ([]byte, error) {
	body, err := os.ReadFile(name)
	return body, bodyError(name, err)
}

// statBody reports whether the file name, which holds an object's body, is
// there: ErrNotFound if not.
func statBody(name string) error {
	fi, err := os.Stat(name)
	if err == nil && fi.IsDir() {
		return ErrNotFound
	}
	return bodyError(name, err)
}

// bodyError is the error of reading the body file name: ErrNotFound when
// there is no object. A directory holds other keys and is no object, and a
// file where a directory should be means no object below it: S3 has no
// object at "a" when it holds "a/b", nor at "a/b" when it holds "a".
func bodyError(name string, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) || err != nil && isDir(name) {
		return ErrNotFound
	}
	return err
}

// readMeta reads the first of the metadata files names that exists. None
// existing means an object put there by hand: no metadata.
func readMeta(names ...string) (sidecar, error) {
	var s sidecar
	for _, name := range names {
		data, err := os.ReadFile(name)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			continue
		}
		if err != nil {
			return s, err
		}
		if err := json.Unmarshal(data, &s); err != nil {
			return s, fmt.Errorf("metadata file %s: %w", name, err)
		}
		return s, nil
	}
	return s, nil
}

func isDir(name string) bool {
	fi, err := os.Stat(name)
	return err == nil && fi.IsDir()
}

// Walk calls fn with every key that starts with prefix. See Store.
func (d *DirStore) Walk(ctx context.Context, prefix string, fn func(key string) error) error {
	if err := checkWalkPrefix(prefix); err != nil {
		return opError("walk", prefix, err)
	}
	return d.walk(ctx, "", prefix, fn)
}

// walk visits the keys under rel ("" or a directory's key ending in "/")
// that start with prefix, in byte order.
func (d *DirStore) walk(ctx context.Context, rel, prefix string, fn func(key string) error) error {
	entries, err := d.list(rel, prefix)
	if err != nil {
		return opError("walk", prefix, err)
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return opError("walk", prefix, err)
		}
		if e.isDir {
			err = d.walk(ctx, e.key, prefix, fn)
		} else {
			err = fn(e.key)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// dirEntry is a key, or a directory of keys (isDir, key ending in "/").
type dirEntry struct {
	key   string
	isDir bool
}

// list returns what lies directly under rel, in the visible directory and
// its mirror in the hidden folder, each key once, without what cannot hold
// a key starting with prefix, in the byte order of the keys. Sorting by
// key, with "/" ending the keys of directories, gives that order: every key
// under directory "a" starts with "a/", which sorts after "a" and "a-b" but
// before "a0".
func (d *DirStore) list(rel, prefix string) ([]dirEntry, error) {
	found := map[string]bool{} // key → isDir
	for _, inHidden := range []bool{false, true} {
		dir := d.visible(rel)
		if inHidden {
			dir = d.hidden(rel)
		}
		entries, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue // nothing stored there (yet)
		}
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			name := e.Name()
			if strings.HasPrefix(name, ".") || strings.HasSuffix(name, metaSuffix) {
				continue // temporary file, hidden folder or metadata: not a key
			}
			if inHidden && !e.IsDir() && !isSidecar(name) {
				continue // no key Get would read there
			}
			key := rel + name
			if e.IsDir() {
				key += "/"
			}
			if strings.HasPrefix(key, prefix) || e.IsDir() && strings.HasPrefix(prefix, key) {
				found[key] = e.IsDir()
			}
		}
	}
	list := make([]dirEntry, 0, len(found))
	for key, isDir := range found {
		list = append(list, dirEntry{key: key, isDir: isDir})
	}
	slices.SortFunc(list, func(a, b dirEntry) int { return strings.Compare(a.key, b.key) })
	return list, nil
}

// Check creates the store's directory if needed and writes and removes a
// probe file in it. See Store.
func (d *DirStore) Check(ctx context.Context) error {
	dir := d.dir()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("storage: check %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("storage: check: %w", err)
	}
	probe, err := os.CreateTemp(dir, ".wxqr-check-*")
	if err != nil {
		return fmt.Errorf("storage: check: %w", err)
	}
	_, werr := probe.WriteString("ok")
	cerr := probe.Close()
	rerr := os.Remove(probe.Name())
	if err := errors.Join(werr, cerr, rerr); err != nil {
		return fmt.Errorf("storage: check: %w", err)
	}
	return nil
}

// Location returns the store's root directory and the path under it, in
// slash form, of the file where Put keeps key's body: the file is
// filepath.Join(root, filepath.FromSlash(path)). A sidecar's is in the
// hidden folder.
func (d *DirStore) Location(key string) (root, objectPath string) {
	if isSidecar(key) {
		return d.root, joinPrefix(d.prefix, hiddenDir+"/"+key)
	}
	return d.root, joinPrefix(d.prefix, key)
}
