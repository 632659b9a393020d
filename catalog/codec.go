package catalog

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wxqr/wxqr"
)

// A record is stored in Redis in a compact binary form rather than as JSON:
// at a million codes its size is most of what the catalog costs. The form
// stores nothing twice: not the id (the key holds it), not the image's key
// when it is the spec's (only the store's prefix), not the url when the
// ticket carries it (WeChat's tickets are base64 of a blob that holds the
// url: only its place in the ticket), the ticket and the sha256 as bytes and
// not as text. Every such saving is a flag: a value that does not fit the
// pattern is stored as it is, so any record round-trips exactly.
//
// The kind is a number, an app id shaped like WeChat's is 8 bytes, and an
// expiry that follows from the creation and expire_seconds (as a worker
// sets it) is not stored. The first byte is the form's version. A record written before this form
// is JSON, which starts with '{': it still decodes, and is rewritten in the
// compact form the next time the code is put.

// recordV1 is the first byte of a record in the compact form.
const recordV1 byte = 1

// The flags of a compact record: what is stored, and how.
const (
	flagRetired     = 1 << iota
	flagAutoColor   // Spec.AutoColor
	flagHyaline     // Spec.IsHyaline
	flagTicketBytes // the ticket is stored base64-decoded
	flagURLInTicket // the url is a slice of the decoded ticket: offset and length
	flagKeyIsSpecs  // the object key is a prefix followed by Spec.Key(): the prefix alone is stored
	flagTypeIsSpecs // the content type is Spec.ImageContentType(): not stored
	flagSHA256Bytes // the sha256 is stored as 32 bytes
	flagExpires     // ExpiresAt is set
	flagCreated     // CreatedAt is set
	flagExpiresDue  // ExpiresAt is CreatedAt + ExpireSeconds: not stored
	flagAppIDHex    // the app id is "wx" and 16 hex digits: stored as 8 bytes
)

// kinds are the kinds a compact record stores as their number here, + 1; 0
// is a kind stored as its name. Append only: the numbers are stored.
var kinds = []wxqr.Kind{wxqr.KindOATemp, wxqr.KindOAPerm, wxqr.KindWxaQRCode, wxqr.KindWxaCode, wxqr.KindWxaUnlimited}

// maxEarlierTickets bounds the earlier generations' tickets a record keeps:
// a temporary code is regenerated a day or more before it expires, so a
// handful of generations at most are still scannable at once.
const maxEarlierTickets = 4

// earlierTicket is a ticket of one of a code's earlier generations that can
// still be scanned: a short hash of it (a scan brings the whole ticket) and
// until when it finds the code (see ticketExpiry).
type earlierTicket struct {
	hash  [8]byte
	until int64 // Unix seconds
}

func hashTicket(ticket string) [8]byte {
	sum := sha256.Sum256([]byte(ticket))
	return [8]byte(sum[:8])
}

// stored is a code's value in the catalog: its record, and the tickets of
// its earlier generations that still find it (see ByScan).
type stored struct {
	rec     *wxqr.Record
	earlier []earlierTicket
	// legacy: written as JSON by an earlier catalog, which also indexed
	// the record's ticket under keys.legacyTicket.
	legacy bool
}

// legacyTicketKey returns the key under which an earlier catalog indexed
// the ticket of old, the record that next replaces, when next makes that
// key useless: old was written by that catalog, and next knows its ticket
// (ByScan then finds the code without the key). A permanent code's key
// never expires, so the write that replaces its record deletes it. It
// returns "" when there is no such key.
func (c *Catalog) legacyTicketKey(old, next stored) string {
	if !old.legacy || old.rec.Ticket == "" || !next.knows(old.rec.Ticket, next.rec.CreatedAt) {
		return ""
	}
	return c.keys.legacyTicket(old.rec.Ticket)
}

// knows reports whether ticket is the code's, in this generation or an
// earlier one still scannable at now.
func (s stored) knows(ticket string, now time.Time) bool {
	if s.rec.Ticket == ticket {
		return true
	}
	h := hashTicket(ticket)
	for _, e := range s.earlier {
		if e.hash == h && e.until > now.Unix() {
			return true
		}
	}
	return false
}

