package printsheet_test

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"image"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/internal/qrdecode"
	"github.com/wxqr/wxqr/printsheet"
)

// unzip returns the files of a zip by name, in their order.
func unzip(t *testing.T, body []byte) (names []string, files map[string][]byte) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatal(err)
	}
	files = map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, f.Name)
		files[f.Name] = b
	}
	return names, files
}

// The files the campaign's codes get, in print order: by name, or by what
// they open; Mini Program codes keep their stored format as PNG files.
var wantNames = []string{"Counter", longName, "entrance-7", "Lobby", "pages_shop_index_id=3",
	"Store 1", "Store 2", "Store 12", "Window", "门店12 - 入口"}

func TestWriteZip(t *testing.T) {
	f := newFixture(t)
	byLabel := addCampaign(t, f)
	codes := f.load(t, campaign)
	// The file a code is in, by its name in the zip without extension.
	recordOf := func(name string) *wxqr.Record {
		if name == "pages_shop_index_id=3" {
			return byLabel["pages/shop/index?id=3"]
		}
		return byLabel[name]
	}
	stored := func(t *testing.T, rec *wxqr.Record) []byte {
		t.Helper()
		obj, err := f.store.Get(t.Context(), rec.Spec.Key())
		if err != nil {
			t.Fatal(err)
		}
		return obj.Body
	}

	for _, format := range []printsheet.Format{printsheet.SVG, printsheet.PNG} {
		t.Run(string(format), func(t *testing.T) {
			var buf bytes.Buffer
			printed, err := codes.WriteZip(t.Context(), &buf, format, 30)
			if err != nil {
				t.Fatal(err)
			}
			if printed.Codes != 10 || len(printed.Missing) != 1 {
				t.Errorf("printed %+v, want 10 codes and 1 missing", printed)
			}
			names, files := unzip(t, buf.Bytes())
			checkNotes(t, files, byLabel["Ghost"].Spec.Key())
			var got []string
			for _, name := range names {
				if strings.HasSuffix(name, ".txt") {
					continue
				}
				base := strings.TrimSuffix(name, filepath.Ext(name))
				got = append(got, base)
				rec := recordOf(base)
				if rec == nil {
					t.Errorf("file %q is no code's", name)
					continue
				}
				checkFile(t, name, files[name], rec, stored(t, rec), format)
			}
			if strings.Join(got, "|") != strings.Join(wantNames, "|") {
				t.Errorf("files\n got %q\nwant %q", got, wantNames)
			}
		})
	}
	t.Run("bad format", func(t *testing.T) {
		if _, err := codes.WriteZip(t.Context(), io.Discard, "gif", 0); err == nil {
			t.Error("WriteZip(gif) succeeded")
		}
	})
}

// checkNotes checks the notes at the end of a zip: the expiry warning and
// the missing image.
func checkNotes(t *testing.T, files map[string][]byte, missingKey string) {
	t.Helper()
	if w := string(files["WARNING.txt"]); !strings.Contains(w, "2 codes are temporary") || !strings.Contains(w, "2031-05-01 08:30 UTC") {
		t.Errorf("WARNING.txt = %q, want the expiry warning", w)
	}
	if m := string(files["MISSING.txt"]); !strings.Contains(m, missingKey) {
		t.Errorf("MISSING.txt = %q, want %s", m, missingKey)
	}
}

// checkFile checks that one file of the zip holds its code: an Official
// Account code decodes to its url; a Mini Program code is its stored image
// (embedded in an SVG, which must still decode once rendered).
func checkFile(t *testing.T, name string, body []byte, rec *wxqr.Record, stored []byte, format printsheet.Format) {
	t.Helper()
	want := content(t, rec, stored)
	wantExt := "." + string(format)
	if format == printsheet.PNG && rec.URL == "" && rec.ContentType == wxqr.ContentTypeJPEG {
		wantExt = ".jpg"
	}
	if filepath.Ext(name) != wantExt {
		t.Errorf("%s: want extension %s", name, wantExt)
	}
	switch {
	case format == printsheet.SVG:
		checkSVG(t, name, body, rec, stored, want)
	case rec.URL == "":
		if !bytes.Equal(body, stored) {
			t.Errorf("%s is not the stored image", name)
		}
	default:
		info, err := wxqr.CheckImage(body, 0)
		if err != nil || info.ContentType != wxqr.ContentTypePNG || info.Width < printsheet.MinPNGWidth {
			t.Errorf("%s: %+v, %v; want a PNG at least %d pixels wide", name, info, err, printsheet.MinPNGWidth)
		}
		if got, err := qrdecode.Decode(body); err != nil || got != want {
			t.Errorf("%s decodes to %q (%v), want %q", name, got, err, want)
		}
	}
}

var embedded = regexp.MustCompile(`xlink:href="data:(image/(?:jpeg|png));base64,([^"]+)"`)

// checkSVG renders an SVG with librsvg and decodes it; one that embeds an
// image must embed the stored one.
func checkSVG(t *testing.T, name string, body []byte, rec *wxqr.Record, stored []byte, want string) {
	t.Helper()
	if !bytes.Contains(body, []byte(`width="30mm"`)) {
		t.Errorf("%s is not 30mm wide:\n%.300s", name, body)
	}
	if rec.URL == "" {
		m := embedded.FindSubmatch(body)
		if m == nil || string(m[1]) != rec.ContentType {
			t.Fatalf("%s embeds no %s image:\n%.300s", name, rec.ContentType, body)
		}
		if img, err := base64.StdEncoding.DecodeString(string(m[2])); err != nil || !bytes.Equal(img, stored) {
			t.Errorf("%s does not embed the stored image (%v)", name, err)
		}
	} else if bytes.Contains(body, []byte("<image")) {
		t.Errorf("%s embeds an image; an Official Account code must be vectors", name)
	}
	path := filepath.Join(t.TempDir(), "code.svg")
	if err := os.WriteFile(path, body, 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "code.png")
	command(t, "rsvg-convert", "--width", "600", "--keep-aspect-ratio", "--output", out, path)
	got, err := decodeImage(t, readPNG(t, out).(image.Image))
	if err != nil || got != want {
		t.Errorf("%s, rendered, decodes to %q (%v), want %q", name, got, err, want)
	}
}
