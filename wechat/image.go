package wechat

import (
	"bytes"
	"fmt"
	"mime"
	"strings"
)

// Image is a code's image as WeChat returned it.
type Image struct {
	Data []byte
	// ContentType is the media type the bytes really are, read from their
	// magic number: "image/jpeg", "image/png" or "image/gif". (WeChat's own
	// header says "image/jpg" for showqrcode, which is not a registered type.)
	ContentType string
}

// imageFormat is an image format WeChat returns, with how to recognise a
// complete file of that format.
type imageFormat struct {
	contentType string
	magic       []byte
	trailer     []byte // the bytes a complete file ends with
}

var imageFormats = []imageFormat{
	{"image/jpeg", []byte{0xFF, 0xD8, 0xFF}, []byte{0xFF, 0xD9}},               // SOI ... EOI
	{"image/png", []byte("\x89PNG\r\n\x1a\n"), []byte("IEND\xae\x42\x60\x82")}, // ... IEND chunk and its CRC
	{"image/gif", []byte("GIF87a"), []byte{0x3B}},                              // ... trailer
	{"image/gif", []byte("GIF89a"), []byte{0x3B}},
}

// decodeImage turns a response that should be an image into an *Image.
//
// The Mini Program APIs answer errors with HTTP 200 and a JSON body whose
// Content-Type may carry parameters ("application/json; encoding=utf-8") or
// be wrong altogether, so the body is JSON if its parsed media type says so
// or if it starts with "{"; a JSON body is always an error, never an image
// (an *APIError, or an error of its own for errcode 0). Anything else must
// be a JPEG, PNG or GIF by its magic number; an image without its end marker
// was cut short and is ErrTransient.
func decodeImage(op string, r *response) (*Image, error) {
	header := r.header.Get("Content-Type")
	mediaType, _, _ := mime.ParseMediaType(header) // unparsable: decide by the bytes alone
	if isJSONMediaType(mediaType) || looksLikeJSON(r.body) {
		var st apiStatus
		if err := decodeJSON(op, r.body, &st); err != nil {
			return nil, err
		}
		return nil, &failure{op: op, msg: fmt.Sprintf("JSON body with errcode 0 and no image (Content-Type %q)", header)}
	}
	if len(r.body) == 0 {
		return nil, &failure{op: op, class: ErrTransient, msg: fmt.Sprintf("empty body (Content-Type %q)", header)}
	}
	for _, f := range imageFormats {
		if !bytes.HasPrefix(r.body, f.magic) {
			continue
		}
		// Some encoders pad a file after its end marker.
		if !bytes.HasSuffix(bytes.TrimRight(r.body, "\x00\r\n\t "), f.trailer) {
			return nil, &failure{op: op, class: ErrTransient, msg: fmt.Sprintf("truncated %s body (%d bytes, no end marker)", f.contentType, len(r.body))}
		}
		return &Image{Data: r.body, ContentType: f.contentType}, nil
	}
	return nil, &failure{op: op, msg: fmt.Sprintf("body is neither JSON nor a JPEG, PNG or GIF image (Content-Type %q, %d bytes)", header, len(r.body))}
}

func isJSONMediaType(mt string) bool {
	return mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json")
}

func looksLikeJSON(body []byte) bool {
	body = bytes.TrimLeft(body, " \t\r\n")
	return len(body) > 0 && body[0] == '{'
}
