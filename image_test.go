package wxqr_test

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"

	"github.com/wxqr/wxqr"
)

func testImage(t *testing.T, format string, width int) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, width, width))
	for i := range img.Pix {
		img.Pix[i] = uint8(i)
	}
	img.Set(1, 1, color.White)
	var buf bytes.Buffer
	var err error
	if format == "png" {
		err = png.Encode(&buf, img)
	} else {
		err = jpeg.Encode(&buf, img, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// transparentPNG is what WeChat returns for an is_hyaline code: a PNG whose
// background is transparent.
func transparentPNG(t *testing.T, width int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, width, width))
	for i := 0; i < width; i += 2 {
		img.Set(i, i, color.NRGBA{R: 0x1a, G: 0x5f, B: 0xb4, A: 0xff})
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestCheckImage(t *testing.T) {
	jpg := testImage(t, "jpeg", 430)
	pngData := testImage(t, "png", 280)
	clearPNG := transparentPNG(t, 430)
	t.Run("whole", func(t *testing.T) {
		for _, c := range []struct {
			name  string
			data  []byte
			width int
			ct    string
		}{
			{"jpeg any width", jpg, 0, wxqr.ContentTypeJPEG},
			{"jpeg its width", jpg, 430, wxqr.ContentTypeJPEG},
			{"jpeg with padding", append(append([]byte{}, jpg...), 0, 0, 0), 430, wxqr.ContentTypeJPEG},
			{"png", pngData, 280, wxqr.ContentTypePNG},
			{"transparent png", clearPNG, 430, wxqr.ContentTypePNG},
		} {
			t.Run(c.name, func(t *testing.T) {
				info, err := wxqr.CheckImage(c.data, c.width)
				if err != nil {
					t.Fatalf("CheckImage: %v", err)
				}
				if info.ContentType != c.ct {
					t.Errorf("content type %q, want %q", info.ContentType, c.ct)
				}
			})
		}
	})
	t.Run("refused", func(t *testing.T) {
		for _, c := range []struct {
			name  string
			data  []byte
			width int
		}{
			{"nil", nil, 0},
			{"empty", []byte{}, 0},
			{"jpeg cut in half", jpg[:len(jpg)/2], 0},
			{"jpeg without its last byte", jpg[:len(jpg)-1], 0},
			{"jpeg header only", jpg[:20], 0},
			{"png cut short", pngData[:len(pngData)-4], 0},
			{"transparent png without its IEND chunk", clearPNG[:len(clearPNG)-12], 430},
			{"wrong width", jpg, 280},
			{"json error body", []byte(`{"errcode":-1,"errmsg":"system error"}`), 0},
			{"html", []byte("<html>500</html>"), 0},
		} {
			t.Run(c.name, func(t *testing.T) {
				_, err := wxqr.CheckImage(c.data, c.width)
				if !errors.Is(err, wxqr.ErrIncompleteImage) {
					t.Fatalf("CheckImage = %v, want ErrIncompleteImage", err)
				}
			})
		}
	})
}

func TestSpecImageWidth(t *testing.T) {
	for _, c := range []struct {
		spec wxqr.Spec
		want int
	}{
		{wxqr.Spec{Kind: wxqr.KindOAPerm, SceneID: 1}, 0},
		{wxqr.Spec{Kind: wxqr.KindOATemp, SceneID: 1}, 0},
		{wxqr.Spec{Kind: wxqr.KindWxaQRCode, Path: "p"}, wxqr.DefaultWidth},
		{wxqr.Spec{Kind: wxqr.KindWxaCode, Path: "p", Width: 600}, 600},
	} {
		if got := c.spec.ImageWidth(); got != c.want {
			t.Errorf("%+v.ImageWidth() = %d, want %d", c.spec, got, c.want)
		}
	}
}
