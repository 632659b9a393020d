// Package printsheet turns a campaign's codes into files for a printer: PDF
// label sheets (a grid of codes, each with its label, on A4 or Letter
// pages) and one SVG or high-resolution PNG per code, zipped.
//
// Official Account codes are drawn from their url, the code's content as
// WeChat documents it, so they are vectors that stay sharp at any size: the
// url is encoded as a QR code at level M, as WeChat's own images are, and
// every dark module is a filled square, with a quiet zone of four modules.
// Mini Program codes (round wxacodes, or QR images) cannot be redrawn: their
// stored image is placed as it is, at the code size.
//
// A temporary code stops working at its expiry, and a printed one cannot be
// regenerated onto paper: every output says so ([Codes.Warning]).
//
// # Limits
//
// A PDF is built in memory before it is written (the PDF library works that
// way): some 5 to 15 KB per Official Account code, and the size of the
// image for each Mini Program code. Zips are streamed, one image in memory at a
// time.
//
// The PDF's text is drawn with Helvetica unless a TrueType font is given
// ([LoadFont]); Helvetica prints Western European text only (Windows-1252):
// accented letters outside it lose their accent and any other character,
// Chinese included, prints as "?".
package printsheet

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/storage"
)

// Catalog lists a campaign's records (a *catalog.Catalog).
type Catalog interface {
	Each(ctx context.Context, campaign string, fn func(*wxqr.Record) error) error
}

// Images reads stored images (a storage.Store).
type Images interface {
	Get(ctx context.Context, key string) (*storage.Object, error)
}

// Codes are the codes of one campaign, in print order, and where their
// images are.
type Codes struct {
	Campaign string
	Records  []*wxqr.Record // by Label, regardless of case, numbers in numeric order
	images   Images
}

// Load reads the records of campaign from cat; their images are read from
// images when they are printed. It fails with ErrNoCodes (wrapped) when the
// campaign has no code. Records are small: a campaign of 100,000 codes
// takes some tens of megabytes.
func Load(ctx context.Context, cat Catalog, images Images, campaign string) (*Codes, error) {
	c := &Codes{Campaign: campaign, images: images}
	err := cat.Each(ctx, campaign, func(rec *wxqr.Record) error {
		c.Records = append(c.Records, rec)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("printsheet: list campaign %q: %w", campaign, err)
	}
	if len(c.Records) == 0 {
		return nil, fmt.Errorf("printsheet: campaign %q: %w", campaign, ErrNoCodes)
	}
	slices.SortFunc(c.Records, func(a, b *wxqr.Record) int {
		la, lb := a.Label(), b.Label()
		return cmp.Or(naturalCompare(strings.ToLower(la), strings.ToLower(lb)), strings.Compare(la, lb), strings.Compare(a.ID, b.ID))
	})
	return c, nil
}

// Warning is what to tell whoever prints the codes: that the temporary ones
// among them stop working at their expiry, with the earliest one. It is ""
// when no code expires.
func (c *Codes) Warning() string {
	var n int
	var first time.Time
	for _, rec := range c.Records {
		if rec.ExpiresAt.IsZero() {
			continue
		}
		n++
		if first.IsZero() || rec.ExpiresAt.Before(first) {
			first = rec.ExpiresAt
		}
	}
	if n == 0 {
		return ""
	}
	when := first.UTC().Format("2006-01-02 15:04 UTC")
	if n == 1 {
		return "1 code is temporary: it stops working at its expiry (on " + when + "), and a printed code cannot be regenerated"
	}
	return fmt.Sprintf("%d codes are temporary: they stop working at their expiry (the first on %s), and a printed code cannot be regenerated", n, when)
}

// drawnFromURL reports whether the code is drawn from its url rather than
// its stored image: Official Account codes, which all have one.
func drawnFromURL(rec *wxqr.Record) bool {
	return rec.Kind.AppType() == wxqr.AppOA && rec.URL != ""
}

// errImageMissing marks a code whose image is not in storage, or not a
// whole image: it is left out of what is printed, and listed.
var errImageMissing = errors.New("image missing")

// image reads the stored image of rec and checks that it is whole.
func (c *Codes) image(ctx context.Context, rec *wxqr.Record) (body []byte, contentType string, err error) {
	obj, err := c.images.Get(ctx, rec.Spec.Key())
	if errors.Is(err, storage.ErrNotFound) {
		return nil, "", fmt.Errorf("%s: %w from storage", rec.Spec.Key(), errImageMissing)
	}
	if err != nil {
		return nil, "", fmt.Errorf("printsheet: read image of %s: %w", rec.ID, err)
	}
	info, err := wxqr.CheckImage(obj.Body, 0)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w (%v)", rec.Spec.Key(), errImageMissing, err)
	}
	return obj.Body, info.ContentType, nil
}

// Printed is what was printed.
type Printed struct {
	Codes int // codes drawn or placed
	Pages int // PDF pages; 0 for a zip
	// Missing lists the codes left out because their image is missing
	// from storage or broken, each as "storage key: problem".
	Missing []string
}

// naturalCompare orders strings as people number things: runs of digits
// by their value, so "Store 2" comes before "Store 12".
func naturalCompare(a, b string) int {
	for a != "" && b != "" {
		da, db := digitPrefix(a), digitPrefix(b)
		if da != "" && db != "" {
			na, nb := strings.TrimLeft(da, "0"), strings.TrimLeft(db, "0")
			if c := cmp.Or(cmp.Compare(len(na), len(nb)), strings.Compare(na, nb)); c != 0 {
				return c
			}
			a, b = a[len(da):], b[len(db):]
			continue
		}
		if a[0] != b[0] {
			return cmp.Compare(a[0], b[0])
		}
		a, b = a[1:], b[1:]
	}
	return cmp.Compare(len(a), len(b))
}

func digitPrefix(s string) string {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i]
}