// succeed returns the earlier tickets that next, a new record of the code
// that old was, must keep: old's, unless expired at next's creation, if next
// has another ticket, and those old kept that have not expired.
func (s stored) succeed(next *wxqr.Record) []earlierTicket {
	now := next.CreatedAt.Unix()
	var kept []earlierTicket
	if s.rec.Ticket != "" && s.rec.Ticket != next.Ticket {
		if until := ticketExpiry(s.rec); !until.IsZero() && until.Unix() > now {
			kept = append(kept, earlierTicket{hashTicket(s.rec.Ticket), until.Unix()})
		}
	}
	for _, e := range s.earlier {
		if e.until > now && len(kept) < maxEarlierTickets {
			kept = append(kept, e)
		}
	}
	return kept
}

// encode returns s in the compact form.
func (s stored) encode() []byte {
	rec := s.rec
	var w recordWriter
	w.buf = append(w.buf, recordV1)

	var flags uint64
	set := func(flag uint64, on bool) {
		if on {
			flags |= flag
		}
	}
	set(flagRetired, rec.Retired)
	set(flagAutoColor, rec.AutoColor)
	set(flagHyaline, rec.IsHyaline)
	ticket, ticketIsBase64 := decodeTicket(rec.Ticket)
	set(flagTicketBytes, ticketIsBase64)
	urlAt := -1
	if ticketIsBase64 && rec.URL != "" {
		urlAt = bytes.Index(ticket, []byte(rec.URL))
	}
	set(flagURLInTicket, urlAt >= 0)
	keyPrefix, keyIsSpecs := strings.CutSuffix(rec.ObjectKey, rec.Spec.Key())
	set(flagKeyIsSpecs, keyIsSpecs)
	typeIsSpecs := rec.ContentType == rec.Spec.ImageContentType()
	set(flagTypeIsSpecs, typeIsSpecs)
	sha, shaErr := hex.DecodeString(rec.SHA256)
	shaIsBytes := shaErr == nil && len(sha) == sha256.Size && hex.EncodeToString(sha) == rec.SHA256
	set(flagSHA256Bytes, shaIsBytes)
	set(flagExpires, !rec.ExpiresAt.IsZero())
	set(flagCreated, !rec.CreatedAt.IsZero())
	expiresDue := !rec.ExpiresAt.IsZero() && !rec.CreatedAt.IsZero() &&
		rec.ExpiresAt.Equal(rec.CreatedAt.Add(time.Duration(rec.ExpireSeconds)*time.Second))
	set(flagExpiresDue, expiresDue)
	appID, appIDIsHex := decodeAppID(rec.AppID)
	set(flagAppIDHex, appIDIsHex)
	w.uvarint(flags)

	kind := slices.Index(kinds, rec.Kind) + 1
	w.uvarint(uint64(kind))
	if kind == 0 {
		w.string(string(rec.Kind))
	}
	if appIDIsHex {
		w.buf = append(w.buf, appID...)
	} else {
		w.string(rec.AppID)
	}
	w.varint(rec.SceneID)
	w.string(rec.SceneStr)
	w.string(rec.Path)
	w.varint(int64(rec.Width))
	w.string(rec.LineColor)
	w.string(string(rec.EnvVersion))
	w.varint(int64(rec.CheckPath))
	w.string(rec.Campaign)
	w.string(rec.Name)
	if ticketIsBase64 {
		w.string(string(ticket))
	} else {
		w.string(rec.Ticket)
	}
	if urlAt >= 0 {
		w.uvarint(uint64(urlAt))
		w.uvarint(uint64(len(rec.URL)))
	} else {
		w.string(rec.URL)
	}
	w.varint(int64(rec.ExpireSeconds))
	if !rec.ExpiresAt.IsZero() && !expiresDue {
		w.varint(rec.ExpiresAt.UnixNano())
	}
	if !rec.CreatedAt.IsZero() {
		w.varint(rec.CreatedAt.UnixNano())
	}
	w.varint(int64(rec.Generation))
	w.string(rec.Bucket)
	if keyIsSpecs {
		w.string(keyPrefix)
	} else {
		w.string(rec.ObjectKey)
	}
	if !typeIsSpecs {
		w.string(rec.ContentType)
	}
	w.varint(rec.Size)
	if shaIsBytes {
		w.buf = append(w.buf, sha...)
	} else {
		w.string(rec.SHA256)
	}
	w.uvarint(uint64(len(s.earlier)))
	for _, e := range s.earlier {
		w.buf = append(w.buf, e.hash[:]...)
		w.varint(e.until)
	}
	return w.buf
}

