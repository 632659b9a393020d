package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/internal/qrdecode"
	"github.com/wxqr/wxqr/wechat/wechatsim"
)

// maxListed bounds the problems a report lists one by one; the totals
// follow.
const maxListed = 20

// problems collects what is wrong, per code, and reports it readably.
type problems struct {
	mu    sync.Mutex
	lines []string
	codes map[string]bool
}

func (p *problems) add(id, format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.codes == nil {
		p.codes = map[string]bool{}
	}
	p.codes[id] = true
	p.lines = append(p.lines, id+": "+fmt.Sprintf(format, args...))
}

// addRecord is add for a problem with a record's code, naming its kind and
// key.
func (p *problems) addRecord(rec wxqr.Record, format string, args ...any) {
	p.add(rec.ID, "(%s %s) %s", rec.Kind, rec.Spec.Key(), fmt.Sprintf(format, args...))
}

func (p *problems) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.lines)
}

// report fails t with the first problems and their totals, under title.
func (p *problems) report(t *testing.T, title string) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.lines) == 0 {
		return
	}
	slices.Sort(p.lines)
	shown := p.lines[:min(len(p.lines), maxListed)]
	more := ""
	if n := len(p.lines) - len(shown); n > 0 {
		more = fmt.Sprintf("\n  ... and %d more", n)
	}
	t.Errorf("%s: %d problems with %d codes:\n  %s%s", title, len(p.lines), len(p.codes), strings.Join(shown, "\n  "), more)
}

// wantContent is what the QR code of rec must encode: WeChat's url for an
// Official Account code, the simulator's content for a Mini Program one.
func wantContent(rec wxqr.Record) string {
	switch rec.Kind {
	case wxqr.KindOATemp, wxqr.KindOAPerm:
		return rec.URL
	case wxqr.KindWxaUnlimited:
		return wechatsim.WxaContent(rec.AppID, rec.Kind.API(), rec.Path, rec.SceneStr)
	default:
		return wechatsim.WxaContent(rec.AppID, rec.Kind.API(), rec.Path, "")
	}
}

// checkStored checks everything the run stored and fails the test on any
// problem: the catalog and the export list the same codes with the same
// object, size and sha256; every recorded object is in the bucket with that
// size and sha256, is a complete image of the code's width, and its QR code
// encodes the record's url (Official Account) or the simulator's content
// (Mini Program); every image in the bucket has a record. It returns the
// records by code id.
func (h *harness) checkStored() map[string]wxqr.Record {
	h.t.Helper()
	var bad problems
	recs := h.verifyStored(&bad)
	bad.report(h.t, "stored codes")
	return recs
}

// verifyStored is checkStored, adding what is wrong to bad.
func (h *harness) verifyStored(bad *problems) map[string]wxqr.Record {
	h.t.Helper()
	t := h.t
	recs := map[string]wxqr.Record{}
	err := h.cat.Each(t.Context(), "", func(rec *wxqr.Record) error {
		recs[rec.ID] = *rec
		return nil
	})
	if err != nil {
		t.Fatalf("read the catalog: %v", err)
	}
	exported := byID(h.export())
	for id, exp := range exported {
		rec, ok := recs[id]
		switch {
		case !ok:
			bad.add(id, "exported (%s) but not in the catalog", exp.ObjectKey)
		case exp.Bucket != rec.Bucket || exp.ObjectKey != rec.ObjectKey || exp.Size != rec.Size || exp.SHA256 != rec.SHA256 ||
			exp.URL != rec.URL || exp.Generation != rec.Generation:
			bad.add(id, "export says %s/%s, %d bytes, sha256 %s, url %q, generation %d; the catalog %s/%s, %d bytes, sha256 %s, url %q, generation %d",
				exp.Bucket, exp.ObjectKey, exp.Size, exp.SHA256, exp.URL, exp.Generation,
				rec.Bucket, rec.ObjectKey, rec.Size, rec.SHA256, rec.URL, rec.Generation)
		}
	}
	for id := range recs {
		if _, ok := exported[id]; !ok {
			bad.add(id, "in the catalog but not in the export")
		}
	}

	// Decoding is the slow part: spread it over the machine's cores.
	work := make(chan wxqr.Record)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for rec := range work {
				h.verifyObject(rec, bad)
			}
		})
	}
	for _, rec := range recs {
		work <- rec
	}
	close(work)
	wg.Wait()

	keys := map[string]bool{}
	for _, rec := range recs {
		keys[rec.Spec.Key()] = true
	}
	err = h.store.Walk(t.Context(), "", func(key string) error {
		image, isSidecar := strings.CutSuffix(key, catalog.SidecarKey(""))
		if isSidecar {
			key = image
		}
		if !keys[key] {
			what := map[bool]string{false: "image", true: "sidecar"}[isSidecar]
			bad.add(key, "%s in the bucket without a record", what)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk the bucket: %v", err)
	}
	return recs
}

// verifyObject checks the stored object of one record.
func (h *harness) verifyObject(rec wxqr.Record, bad *problems) {
	key := rec.Spec.Key()
	if rec.ID != rec.Spec.ID() {
		bad.addRecord(rec, "the id does not match the spec %+v", rec.Spec)
	}
	if !strings.HasSuffix(rec.ObjectKey, key) || rec.Bucket == "" {
		bad.addRecord(rec, "recorded at %s/%s, want the key %s", rec.Bucket, rec.ObjectKey, key)
	}
	obj, err := h.store.Get(h.t.Context(), key)
	if err != nil {
		bad.addRecord(rec, "recorded, but the object: %v", err)
		return
	}
	// The bucket alone must rebuild the catalog: the image carries its
	// record (or, too large for its metadata, its sidecar does).
	if stored, err := catalog.ReadRecord(h.t.Context(), h.store, key); err != nil {
		bad.addRecord(rec, "no record stored with the image: %v", err)
	} else if stored.ID != rec.ID || stored.Generation != rec.Generation {
		bad.addRecord(rec, "the image's record is of %s generation %d", stored.ID, stored.Generation)
	}
	sum := sha256.Sum256(obj.Body)
	if got := hex.EncodeToString(sum[:]); got != rec.SHA256 || int64(len(obj.Body)) != rec.Size {
		bad.addRecord(rec, "stored %d bytes with sha256 %s, recorded %d bytes with sha256 %s", len(obj.Body), got, rec.Size, rec.SHA256)
	}
	if _, err := wxqr.CheckImage(obj.Body, rec.Spec.ImageWidth()); err != nil {
		bad.addRecord(rec, "stored object: %v", err)
		return
	}
	content, err := qrdecode.Decode(obj.Body)
	if err != nil {
		bad.addRecord(rec, "stored image does not decode: %v", err)
		return
	}
	if want := wantContent(rec); want == "" || content != want {
		bad.addRecord(rec, "image encodes %q, want %q", content, want)
	}
}
