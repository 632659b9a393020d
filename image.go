package wxqr

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
)

// Image formats a stored code can have, as content types.
const (
	ContentTypeJPEG = "image/jpeg"
	ContentTypePNG  = "image/png"
)

// ErrIncompleteImage is returned (wrapped) by CheckImage for bytes that are
// not one whole JPEG or PNG of the expected size: empty, cut short, another
// format, or an error body taken for an image.
var ErrIncompleteImage = errors.New("not a complete image")

// ImageInfo is what CheckImage learnt of an image.
type ImageInfo struct {
	ContentType   string // ContentTypeJPEG or ContentTypePNG, from the bytes themselves
	Width, Height int
}

var (
	jpegStart = []byte{0xFF, 0xD8, 0xFF}
	jpegEnd   = []byte{0xFF, 0xD9}
	pngStart  = []byte("\x89PNG\r\n\x1a\n")
	// pngEnd is the IEND chunk: zero length, its type, its fixed CRC.
	pngEnd = []byte{0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xAE, 0x42, 0x60, 0x82}
)

// jpegTrailerSlack is how many bytes may follow a JPEG's end marker: some
// encoders pad the file, and a few bytes of padding do not harm a decoder.
const jpegTrailerSlack = 16

// CheckImage reports whether data is one complete JPEG or PNG, width pixels
// wide (any width when width is 0): the magic bytes, a header that decodes,
// and the format's end marker, so that a body cut short by a dropped
// connection is refused as surely as an empty one. Nothing that fails it may
// be stored or recorded as a code. The error wraps ErrIncompleteImage and
// says what is wrong.
func CheckImage(data []byte, width int) (ImageInfo, error) {
	var info ImageInfo
	var cfg image.Config
	var err error
	switch {
	case len(data) == 0:
		return info, fmt.Errorf("%w: 0 bytes", ErrIncompleteImage)
	case bytes.HasPrefix(data, jpegStart):
		info.ContentType = ContentTypeJPEG
		if i := bytes.LastIndex(data, jpegEnd); i < 0 || len(data)-(i+len(jpegEnd)) > jpegTrailerSlack {
			return info, fmt.Errorf("%w: JPEG of %d bytes has no end marker (cut short)", ErrIncompleteImage, len(data))
		}
		cfg, err = jpeg.DecodeConfig(bytes.NewReader(data))
	case bytes.HasPrefix(data, pngStart):
		info.ContentType = ContentTypePNG
		if !bytes.HasSuffix(data, pngEnd) {
			return info, fmt.Errorf("%w: PNG of %d bytes has no IEND chunk (cut short)", ErrIncompleteImage, len(data))
		}
		cfg, err = png.DecodeConfig(bytes.NewReader(data))
	default:
		return info, fmt.Errorf("%w: %d bytes that are neither JPEG nor PNG", ErrIncompleteImage, len(data))
	}
	if err != nil {
		return info, fmt.Errorf("%w: %s header: %v", ErrIncompleteImage, info.ContentType, err)
	}
	info.Width, info.Height = cfg.Width, cfg.Height
	if width != 0 && cfg.Width != width {
		return info, fmt.Errorf("%w: %d pixels wide, want %d", ErrIncompleteImage, cfg.Width, width)
	}
	return info, nil
}

// ImageWidth is the pixel width WeChat makes the image of a code of s: the
// requested width of a Mini Program code, 0 (any) for an Official Account
// code, whose size WeChat chooses.
func (s Spec) ImageWidth() int {
	if s.Kind.AppType() == AppOA {
		return 0
	}
	if s.Width == 0 {
		return DefaultWidth
	}
	return s.Width
}
