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

// DirStore keeps objects as files under a directory: key "a/b.jpg" is the
// file <root>/<prefix>/a/b.jpg, and its content type and metadata are in
// <root>/<prefix>/a/b.jpg.meta.json, which Walk does not list.
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

// file is the file that holds key.
func (d *DirStore) file(key string) string {
	return filepath.Join(d.dir(), filepath.FromSlash(key))
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
	file := d.file(key)
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return opError("put", key, err)
	}
	// Metadata first: a crash between the two writes then leaves, for a new
	// key, metadata without a body (Get says not found) rather than a body
	// without its metadata.
	if err := writeFileAtomic(file+metaSuffix, side); err != nil {
		return opError("put", key, err)
	}
	if err := writeFileAtomic(file, body); err != nil {
		return opError("put", key, err)
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
	if err := ctx.Err(); err != nil {
		return nil, opError("get", key, err)
	}
	if err := checkKey(key); err != nil {
		return nil, opError("get", key, err)
	}
	file := d.file(key)
	body, err := os.ReadFile(file)
	if err != nil {
		// A directory holds other keys and is no object, and a file where a
		// directory should be means no object below it: S3 has no object at
		// "a" when it holds "a/b", nor at "a/b" when it holds "a".
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) || isDir(file) {
			return nil, opError("get", key, ErrNotFound)
		}
		return nil, opError("get", key, err)
	}
	obj := &Object{Body: body, ContentType: DefaultContentType, Meta: map[string]string{}}
	side, err := os.ReadFile(file + metaSuffix)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// A file put there by hand: no metadata.
	case err != nil:
		return nil, opError("get", key, err)
	default:
		var s sidecar
		if err := json.Unmarshal(side, &s); err != nil {
			return nil, opError("get", key, fmt.Errorf("metadata file %s: %w", file+metaSuffix, err))
		}
		if s.ContentType != "" {
			obj.ContentType = s.ContentType
		}
		for name, value := range s.Meta {
			obj.Meta[name] = value
		}
	}
	return obj, nil
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
	dir := d.dir()
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil // nothing stored yet: an empty store
	}
	return d.walk(ctx, dir, "", prefix, fn)
}

// walk visits the directory holding the keys that start with rel, in the
// byte order of the keys. Sorting a directory's entries by name, with "/"
// appended to the names of subdirectories, gives that order: every key
// under subdirectory "a" starts with "a/", which sorts after "a" and "a-b"
// but before "a0".
func (d *DirStore) walk(ctx context.Context, dir, rel, prefix string, fn func(key string) error) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return opError("walk", prefix, err)
	}
	type entry struct {
		name  string // file name
		key   string // key, with a trailing "/" for a directory
		isDir bool
	}
	list := make([]entry, 0, len(entries))
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || strings.HasSuffix(name, metaSuffix) {
			continue // temporary or metadata file: not a key
		}
		key := rel + name
		if e.IsDir() {
			key += "/"
			// Prune directories that hold no key with the prefix.
			if !strings.HasPrefix(key, prefix) && !strings.HasPrefix(prefix, key) {
				continue
			}
		} else if !strings.HasPrefix(key, prefix) {
			continue
		}
		list = append(list, entry{name: name, key: key, isDir: e.IsDir()})
	}
	slices.SortFunc(list, func(a, b entry) int { return strings.Compare(a.key, b.key) })
	for _, e := range list {
		if err := ctx.Err(); err != nil {
			return opError("walk", prefix, err)
		}
		if e.isDir {
			err = d.walk(ctx, filepath.Join(dir, e.name), e.key, prefix, fn)
		} else {
			err = fn(e.key)
		}
		if err != nil {
			return err
		}
	}
	return nil
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

// Location returns the store's root directory and key's path under it, in
// slash form: the file is filepath.Join(root, filepath.FromSlash(path)).
func (d *DirStore) Location(key string) (root, objectPath string) {
	return d.root, joinPrefix(d.prefix, key)
}