// appIDHex is the length of an app id that is "wx" and 16 hex digits, as
// WeChat's are.
const appIDHex = 2 + 16

// decodeAppID returns the 8 bytes an app id is "wx" and the hex of, and
// whether it is exactly that.
func decodeAppID(id string) ([]byte, bool) {
	hexPart, ok := strings.CutPrefix(id, "wx")
	if !ok || len(id) != appIDHex {
		return nil, false
	}
	raw, err := hex.DecodeString(hexPart)
	return raw, err == nil && hex.EncodeToString(raw) == hexPart
}

// decodeTicket returns the bytes a ticket is the standard base64 of, and
// whether it is exactly that (so that encoding them gives the ticket back).
func decodeTicket(ticket string) ([]byte, bool) {
	if ticket == "" {
		return nil, false
	}
	raw, err := base64.StdEncoding.DecodeString(ticket)
	if err != nil || base64.StdEncoding.EncodeToString(raw) != ticket {
		return nil, false
	}
	return raw, true
}

// decodeStored reads the value of the code id: the compact form, or the JSON
// of a catalog written before it.
func decodeStored(id string, data []byte) (stored, error) {
	if len(data) > 0 && data[0] == '{' {
		var rec wxqr.Record
		if err := json.Unmarshal(data, &rec); err != nil {
			return stored{}, fmt.Errorf("catalog: decode record %s: %w", id, err)
		}
		return stored{rec: &rec, legacy: true}, nil
	}
	s, err := decodeCompact(data)
	if err != nil {
		return stored{}, fmt.Errorf("catalog: decode record %s: %w", id, err)
	}
	s.rec.ID = id
	return s, nil
}

// decodeRecord reads the record of the code id (see decodeStored).
func decodeRecord(id string, data []byte) (*wxqr.Record, error) {
	s, err := decodeStored(id, data)
	return s.rec, err
}

