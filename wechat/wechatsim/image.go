package wechatsim

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"

	qrcode "github.com/skip2/go-qrcode"
)

// jpegQuality is close to what WeChat's images use, and keeps the QR
// modules crisp enough for any decoder.
const jpegQuality = 90

// renderJPEG draws content as a black QR code on a white square width
// pixels wide, and encodes it as a JPEG.
func renderJPEG(content string, width int) ([]byte, error) {
	img, _, err := renderCode(content, width, [3]uint8{}, false)
	return img, err
}

// renderCode draws content as a QR code in the colour ink on a square width
// pixels wide, and encodes it: on white as a JPEG ("image/jpeg"), or, when
// transparent, on a background of no opacity as a PNG ("image/png"), as
// WeChat returns is_hyaline codes. It returns the bytes and their content
// type. Each module is a whole number of pixels, centred, so the code
// survives JPEG's blur; contents are kept short enough that a module is at
// least 3 pixels even at the minimum width.
func renderCode(content string, width int, ink [3]uint8, transparent bool) ([]byte, string, error) {
	q, err := qrcode.New(content, qrcode.Medium)
	if err != nil {
		return nil, "", fmt.Errorf("wechatsim: encode %d bytes as a QR code: %w", len(content), err)
	}
	bitmap := q.Bitmap() // includes the 4-module quiet zone
	n := len(bitmap)
	scale := width / n
	if scale < 1 {
		return nil, "", fmt.Errorf("wechatsim: %d QR modules do not fit in %d pixels", n, width)
	}
	rect := image.Rect(0, 0, width, width)
	var img image.Image
	var c canvas
	switch {
	case transparent:
		// White of no opacity: whatever the code is printed on shows.
		m := image.NewNRGBA(rect)
		img, c = m, canvas{m.Pix, m.Stride, []byte{0xff, 0xff, 0xff, 0}, []byte{ink[0], ink[1], ink[2], 0xff}}
	case ink != [3]uint8{}:
		m := image.NewRGBA(rect) // opaque, so its premultiplied colours are the plain ones
		img, c = m, canvas{m.Pix, m.Stride, []byte{0xff, 0xff, 0xff, 0xff}, []byte{ink[0], ink[1], ink[2], 0xff}}
	default:
		m := image.NewGray(rect)
		img, c = m, canvas{m.Pix, m.Stride, []byte{0xff}, []byte{0}}
	}
	c.fill(0, 0, width, c.paper)
	off := (width - n*scale) / 2
	for y, row := range bitmap {
		for x, dark := range row {
			if dark {
				c.fill(off+x*scale, off+y*scale, scale, c.ink)
			}
		}
	}
	var buf bytes.Buffer
	if transparent {
		if err := png.Encode(&buf, img); err != nil {
			return nil, "", fmt.Errorf("wechatsim: encode PNG: %w", err)
		}
		return buf.Bytes(), "image/png", nil
	}
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: jpegQuality}); err != nil {
		return nil, "", fmt.Errorf("wechatsim: encode JPEG: %w", err)
	}
	return buf.Bytes(), "image/jpeg", nil
}

// canvas is the pixels of an image, drawn on in place: far quicker than
// Set, pixel by pixel, for codes up to 1280 pixels wide.
type canvas struct {
	pix        []byte
	stride     int
	paper, ink []byte // one pixel of each, in the image's own layout
}

// fill paints the size × size square whose top left corner is (x, y).
func (c canvas) fill(x, y, size int, pixel []byte) {
	bpp := len(pixel)
	for row := y; row < y+size; row++ {
		start := row*c.stride + x*bpp
		for i := start; i < start+size*bpp; i += bpp {
			copy(c.pix[i:i+bpp], pixel)
		}
	}
}
