// Package qrdecode reads the text out of a QR code image, so that tests can
// check that an image really encodes what WeChat (or the simulator) said it
// does, rather than only that some image came back.
package qrdecode

import (
	"bytes"
	"fmt"
	"image"
	_ "image/gif"  // WeChat images are JPEG, but PNG and GIF are accepted too.
	_ "image/jpeg" // showqrcode and the Mini Program APIs return JPEG.
	_ "image/png"  // is_hyaline Mini Program codes are PNG.

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
)

// Decode returns the text encoded by the QR code in img (JPEG, PNG or GIF
// bytes). It fails if img is not an image or holds no readable QR code.
func Decode(img []byte) (string, error) {
	m, format, err := image.Decode(bytes.NewReader(img))
	if err != nil {
		return "", fmt.Errorf("qrdecode: decode image: %w", err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(m)
	if err != nil {
		return "", fmt.Errorf("qrdecode: binarize %s image: %w", format, err)
	}
	// WeChat's images hold nothing but the code, which the reader's pure
	// mode reads reliably; its finder-pattern search misses about one clean
	// code in twenty, so it is only the fallback, for images with more in them.
	reader := qrcode.NewQRCodeReader()
	res, err := reader.Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true})
	if err != nil {
		res, err = reader.Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true})
	}
	if err != nil {
		return "", fmt.Errorf("qrdecode: read QR code from %s image: %w", format, err)
	}
	return res.GetText(), nil
}