func decodeCompact(data []byte) (stored, error) {
	if len(data) == 0 || data[0] != recordV1 {
		return stored{}, errors.New("unknown record form")
	}
	r := recordReader{buf: data[1:]}
	flags := r.uvarint()
	has := func(flag uint64) bool { return flags&flag != 0 }

	rec := &wxqr.Record{}
	rec.Retired = has(flagRetired)
	rec.AutoColor = has(flagAutoColor)
	rec.IsHyaline = has(flagHyaline)
	switch kind := r.uvarint(); {
	case kind == 0:
		rec.Kind = wxqr.Kind(r.string())
	case kind <= uint64(len(kinds)):
		rec.Kind = kinds[kind-1]
	default:
		return stored{}, fmt.Errorf("unknown kind %d", kind)
	}
	if has(flagAppIDHex) {
		rec.AppID = "wx" + hex.EncodeToString(r.bytes((appIDHex-2)/2))
	} else {
		rec.AppID = r.string()
	}
	rec.SceneID = r.varint()
	rec.SceneStr = r.string()
	rec.Path = r.string()
	rec.Width = int(r.varint())
	rec.LineColor = r.string()
	rec.EnvVersion = wxqr.EnvVersion(r.string())
	rec.CheckPath = wxqr.OptionalBool(r.varint())
	rec.Campaign = r.string()
	rec.Name = r.string()
	ticket := r.string()
	if has(flagTicketBytes) {
		rec.Ticket = base64.StdEncoding.EncodeToString([]byte(ticket))
	} else {
		rec.Ticket = ticket
	}
	if has(flagURLInTicket) {
		at, n := r.uvarint(), r.uvarint()
		if at > uint64(len(ticket)) || n > uint64(len(ticket))-at {
			return stored{}, errors.New("url outside its ticket")
		}
		rec.URL = ticket[at : at+n]
	} else {
		rec.URL = r.string()
	}
	rec.ExpireSeconds = int(r.varint())
	var expiresAt int64
	if has(flagExpires) && !has(flagExpiresDue) {
		expiresAt = r.varint()
	}
	if has(flagCreated) {
		rec.CreatedAt = time.Unix(0, r.varint()).UTC()
	}
	switch {
	case has(flagExpiresDue):
		rec.ExpiresAt = rec.CreatedAt.Add(time.Duration(rec.ExpireSeconds) * time.Second)
	case has(flagExpires):
		rec.ExpiresAt = time.Unix(0, expiresAt).UTC()
	}
	rec.Generation = int(r.varint())
	rec.Bucket = r.string()
	rec.ObjectKey = r.string()
	if has(flagKeyIsSpecs) {
		rec.ObjectKey += rec.Spec.Key()
	}
	if has(flagTypeIsSpecs) {
		rec.ContentType = rec.Spec.ImageContentType()
	} else {
		rec.ContentType = r.string()
	}
	rec.Size = r.varint()
	if has(flagSHA256Bytes) {
		rec.SHA256 = hex.EncodeToString(r.bytes(sha256.Size))
	} else {
		rec.SHA256 = r.string()
	}
	s := stored{rec: rec}
	n := r.uvarint()
	if n > maxEarlierTickets {
		return stored{}, fmt.Errorf("%d earlier tickets", n)
	}
	for range n {
		var e earlierTicket
		copy(e.hash[:], r.bytes(len(e.hash)))
		e.until = r.varint()
		s.earlier = append(s.earlier, e)
	}
	if r.err == nil && len(r.buf) > 0 {
		r.err = fmt.Errorf("%d bytes after the record", len(r.buf))
	}
	if r.err != nil {
		return stored{}, r.err
	}
	return s, nil
}

// recordWriter appends the compact form's values: varints, and strings
// prefixed by their length.
type recordWriter struct{ buf []byte }

func (w *recordWriter) uvarint(v uint64) { w.buf = binary.AppendUvarint(w.buf, v) }
func (w *recordWriter) varint(v int64)   { w.buf = binary.AppendVarint(w.buf, v) }
func (w *recordWriter) string(s string) {
	w.uvarint(uint64(len(s)))
	w.buf = append(w.buf, s...)
}

// recordReader reads what recordWriter wrote. After the first error every
// read returns the zero value and err keeps that error.
type recordReader struct {
	buf []byte
	err error
}

var errTruncated = errors.New("record truncated")

func (r *recordReader) uvarint() uint64 { return readVarint(r, binary.Uvarint) }
func (r *recordReader) varint() int64   { return readVarint(r, binary.Varint) }

// readVarint reads one value with decode, binary.Uvarint or binary.Varint.
func readVarint[T uint64 | int64](r *recordReader, decode func([]byte) (T, int)) T {
	v, n := decode(r.buf)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.buf = r.buf[n:]
	return v
}

func (r *recordReader) bytes(n int) []byte {
	if r.err != nil || n > len(r.buf) {
		r.fail()
		return nil
	}
	b := r.buf[:n]
	r.buf = r.buf[n:]
	return b
}

func (r *recordReader) string() string {
	n := r.uvarint()
	if n > uint64(len(r.buf)) {
		r.fail()
		return ""
	}
	return string(r.bytes(int(n)))
}

func (r *recordReader) fail() {
	if r.err == nil {
		r.err = errTruncated
	}
	r.buf = nil
}
