package printsheet

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"

	qrcode "github.com/skip2/go-qrcode"
)

// QuietZone is the blank border, in modules, around every code drawn from
// its url: the four modules the QR standard asks for.
const QuietZone = 4

// MinPNGWidth is the least width, in pixels, of a PNG drawn from a url:
// enough for a 10 cm code at 300 dpi. The width is a whole number of pixels
// per module, so no module is blurred.
const MinPNGWidth = 1200

// modules encodes url as a QR code at level M, WeChat's level (the
// simulator's images use it too), and returns its modules, true for dark,
// quiet zone included: row by row, a square.
func modules(url string) ([][]bool, error) {
	q, err := qrcode.New(url, qrcode.Medium)
	if err != nil {
		return nil, fmt.Errorf("printsheet: encode a url of %d bytes as a QR code: %w", len(url), err)
	}
	q.DisableBorder = true
	code := q.Bitmap()
	n := len(code) + 2*QuietZone
	out := make([][]bool, n)
	for y := range out {
		out[y] = make([]bool, n)
		if y >= QuietZone && y < n-QuietZone {
			copy(out[y][QuietZone:], code[y-QuietZone])
		}
	}
	return out, nil
}

// run is a horizontal run of dark modules: row y, columns x to x+n-1.
type run struct{ x, y, n int }

// runs returns the dark runs of m, row by row: one rectangle per run draws
// the code with few shapes and no seams between modules of a row.
func runs(m [][]bool) []run {
	var out []run
	for y, row := range m {
		for x := 0; x < len(row); {
			if !row[x] {
				x++
				continue
			}
			start := x
			for x < len(row) && row[x] {
				x++
			}
			out = append(out, run{x: start, y: y, n: x - start})
		}
	}
	return out
}

// urlPNG draws the code of url as a black and white PNG at least
// MinPNGWidth pixels wide.
func urlPNG(url string) ([]byte, error) {
	m, err := modules(url)
	if err != nil {
		return nil, err
	}
	scale := (MinPNGWidth + len(m) - 1) / len(m)
	side := len(m) * scale
	// Two colours: the encoder writes one bit per pixel.
	img := image.NewPaletted(image.Rect(0, 0, side, side), color.Palette{color.White, color.Black})
	for _, r := range runs(m) {
		for dy := range scale {
			start := (r.y*scale+dy)*img.Stride + r.x*scale
			row := img.Pix[start : start+r.n*scale]
			for i := range row {
				row[i] = 1
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("printsheet: encode PNG: %w", err)
	}
	return buf.Bytes(), nil
}
