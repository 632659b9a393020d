package storage

import (
	"context"
	"fmt"
	"net/url"
	"strings"
)

// acceptedURLs names the forms Open accepts, for its errors.
const acceptedURLs = "s3://bucket/prefix, file:///absolute/path or file://./relative/path"

// Open returns the store that rawURL names:
//
//   - "s3://bucket/prefix" (prefix optional): an S3Store configured by s3,
//     whose Bucket and Prefix the URL replaces;
//   - "file:///absolute/path": a DirStore in that directory;
//   - "file://./relative/path": a DirStore in that directory, relative to the
//     working directory.
//
// Anything else, a plain path included, is an error naming these forms.
func Open(ctx context.Context, rawURL string, s3 S3Config) (Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("storage: open: %w (want %s)", err, acceptedURLs)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return nil, fmt.Errorf("storage: open %q: unexpected user, query or fragment (want %s)", rawURL, acceptedURLs)
	}
	switch u.Scheme {
	case "s3":
		if u.Host == "" {
			return nil, fmt.Errorf("storage: open %q: no bucket (want %s)", rawURL, acceptedURLs)
		}
		s3.Bucket = u.Host
		s3.Prefix = strings.Trim(u.Path, "/")
		return NewS3(ctx, s3)
	case "file":
		var dir string
		switch u.Host {
		case "", "localhost":
			dir = u.Path
		case ".":
			dir = "." + u.Path
		default:
			return nil, fmt.Errorf("storage: open %q: %q is neither an absolute path nor one starting with ./ (want %s)",
				rawURL, "//"+u.Host+u.Path, acceptedURLs)
		}
		if dir == "" {
			return nil, fmt.Errorf("storage: open %q: no directory (want %s)", rawURL, acceptedURLs)
		}
		return NewDir(dir, "")
	default:
		return nil, fmt.Errorf("storage: open %q: not a storage URL (want %s)", rawURL, acceptedURLs)
	}
}
