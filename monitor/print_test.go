package monitor

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/internal/qrdecode"
	"github.com/wxqr/wxqr/internal/testenv"
)

// addPrintable adds n Official Account codes to campaign, each with the
// url its stored image encodes, and named; the first one is temporary.
func (f *fixture) addPrintable(t *testing.T, campaign string, n int) []*wxqr.Record {
	t.Helper()
	recs := f.addCodes(t, campaign, n, wxqr.KindOAPerm, 0)
	for i, rec := range recs {
		rec.URL = "https://example.com/" + rec.SceneStr // what addCodes' image encodes
		rec.Name = "Shelf " + rec.SceneStr
		if i == 0 {
			rec.ExpiresAt = time.Date(2031, 1, 2, 3, 4, 0, 0, time.UTC)
		}
		if err := f.catalog.Put(t.Context(), rec); err != nil {
			t.Fatal(err)
		}
	}
	return recs
}

// poppler writes pdf to a file and runs a poppler tool on it: args, the
// file's path, then more.
func poppler(t *testing.T, pdf []byte, tool string, args []string, more ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sheet.pdf")
	if err := os.WriteFile(path, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	args = append(append(args, path), more...)
	out, err := exec.CommandContext(t.Context(), testenv.Tool(t, tool), args...).Output()
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	return string(out)
}

func TestPrintPDF(t *testing.T) {
	f := newFixture(t, nil)
	f.addPrintable(t, "shelves", 5)

	t.Run("sheets as asked", func(t *testing.T) {
		resp, body := f.get(t, "/campaigns/shelves/print.pdf?paper=letter&grid=2x2&size=6cm")
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/pdf" ||
			resp.Header.Get("Content-Disposition") != `attachment; filename=shelves.pdf` {
			t.Fatalf("status %d, %q, %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"))
		}
		info := poppler(t, body, "pdfinfo", nil)
		if !regexp.MustCompile(`(?m)^Pages:\s+2$`).MatchString(info) || !strings.Contains(info, "(letter)") {
			t.Errorf("pdfinfo:\n%s\nwant 2 Letter pages", info)
		}
		text := poppler(t, body, "pdftotext", []string{"-layout"}, "-")
		for _, want := range []string{"shelves", "page 2 of 2", "Shelf shelves-4", "1 code is temporary"} {
			if !strings.Contains(text, want) {
				t.Errorf("the PDF does not say %q:\n%s", want, text)
			}
		}
	})
	t.Run("defaults", func(t *testing.T) {
		resp, body := f.get(t, "/campaigns/shelves/print.pdf")
		if resp.StatusCode != http.StatusOK || !strings.Contains(poppler(t, body, "pdfinfo", nil), "(A4)") {
			t.Errorf("status %d; want an A4 PDF", resp.StatusCode)
		}
	})
	for _, tt := range []struct{ query, want string }{
		{"paper=a3", `paper "a3"`},
		{"grid=9x9", "grid 9x9 of 50mm codes needs"},
		{"size=2mm", "at least 10mm"},
		{"margin=wide", `margin: length "wide"`},
	} {
		t.Run(tt.query, func(t *testing.T) {
			resp, body := f.get(t, "/campaigns/shelves/print.pdf?"+tt.query)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), tt.want) {
				t.Errorf("status %d %q, want 400 saying %q", resp.StatusCode, body, tt.want)
			}
		})
	}
	t.Run("unknown campaign", func(t *testing.T) {
		if resp, _ := f.get(t, "/campaigns/nothing-here/print.pdf"); resp.StatusCode != http.StatusNotFound {
			t.Errorf("status %d, want 404", resp.StatusCode)
		}
	})
	t.Run("campaign without codes yet", func(t *testing.T) {
		if err := f.catalog.Plan(t.Context(), "planned", "0123456789abcdef0123456789abcdef"); err != nil {
			t.Fatal(err)
		}
		resp, body := f.get(t, "/campaigns/planned/print.pdf")
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "no codes to print") ||
			resp.Header.Get("Content-Disposition") != "" {
			t.Errorf("status %d %q (%q), want a 404 that is no download", resp.StatusCode, body, resp.Header.Get("Content-Disposition"))
		}
	})
}

func TestCodesZip(t *testing.T) {
	f := newFixture(t, nil)
	recs := f.addPrintable(t, "shelves", 3)

	t.Run("png", func(t *testing.T) {
		files := fetchZip(t, f.url+"/campaigns/shelves/codes.zip?format=png")
		var names []string
		for name := range files {
			names = append(names, name)
		}
		slices.Sort(names)
		want := []string{"Shelf shelves-0.png", "Shelf shelves-1.png", "Shelf shelves-2.png", "WARNING.txt"}
		if !slices.Equal(names, want) {
			t.Fatalf("zip holds %q, want %q", names, want)
		}
		for _, rec := range recs {
			got, err := qrdecode.Decode(files[rec.Name+".png"])
			if err != nil || got != rec.URL {
				t.Errorf("%s decodes to %q (%v), want %q", rec.Name, got, err, rec.URL)
			}
		}
	})
	t.Run("svg by default", func(t *testing.T) {
		files := fetchZip(t, f.url+"/campaigns/shelves/codes.zip?size=3cm")
		if svg := files["Shelf shelves-1.svg"]; !bytes.Contains(svg, []byte(`width="30mm"`)) || !bytes.Contains(svg, []byte("<path")) {
			t.Errorf("Shelf shelves-1.svg is not a 30mm vector SVG:\n%.300s", svg)
		}
	})
	t.Run("download name", func(t *testing.T) {
		resp, _ := do(t, http.MethodHead, f.url+"/campaigns/shelves/codes.zip?format=png", nil)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Disposition") != `attachment; filename=shelves-png.zip` {
			t.Errorf("HEAD: %d %q", resp.StatusCode, resp.Header.Get("Content-Disposition"))
		}
	})
	for _, query := range []string{"format=gif", "size=big", "size=1mm"} {
		t.Run(query, func(t *testing.T) {
			if resp, _ := f.get(t, "/campaigns/shelves/codes.zip?"+query); resp.StatusCode != http.StatusBadRequest {
				t.Errorf("status %d, want 400", resp.StatusCode)
			}
		})
	}
}

func TestCampaignPageLinksPrintDownloads(t *testing.T) {
	f := newFixture(t, nil)
	f.addPrintable(t, "shelves", 1)
	_, body := f.get(t, "/campaigns/shelves")
	for _, href := range []string{"/campaigns/shelves/print.pdf?paper=a4", "/campaigns/shelves/print.pdf?paper=letter",
		"/campaigns/shelves/codes.zip?format=svg", "/campaigns/shelves/codes.zip?format=png"} {
		if !strings.Contains(string(body), `href="`+htmlEscape(href)+`"`) {
			t.Errorf("the campaign page has no link to %s", href)
		}
		if resp, _ := f.get(t, href); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d", href, resp.StatusCode)
		}
	}
}

func TestPrintPDFBounded(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxSheetCodes = 2 })
	f.addPrintable(t, "shelves", 3)
	resp, body := f.get(t, "/campaigns/shelves/print.pdf")
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(body), "the campaign has 3 codes, more than the 2") ||
		resp.Header.Get("Content-Disposition") != "" {
		t.Errorf("status %d %q, want 422 naming the bound", resp.StatusCode, body)
	}
	if resp, _ := f.get(t, "/campaigns/shelves/codes.zip"); resp.StatusCode != http.StatusOK {
		t.Errorf("codes.zip: status %d; the bound is the PDF's alone", resp.StatusCode)
	}
}
