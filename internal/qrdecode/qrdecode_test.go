package qrdecode_test

import (
	"bytes"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"testing"

	"github.com/skip2/go-qrcode"

	"github.com/wxqr/wxqr/internal/qrdecode"
)

func TestDecode(t *testing.T) {
	const text = "http://weixin.qq.com/q/02abc+/=XYZ"
	qr, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		t.Fatal(err)
	}
	m := qr.Image(430)
	encode := func(t *testing.T, enc func(*bytes.Buffer, image.Image) error) []byte {
		t.Helper()
		var b bytes.Buffer
		if err := enc(&b, m); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	tests := []struct {
		name string
		enc  func(*bytes.Buffer, image.Image) error
	}{
		{"png", func(b *bytes.Buffer, m image.Image) error { return png.Encode(b, m) }},
		{"jpeg", func(b *bytes.Buffer, m image.Image) error { return jpeg.Encode(b, m, &jpeg.Options{Quality: 80}) }},
		{"gif", func(b *bytes.Buffer, m image.Image) error { return gif.Encode(b, m, nil) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := qrdecode.Decode(encode(t, tt.enc))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got != text {
				t.Errorf("Decode = %q, want %q", got, text)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	blank := image.NewGray(image.Rect(0, 0, 200, 200))
	for i := range blank.Pix {
		blank.Pix[i] = 0xff
	}
	var blankPNG bytes.Buffer
	if err := png.Encode(&blankPNG, blank); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		img  []byte
	}{
		{"not an image", []byte(`{"errcode":40001,"errmsg":"invalid credential"}`)},
		{"empty", nil},
		{"image without a QR code", blankPNG.Bytes()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := qrdecode.Decode(tt.img); err == nil {
				t.Errorf("Decode = %q, want an error", got)
			}
		})
	}
}
