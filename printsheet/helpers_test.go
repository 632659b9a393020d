package printsheet_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/internal/qrdecode"
	"github.com/wxqr/wxqr/internal/testenv"
	"github.com/wxqr/wxqr/printsheet"
	"github.com/wxqr/wxqr/storage"
)

// fixture is a catalog on a real Redis database of its own and a directory
// store, with helpers to add codes as the workers record them.
type fixture struct {
	catalog *catalog.Catalog
	store   *storage.DirStore
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	store, err := storage.NewDir(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{catalog: catalog.New(testenv.Redis(t), ""), store: store}
}

// code is a code to add: an Official Account code when url is set, else a
// Mini Program code whose image is image (nil: none stored).
type code struct {
	name, scene, path string
	url               string
	image             []byte
	expiresAt         time.Time
}

// add records c in campaign and stores its image; it returns the record.
func (f *fixture) add(t *testing.T, campaign string, c code) *wxqr.Record {
	t.Helper()
	spec := wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: "wxoa", SceneStr: c.scene}
	if !c.expiresAt.IsZero() {
		spec.Kind = wxqr.KindOATemp
	}
	if c.url == "" {
		spec = wxqr.Spec{Kind: wxqr.KindWxaCode, AppID: "wxmp", Path: c.path}
	}
	spec = spec.Normalize()
	rec := &wxqr.Record{
		ID: spec.ID(), Spec: spec, Campaign: campaign, Name: c.name, URL: c.url,
		ExpiresAt: c.expiresAt, CreatedAt: time.Now().UTC().Truncate(time.Second), Generation: 1,
	}
	body := c.image
	if c.url != "" {
		body = qrPNG(t, c.url, color.White) // what showqrcode returned; the sheets draw from the url
	}
	if body != nil {
		info, err := wxqr.CheckImage(body, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.store.Put(t.Context(), spec.Key(), body, info.ContentType, nil); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(body)
		rec.ContentType, rec.Size, rec.SHA256 = info.ContentType, int64(len(body)), hex.EncodeToString(sum[:])
		rec.Bucket, rec.ObjectKey = f.store.Location(spec.Key())
	}
	if err := f.catalog.Put(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	return rec
}

// load loads campaign for printing.
func (f *fixture) load(t *testing.T, campaign string) *printsheet.Codes {
	t.Helper()
	codes, err := printsheet.Load(t.Context(), f.catalog, f.store, campaign)
	if err != nil {
		t.Fatal(err)
	}
	return codes
}

// qrPNG is content as a QR code PNG of 430 pixels, on background (a
// transparent one makes the PNG of an is_hyaline Mini Program code).
func qrPNG(t *testing.T, content string, background color.Color) []byte {
	t.Helper()
	q, err := qrcode.New(content, qrcode.Medium)
	if err != nil {
		t.Fatal(err)
	}
	q.BackgroundColor = background
	body, err := q.PNG(430)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// qrJPEG is content as a QR code JPEG of 430 pixels, as the simulator
// makes Mini Program codes.
func qrJPEG(t *testing.T, content string) []byte {
	t.Helper()
	q, err := qrcode.New(content, qrcode.Medium)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, q.Image(430), &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// content is what a code's printed form must decode to: its url, or what
// its stored image decodes to.
func content(t *testing.T, rec *wxqr.Record, stored []byte) string {
	t.Helper()
	if rec.URL != "" {
		return rec.URL
	}
	text, err := qrdecode.Decode(stored)
	if err != nil {
		t.Fatalf("stored image of %s: %v", rec.ID, err)
	}
	return text
}

// decodeImage decodes the QR code in m, on white: transparent pixels are
// paper.
func decodeImage(t *testing.T, m image.Image) (string, error) {
	t.Helper()
	white := image.NewRGBA(m.Bounds())
	draw.Draw(white, white.Bounds(), image.White, image.Point{}, draw.Src)
	draw.Draw(white, white.Bounds(), m, m.Bounds().Min, draw.Over)
	var buf bytes.Buffer
	if err := png.Encode(&buf, white); err != nil {
		t.Fatal(err)
	}
	return qrdecode.Decode(buf.Bytes())
}

// command runs a tool the test needs (skipped when it is not installed,
// failed under CI) and returns its stdout.
func command(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), testenv.Tool(t, name), args...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr)
	}
	return out
}

// renderPages renders every page of the PDF at dpi with pdftoppm.
func renderPages(t *testing.T, pdf []byte, dpi int) []image.Image {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "sheet.pdf")
	if err := os.WriteFile(path, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	command(t, "pdftoppm", "-r", strconv.Itoa(dpi), "-png", path, filepath.Join(dir, "page"))
	files, err := filepath.Glob(filepath.Join(dir, "page-*.png"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files) // pdftoppm pads the page numbers
	pages := make([]image.Image, len(files))
	for i, file := range files {
		pages[i] = readPNG(t, file)
	}
	return pages
}

func readPNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

// crop cuts the square of side mm at (x, y) mm, with a little paper
// around it, out of a page rendered at dpi.
func crop(page image.Image, dpi int, x, y, side float64) image.Image {
	const pad = 0.8 // mm: less than the space between a code and its label's text
	px := func(mm float64) int { return int(mm * float64(dpi) / 25.4) }
	r := image.Rect(px(x-pad), px(y-pad), px(x+side+pad), px(y+side+pad))
	return page.(interface {
		SubImage(image.Rectangle) image.Image
	}).SubImage(r)
}
