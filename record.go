package wxqr

import (
	"strconv"
	"strings"
	"time"
)

// Record is everything wxqr knows about a generated code: its identity, what
// WeChat returned, and where the image is. The catalog keeps one per code, and
// every stored image carries it as metadata, so the bucket alone can rebuild
// the catalog.
type Record struct {
	ID string `json:"id"`
	Spec
	Campaign      string    `json:"campaign,omitempty"`
	Name          string    `json:"name,omitempty"`   // a person's label for the code, e.g. "Store 12 - entrance"
	Ticket        string    `json:"ticket,omitempty"` // OA codes only
	URL           string    `json:"url,omitempty"`    // OA codes only: the QR content
	ExpireSeconds int       `json:"expire_seconds,omitempty"`
	ExpiresAt     time.Time `json:"expires_at,omitzero"` // zero for codes that never expire
	CreatedAt     time.Time `json:"created_at"`
	Generation    int       `json:"generation"` // 1 for the first image, +1 per regeneration
	Bucket        string    `json:"bucket"`
	ObjectKey     string    `json:"key"` // the image's key in Bucket, the store's prefix included
	ContentType   string    `json:"content_type"`
	Size          int64     `json:"size"`
	SHA256        string    `json:"sha256"`
	Retired       bool      `json:"retired,omitempty"` // never regenerated again
}

// Label is what people call the code: its name, else what it opens (an
// Official Account code's scene; a Mini Program code's path, and its scene
// when it has one). Pages, print sheets and file names show it.
func (r *Record) Label() string {
	if name := strings.TrimSpace(r.Name); name != "" {
		return name
	}
	scene := r.Scene()
	switch {
	case r.Path != "" && scene != "":
		return r.Path + " · " + scene
	case r.Path != "":
		return r.Path
	default:
		return scene
	}
}

// Valid reports whether the code can still be scanned at t: it never expires,
// or it expires after t.
func (r *Record) Valid(t time.Time) bool {
	return r.ExpiresAt.IsZero() || r.ExpiresAt.After(t)
}

// Done reports whether the code needs no new image at t: it can still be
// scanned, or it was retired and is never made again.
func (r *Record) Done(t time.Time) bool {
	return r.Valid(t) || r.Retired
}

// Key is where the image of the code lives, relative to the store's prefix:
// `{app_id}/{kind}/{scene or path}.jpg`, with the scene or path escaped so
// that any value is safe (no `/`, no `..`, no case folding surprises) and two
// different codes never share a key. Mini Program keys carry the width, which
// changes the image, and the styling that is not WeChat's default
// (`_w430_line-1a5fb4_hyaline`); a transparent code is a PNG and its key
// ends in `.png`. A name that would be too long for a file system is cut
// and ends in the code's id.
func (s Spec) Key() string {
	s = s.Normalize()
	var name string
	switch s.Kind {
	case KindWxaQRCode, KindWxaCode:
		name = escapeKeySegment(s.Path)
	case KindWxaUnlimited:
		name = escapeKeySegment(s.Path) + "@" + escapeKeySegment(s.SceneStr)
	default:
		if s.SceneStr != "" {
			name = "s-" + escapeKeySegment(s.SceneStr)
		} else {
			name = "i-" + escapeKeySegment(s.Scene())
		}
	}
	if len(name) > maxKeyName {
		// Too long for a file name (and, escaped, for S3's 1,024-byte keys):
		// keep a readable start and make it unique with the code's id. "~" never
		// appears in an escaped name, so this cannot collide with a short one.
		cut := maxKeyName - 33
		if i := strings.LastIndexByte(name[cut-2:cut], '%'); i >= 0 {
			cut -= 2 - i // do not split an escape
		}
		name = name[:cut] + "~" + s.ID()
	}
	if s.Width != 0 {
		name += "_w" + strconv.Itoa(s.Width)
	}
	name += s.styleKeySuffix()
	ext := ".jpg"
	if s.ImageContentType() == ContentTypePNG {
		ext = ".png"
	}
	return escapeKeySegment(s.AppID) + "/" + string(s.Kind) + "/" + name + ext
}

// maxKeyName bounds the escaped file name of a key, well under the 255 bytes
// most file systems allow.
const maxKeyName = 180

// escapeKeySegment percent-encodes every byte but lower-case letters, digits
// and `-`. The encoding is injective, keeps common scenes readable, and
// leaves nothing that a file system or an S3 client treats specially: no
// `/`, no `.` (so no `..`), and no upper case (so two keys never collide on a
// case-insensitive disk).
func escapeKeySegment(s string) string {
	if s == "" {
		return "%"
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
