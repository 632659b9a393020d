package printsheet

import (
	"bytes"
	"image"
	"image/png"
	"testing"

	"golang.org/x/text/encoding/charmap"

	"github.com/wxqr/wxqr/internal/qrdecode"
)

func TestToWindows1252(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Store 12 - entrance", "Store 12 - entrance"},
		{"Café · Müller", "Café · Müller"},
		{"Łódź Gdańsk", "?ódz Gdansk"}, // Ł has no decomposition
		{"ﬁle Ａ1", "file A1"},
		{"门店12 - 入口", "??12 - ??"},
		{"tab\there", "tab here"},
		{"€ …", "€ …"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := charmap.Windows1252.NewDecoder().String(toWindows1252(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("toWindows1252(%q) reads %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestModules(t *testing.T) {
	const url = "http://weixin.qq.com/q/02AbCdEfGhIjKl00"
	m, err := modules(url)
	if err != nil {
		t.Fatal(err)
	}
	n := len(m)
	for y, row := range m {
		if len(row) != n {
			t.Fatalf("row %d has %d modules, want %d: not a square", y, len(row), n)
		}
		for x, dark := range row {
			inQuietZone := x < QuietZone || y < QuietZone || x >= n-QuietZone || y >= n-QuietZone
			if dark && inQuietZone {
				t.Fatalf("module (%d, %d) is dark, inside the quiet zone", x, y)
			}
		}
	}
	// The finder pattern's corner: the first module inside the quiet zone.
	if !m[QuietZone][QuietZone] {
		t.Errorf("no finder pattern right inside the quiet zone")
	}

	t.Run("runs cover the dark modules", func(t *testing.T) {
		drawn := make([][]bool, n)
		for y := range drawn {
			drawn[y] = make([]bool, n)
		}
		for _, r := range runs(m) {
			for x := r.x; x < r.x+r.n; x++ {
				if drawn[r.y][x] {
					t.Fatalf("module (%d, %d) drawn twice", x, r.y)
				}
				drawn[r.y][x] = true
			}
		}
		for y := range m {
			for x := range m[y] {
				if drawn[y][x] != m[y][x] {
					t.Fatalf("module (%d, %d): drawn %v, dark %v", x, y, drawn[y][x], m[y][x])
				}
			}
		}
	})

	t.Run("png", func(t *testing.T) {
		body, err := urlPNG(url)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if w := img.Bounds().Dx(); w < MinPNGWidth || w%n != 0 {
			t.Errorf("PNG is %d pixels wide, want at least %d and a whole number of pixels per module (%d modules)", w, MinPNGWidth, n)
		}
		if c := img.(*image.Paletted).ColorIndexAt(0, 0); c != 0 {
			t.Errorf("corner pixel is colour %d, want white: the quiet zone", c)
		}
		if got, err := qrdecode.Decode(body); err != nil || got != url {
			t.Errorf("PNG decodes to %q (%v), want %q", got, err, url)
		}
	})
}
