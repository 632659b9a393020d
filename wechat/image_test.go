package wechat

import (
	"bytes"
	"errors"
	"net/http"
	"testing"
)

func TestImageResponses(t *testing.T) {
	jpg, pngImg := testJPEG(t), testPNG(t)
	gif := []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;")
	tests := []struct {
		name        string
		status      int
		contentType string
		body        []byte
		wantType    string // the image's ContentType; "" if an error is wanted
		wantClass   Class
		wantCode    int // the *APIError's errcode, if one is wanted
	}{
		{"jpeg", 200, "image/jpeg", jpg, "image/jpeg", ClassNone, 0},
		{"showqrcode's image/jpg", 200, "image/jpg", jpg, "image/jpeg", ClassNone, 0},
		{"jpeg without content type", 200, "", jpg, "image/jpeg", ClassNone, 0},
		{"jpeg as octet-stream", 200, "application/octet-stream", jpg, "image/jpeg", ClassNone, 0},
		{"jpeg padded after its end", 200, "image/jpeg", append(append([]byte(nil), jpg...), 0, 0, '\n'), "image/jpeg", ClassNone, 0},
		{"hyaline png", 200, "image/png", pngImg, "image/png", ClassNone, 0},
		{"gif", 200, "image/gif", gif, "image/gif", ClassNone, 0},

		{"JSON error with charset parameter", 200, "application/json; encoding=utf-8",
			[]byte(`{"errcode":45009,"errmsg":"reach max api daily quota limit"}`), "", ClassDailyQuota, 45009},
		{"JSON error as text/plain", 200, "text/plain",
			[]byte(`{"errcode":-1,"errmsg":"system error"}`), "", ClassTransient, -1},
		{"JSON error labelled image/jpeg", 200, "image/jpeg",
			[]byte(`{"errcode":41030,"errmsg":"invalid page"}`), "", ClassBadRequest, 41030},
		{"JSON error after whitespace, no content type", 200, "",
			[]byte("\r\n {\"errcode\":45029,\"errmsg\":\"qrcode count out of limit\"}"), "", ClassTotalQuota, 45029},
		{"JSON error as upper-case media type", 200, "Application/JSON",
			[]byte(`{"errcode":40097,"errmsg":"invalid args"}`), "", ClassBadRequest, 40097},
		{"errcode 0 and no image", 200, "application/json", []byte(`{"errcode":0,"errmsg":"ok"}`), "", ClassUnknown, 0},
		{"JSON media type, garbage body", 200, "application/json", []byte(`not json`), "", ClassUnknown, 0},
		{"truncated JSON", 200, "application/json", []byte(`{"errcode":45`), "", ClassTransient, 0},

		{"truncated jpeg", 200, "image/jpeg", jpg[:len(jpg)/2], "", ClassTransient, 0},
		{"truncated png", 200, "image/png", pngImg[:len(pngImg)-6], "", ClassTransient, 0},
		{"empty body", 200, "image/jpeg", nil, "", ClassTransient, 0},
		{"html labelled image", 200, "image/jpeg", []byte("<html>oops</html>"), "", ClassUnknown, 0},
		{"text", 200, "text/plain", []byte("hello"), "", ClassUnknown, 0},
		{"HTTP 500", 500, "text/html", []byte("<html>500</html>"), "", ClassTransient, 0},
		{"HTTP 503 with an image", 503, "image/jpeg", jpg, "", ClassTransient, 0},
		{"HTTP 404 from the API host", 404, "text/html", []byte("not found"), "", ClassUnknown, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestClient(t, serve(tt.status, tt.contentType, tt.body), nil, nil)
			img, err := c.GetWxaCodeUnlimited(t.Context(), &GetWxaCodeUnlimitedRequest{Scene: "s"})
			if tt.wantType != "" {
				if err != nil {
					t.Fatalf("GetWxaCodeUnlimited: %v", err)
				}
				if img.ContentType != tt.wantType || !bytes.Equal(img.Data, tt.body) {
					t.Errorf("image = %s, %d bytes; want %s, %d bytes", img.ContentType, len(img.Data), tt.wantType, len(tt.body))
				}
				return
			}
			if img != nil {
				t.Fatalf("got an image (%s, %d bytes), want an error", img.ContentType, len(img.Data))
			}
			if got := ClassOf(err); got != tt.wantClass || err == nil {
				t.Errorf("ClassOf(%v) = %v, want %v", err, got, tt.wantClass)
			}
			var ae *APIError
			switch {
			case tt.wantCode != 0 && !errors.As(err, &ae):
				t.Errorf("error %v is not an *APIError", err)
			case tt.wantCode != 0 && (ae.Code != tt.wantCode || ae.Op != opGetWxaCodeUnlimited):
				t.Errorf("APIError = %+v, want code %d, op %s", ae, tt.wantCode, opGetWxaCodeUnlimited)
			case tt.wantCode == 0 && errors.As(err, &ae):
				t.Errorf("error %v is an *APIError, want another error", err)
			}
		})
	}
}

func TestBodyLimit(t *testing.T) {
	jpg := testJPEG(t)
	tests := []struct {
		name    string
		limit   int64
		wantErr bool
	}{
		{"at the limit", int64(len(jpg)), false},
		{"one byte over", int64(len(jpg)) - 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestClient(t, serve(http.StatusOK, "image/jpeg", jpg), nil, nil, func(cfg *Config) { cfg.MaxBodyBytes = tt.limit })
			img, err := c.CreateWxaQRCode(t.Context(), &CreateWxaQRCodeRequest{Path: "p"})
			if (err != nil) != tt.wantErr || (img == nil) != tt.wantErr {
				t.Errorf("CreateWxaQRCode = %v, %v; want error: %v", img, err, tt.wantErr)
			}
		})
	}
}
