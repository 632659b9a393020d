package printsheet_test

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/internal/testenv"
	"github.com/wxqr/wxqr/printsheet"
)

// The campaign of the PDF tests: Official Account codes (permanent and
// temporary, named and not, one name in Chinese, one too long for its
// label) and Mini Program codes (a JPEG, a transparent PNG, one whose image
// is missing from storage).
const campaign = "spring sale"

var (
	firstExpiry = time.Date(2031, 5, 1, 8, 30, 0, 0, time.UTC)
	longName    = "Entrance of the very long shopping centre on the north side of the river"
)

// addCampaign adds the campaign's codes and returns them by label.
func addCampaign(t *testing.T, f *fixture) map[string]*wxqr.Record {
	t.Helper()
	url := func(i int) string { return "http://weixin.qq.com/q/02" + strconv.Itoa(i) + "AbCdEfGhIjKlMnOpQrStUvWx" }
	codes := []code{
		{name: "Store 12", scene: "s12", url: url(12)},
		{name: "Store 2", scene: "s2", url: url(2)},
		{name: "Store 1", scene: "s1", url: url(1)},
		{name: "门店12 - 入口", scene: "cn12", url: url(13), expiresAt: firstExpiry.Add(48 * time.Hour)},
		{name: "Lobby", scene: "lobby", url: url(14), expiresAt: firstExpiry},
		{scene: "entrance-7", url: url(15)},
		{name: longName, scene: "long", url: url(16)},
		{name: "Counter", path: "pages/item/index?id=1", image: qrJPEG(t, "https://mp.example/item/1")},
		{name: "Window", path: "pages/item/index?id=2", image: qrPNG(t, "https://mp.example/item/2", color.Transparent)},
		{path: "pages/shop/index?id=3", image: qrJPEG(t, "https://mp.example/shop/3")},
		{name: "Ghost", path: "pages/ghost/index"},
	}
	byLabel := map[string]*wxqr.Record{}
	for _, c := range codes {
		rec := f.add(t, campaign, c)
		byLabel[rec.Label()] = rec
	}
	return byLabel
}

func TestLoadOrdersByLabel(t *testing.T) {
	f := newFixture(t)
	addCampaign(t, f)
	f.add(t, "another", code{name: "Store 3", scene: "x", url: "http://weixin.qq.com/q/x"})
	var labels []string
	for _, rec := range f.load(t, campaign).Records {
		labels = append(labels, rec.Label())
	}
	want := []string{"Counter", longName, "entrance-7", "Ghost", "Lobby", "pages/shop/index?id=3",
		"Store 1", "Store 2", "Store 12", "Window", "门店12 - 入口"}
	if strings.Join(labels, "|") != strings.Join(want, "|") {
		t.Errorf("print order:\n got %q\nwant %q", labels, want)
	}

	t.Run("empty campaign", func(t *testing.T) {
		_, err := printsheet.Load(t.Context(), f.catalog, f.store, "nothing")
		if !errors.Is(err, printsheet.ErrNoCodes) {
			t.Errorf("Load = %v, want ErrNoCodes", err)
		}
	})
}

func TestWritePDF(t *testing.T) {
	f := newFixture(t)
	byLabel := addCampaign(t, f)
	codes := f.load(t, campaign)
	sheet := printsheet.Sheet{Paper: printsheet.A4, Columns: 3, Rows: 2, CodeSize: 40, Margin: 10, Gutter: 5}
	var buf bytes.Buffer
	printed, err := codes.WritePDF(t.Context(), &buf, sheet)
	if err != nil {
		t.Fatal(err)
	}
	ghost := byLabel["Ghost"].Spec.Key()
	if printed.Pages != 2 || printed.Codes != 10 || len(printed.Missing) != 1 || !strings.Contains(printed.Missing[0], ghost) {
		t.Errorf("printed %+v, want 2 pages, 10 codes and %s missing", printed, ghost)
	}
	path := filepath.Join(t.TempDir(), "sheet.pdf")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("pages", func(t *testing.T) {
		info := string(command(t, "pdfinfo", path))
		if !regexp.MustCompile(`(?m)^Pages:\s+2$`).MatchString(info) || !strings.Contains(info, "(A4)") {
			t.Errorf("pdfinfo:\n%s\nwant 2 A4 pages", info)
		}
		for page := 1; page <= 2; page++ {
			text := pageText(t, path, page)
			for _, want := range []string{campaign, fmt.Sprintf("page %d of 2", page),
				"Note: 2 codes are temporary", "the first on 2031-05-01 08:30 UTC"} {
				if !strings.Contains(text, want) {
					t.Errorf("page %d does not say %q:\n%s", page, want, text)
				}
			}
		}
	})
	t.Run("labels", func(t *testing.T) {
		for i, rec := range codes.Records {
			got := labelText(t, path, sheet, i)
			want := rec.Label()
			switch want {
			case "门店12 - 入口":
				want = "??12 - ??" // Helvetica has no Chinese
			case longName:
				if cut, ok := strings.CutSuffix(got, "…"); !ok || len(cut) < 10 || !strings.HasPrefix(longName, cut) {
					t.Errorf("label %d = %q, want the start of %q and an ellipsis", i, got, longName)
				}
				continue
			}
			if got != want {
				t.Errorf("label %d = %q, want %q", i, got, want)
			}
		}
	})
	t.Run("every code decodes", func(t *testing.T) {
		checkCodes(t, f, codes, buf.Bytes(), sheet, map[string]bool{byLabel["Ghost"].ID: true})
	})
}

