package wechatsim

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"

	qrcode "github.com/skip2/go-qrcode"
)

// jpegQuality is close to what WeChat's images use, and keeps the QR
// modules crisp enough for any decoder.
const jpegQuality = 90

// renderJPEG draws content as a QR code on a white square width pixels
// wide, and encodes it as a JPEG. Each module is a whole number of pixels,
// centred, so the code survives JPEG's blur; contents are kept short enough
// that a module is at least 3 pixels even at the minimum width.
func renderJPEG(content string, width int) ([]byte, error) {
	q, err := qrcode.New(content, qrcode.Medium)
	if err != nil {
		return nil, fmt.Errorf("wechatsim: encode %d bytes as a QR code: %w", len(content), err)
	}
	bitmap := q.Bitmap() // includes the 4-module quiet zone
	n := len(bitmap)
	scale := width / n
	if scale < 1 {
		return nil, fmt.Errorf("wechatsim: %d QR modules do not fit in %d pixels", n, width)
	}
	off := (width - n*scale) / 2
	img := image.NewGray(image.Rect(0, 0, width, width))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	for y, row := range bitmap {
		for x, dark := range row {
			if !dark {
				continue
			}
			for dy := range scale {
				start := (off+y*scale+dy)*img.Stride + off + x*scale
				clear(img.Pix[start : start+scale])
			}
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: jpegQuality}); err != nil {
		return nil, fmt.Errorf("wechatsim: encode JPEG: %w", err)
	}
	return buf.Bytes(), nil
}
