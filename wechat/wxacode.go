package wechat

import (
	"context"
)

// Color is a line colour of a Mini Program code, in decimal RGB.
type Color struct {
	R uint8 `json:"r"`
	G uint8 `json:"g"`
	B uint8 `json:"b"`
}

// CreateWxaQRCodeRequest is the body of wxaapp/createwxaqrcode.
type CreateWxaQRCodeRequest struct {
	// Path is the page (and query) the code opens, 1..128 bytes. Required.
	Path string `json:"path"`
	// Width is the image width in px, 280..1280; 0 leaves it to WeChat (430).
	Width int `json:"width,omitempty"`
}

// GetWxaCodeRequest is the body of wxa/getwxacode.
type GetWxaCodeRequest struct {
	// Path is the page (and query) the code opens, at most 1024 bytes.
	// Required.
	Path string `json:"path"`
	// Width is the image width in px, 280..1280; 0 leaves it to WeChat (430).
	Width int `json:"width,omitempty"`
	// AutoColor lets WeChat pick the line colour; LineColor is then ignored.
	AutoColor bool `json:"auto_color,omitempty"`
	// LineColor is the line colour when AutoColor is false; nil is black.
	LineColor *Color `json:"line_color,omitempty"`
	// IsHyaline asks for a transparent background (the image is then a PNG).
	IsHyaline bool `json:"is_hyaline,omitempty"`
	// EnvVersion is the version the code opens: "release" (WeChat's default
	// when empty), "trial" or "develop".
	EnvVersion string `json:"env_version,omitempty"`
}

// GetWxaCodeUnlimitedRequest is the body of wxa/getwxacodeunlimit.
type GetWxaCodeUnlimitedRequest struct {
	// Scene is passed to the page as its `scene` query parameter: 1..32
	// characters of 0-9 A-Z a-z and !#$&'()*+,/:;=?@-._~. Required.
	Scene string `json:"scene"`
	// Page is the page the code opens, without a leading "/"; empty opens the
	// home page.
	Page string `json:"page,omitempty"`
	// CheckPath, when false, lets Page be a page that is not published yet;
	// nil leaves it to WeChat (true).
	CheckPath *bool `json:"check_path,omitempty"`
	// EnvVersion is the version the code opens: "release" (WeChat's default
	// when empty), "trial" or "develop".
	EnvVersion string `json:"env_version,omitempty"`
	// Width is the image width in px, 280..1280; 0 leaves it to WeChat (430).
	Width int `json:"width,omitempty"`
	// AutoColor lets WeChat pick the line colour; LineColor is then ignored.
	AutoColor bool `json:"auto_color,omitempty"`
	// LineColor is the line colour when AutoColor is false; nil is black.
	LineColor *Color `json:"line_color,omitempty"`
	// IsHyaline asks for a transparent background (the image is then a PNG).
	IsHyaline bool `json:"is_hyaline,omitempty"`
}

// CreateWxaQRCode makes a square Mini Program QR code that opens req.Path.
// Each new path spends one of the account's 100,000 codes, shared with
// GetWxaCode (ErrTotalQuota beyond); asking again for a path already made
// does not. An empty Path fails with ErrBadRequest without a call.
//
// WeChat API docs: https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/qrcode-link/qr-code/createQRCode.html
func (c *Client) CreateWxaQRCode(ctx context.Context, req *CreateWxaQRCodeRequest) (*Image, error) {
	if req == nil || req.Path == "" {
		return nil, invalidRequest(opCreateWxaQRCode, "Path is required")
	}
	return c.callImageAPI(ctx, opCreateWxaQRCode, apiPaths[opCreateWxaQRCode], req)
}

// GetWxaCode makes a round Mini Program code that opens req.Path. It shares
// the 100,000 codes of CreateWxaQRCode (ErrTotalQuota) and allows 10,000
// calls a day (ErrDailyQuota). An empty Path fails with ErrBadRequest
// without a call.
//
// WeChat API docs: https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/qrcode-link/qr-code/getQRCode.html
func (c *Client) GetWxaCode(ctx context.Context, req *GetWxaCodeRequest) (*Image, error) {
	if req == nil || req.Path == "" {
		return nil, invalidRequest(opGetWxaCode, "Path is required")
	}
	return c.callImageAPI(ctx, opGetWxaCode, apiPaths[opGetWxaCode], req)
}

// GetWxaCodeUnlimited makes a round Mini Program code that opens req.Page
// with req.Scene. It has no lifetime cap but a per-minute limit (5,000 a
// minute: ErrMinuteLimit). An empty Scene fails with ErrBadRequest without a
// call.
//
// WeChat API docs: https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/qrcode-link/qr-code/getUnlimitedQRCode.html
func (c *Client) GetWxaCodeUnlimited(ctx context.Context, req *GetWxaCodeUnlimitedRequest) (*Image, error) {
	if req == nil || req.Scene == "" {
		return nil, invalidRequest(opGetWxaCodeUnlimited, "Scene is required")
	}
	return c.callImageAPI(ctx, opGetWxaCodeUnlimited, apiPaths[opGetWxaCodeUnlimited], req)
}

// callImageAPI makes an API call whose success is an image and whose failure
// is a JSON errcode.
func (c *Client) callImageAPI(ctx context.Context, op, path string, body any) (*Image, error) {
	var img *Image
	err := c.callAPI(ctx, op, path, body, func(r *response) error {
		var err error
		img, err = decodeImage(op, r)
		return err
	})
	if err != nil {
		return nil, err
	}
	return img, nil
}