// checkCodes renders the PDF and decodes every code from its place on the
// sheet; the codes of missing are expected not to be there.
func checkCodes(t *testing.T, f *fixture, codes *printsheet.Codes, pdf []byte, sheet printsheet.Sheet, missing map[string]bool) {
	t.Helper()
	const dpi = 300
	pages := renderPages(t, pdf, dpi)
	sheet = sheet.WithDefaults()
	if want := (len(codes.Records) + sheet.PerPage() - 1) / sheet.PerPage(); len(pages) != want {
		t.Fatalf("rendered %d pages, want %d", len(pages), want)
	}
	for i, rec := range codes.Records {
		x, y := sheet.CodeAt(i % sheet.PerPage())
		got, err := decodeImage(t, crop(pages[i/sheet.PerPage()], dpi, x, y, sheet.CodeSize))
		if missing[rec.ID] {
			if err == nil {
				t.Errorf("code %d (%s) has no image, yet its place decodes to %q", i, rec.Label(), got)
			}
			continue
		}
		var stored []byte
		if rec.URL == "" {
			obj, err := f.store.Get(t.Context(), rec.Spec.Key())
			if err != nil {
				t.Fatal(err)
			}
			stored = obj.Body
		}
		if want := content(t, rec, stored); err != nil || got != want {
			t.Errorf("code %d (%s) decodes to %q (%v), want %q", i, rec.Label(), got, err, want)
		}
	}
}

// pageText is the text of one page of the PDF at path.
func pageText(t *testing.T, path string, page int) string {
	t.Helper()
	p := strconv.Itoa(page)
	return string(command(t, "pdftotext", "-f", p, "-l", p, "-layout", path, "-"))
}

// labelText is the text in the label band under the i-th code of the PDF
// at path.
func labelText(t *testing.T, path string, sheet printsheet.Sheet, i int) string {
	t.Helper()
	sheet = sheet.WithDefaults()
	page := strconv.Itoa(i/sheet.PerPage() + 1)
	x, y := sheet.CodeAt(i % sheet.PerPage())
	pt := func(mm float64) string { return strconv.Itoa(int(mm * 72 / 25.4)) }
	// At 72 dpi pdftotext's pixels are points.
	out := command(t, "pdftotext", "-f", page, "-l", page, "-r", "72",
		"-x", pt(x), "-y", pt(y+sheet.CodeSize), "-W", pt(sheet.CodeSize), "-H", pt(6),
		path, "-")
	return strings.TrimSpace(strings.ReplaceAll(string(out), "\f", ""))
}

func TestWritePDFLetterDefaults(t *testing.T) {
	f := newFixture(t)
	f.add(t, "letter", code{name: "Only", scene: "only", url: "http://weixin.qq.com/q/02only"})
	codes := f.load(t, "letter")
	var buf bytes.Buffer
	printed, err := codes.WritePDF(t.Context(), &buf, printsheet.Sheet{Paper: printsheet.Letter})
	if err != nil {
		t.Fatal(err)
	}
	if printed.Pages != 1 || printed.Codes != 1 {
		t.Errorf("printed %+v, want 1 page with 1 code", printed)
	}
	path := filepath.Join(t.TempDir(), "letter.pdf")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if info := string(command(t, "pdfinfo", path)); !strings.Contains(info, "612 x 792 pts (letter)") {
		t.Errorf("pdfinfo:\n%s\nwant a Letter page", info)
	}
	if text := pageText(t, path, 1); strings.Contains(text, "Note:") {
		t.Errorf("a campaign without temporary codes has a note:\n%s", text)
	}
	checkCodes(t, f, codes, buf.Bytes(), printsheet.Sheet{Paper: printsheet.Letter}, nil)
}

func TestWritePDFWithFont(t *testing.T) {
	font, err := printsheet.LoadFont(testenv.File(t, "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"))
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t)
	f.add(t, "中文", code{name: "门店12 - 入口", scene: "cn12", url: "http://weixin.qq.com/q/02cn12"})
	codes := f.load(t, "中文")
	sheet := printsheet.Sheet{Font: font}
	var buf bytes.Buffer
	if _, err := codes.WritePDF(t.Context(), &buf, sheet); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "font.pdf")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := labelText(t, path, sheet, 0); got != "门店12 - 入口" {
		t.Errorf("label = %q, want the name in Chinese", got)
	}
	if text := pageText(t, path, 1); !strings.Contains(text, "中文") || !strings.Contains(text, "page 1 of 1") {
		t.Errorf("header does not name the campaign in Chinese and the page:\n%s", text)
	}
	checkCodes(t, f, codes, buf.Bytes(), sheet, nil)
}

func TestLoadFontRefuses(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, body []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, body, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	tests := []struct {
		name, path, want string
	}{
		{"missing", filepath.Join(dir, "none.ttf"), "no such file"},
		{"not a font", write("text.ttf", []byte("hello, this is not a font at all")), "not a TrueType font"},
		{"OpenType CFF", write("cff.otf", append([]byte("OTTO"), make([]byte, 40)...)), ".otf"},
		{"collection", write("fonts.ttc", append([]byte("ttcf"), make([]byte, 40)...)), ".ttc"},
		{"cut short", write("short.ttf", append([]byte{0, 1, 0, 0, 0, 9}, make([]byte, 20)...)), "cut short"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := printsheet.LoadFont(tt.path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("LoadFont = %v, want an error saying %q", err, tt.want)
			}
		})
	}
}
