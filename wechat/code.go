package wechat

import (
	"context"
	"fmt"

	"github.com/wxqr/wxqr"
)

// CodeMaker is the part of a Client that makes codes; *Client implements
// it.
type CodeMaker interface {
	CreateQRCode(ctx context.Context, req *CreateQRCodeRequest) (*QRCodeTicket, error)
	CreateWxaQRCode(ctx context.Context, req *CreateWxaQRCodeRequest) (*Image, error)
	GetWxaCode(ctx context.Context, req *GetWxaCodeRequest) (*Image, error)
	GetWxaCodeUnlimited(ctx context.Context, req *GetWxaCodeUnlimitedRequest) (*Image, error)
}

// Code is what WeChat returns for a new code: an Official Account code's
// ticket (its image comes from showqrcode), or a Mini Program code's image.
// Exactly one is set.
type Code struct {
	Ticket *QRCodeTicket
	Image  *Image
}

// CreateCode asks WeChat, through c, for the code spec describes, with the
// one API call its kind names (spec.Kind.API()): qrcode/create with the
// action its kind and scene call for, a temporary code valid for
// expireSeconds (ignored for other kinds); or createwxaqrcode, getwxacode
// or getwxacodeunlimit, the last two with the spec's styling (a field left
// at WeChat's default is left out). A temporary ticket whose answer leaves out
// expire_seconds lives as long as asked, by WeChat's rule, and is returned
// so. spec must be valid (wxqr.Spec.Validate).
func CreateCode(ctx context.Context, c CodeMaker, spec wxqr.Spec, expireSeconds int) (*Code, error) {
	var img *Image
	var err error
	switch spec.Kind {
	case wxqr.KindOATemp, wxqr.KindOAPerm:
		req := &CreateQRCodeRequest{ActionName: action(spec), SceneID: spec.SceneID, SceneStr: spec.SceneStr}
		if req.ActionName.Temporary() {
			req.ExpireSeconds = expireSeconds
		}
		ticket, err := c.CreateQRCode(ctx, req)
		if err != nil {
			return nil, err
		}
		if req.ActionName.Temporary() && ticket.ExpireSeconds == 0 {
			ticket.ExpireSeconds = expireSeconds
		}
		return &Code{Ticket: ticket}, nil
	case wxqr.KindWxaQRCode:
		img, err = c.CreateWxaQRCode(ctx, &CreateWxaQRCodeRequest{Path: spec.Path, Width: spec.Width})
	case wxqr.KindWxaCode:
		img, err = c.GetWxaCode(ctx, &GetWxaCodeRequest{
			Path: spec.Path, Width: spec.Width,
			AutoColor: spec.AutoColor, LineColor: lineColor(spec), IsHyaline: spec.IsHyaline, EnvVersion: string(spec.EnvVersion),
		})
	case wxqr.KindWxaUnlimited:
		img, err = c.GetWxaCodeUnlimited(ctx, &GetWxaCodeUnlimitedRequest{
			Scene: spec.SceneStr, Page: spec.Path, Width: spec.Width,
			AutoColor: spec.AutoColor, LineColor: lineColor(spec), IsHyaline: spec.IsHyaline, EnvVersion: string(spec.EnvVersion),
			CheckPath: checkPath(spec.CheckPath),
		})
	default:
		return nil, fmt.Errorf("wechat: no API makes codes of kind %q", spec.Kind)
	}
	if err != nil {
		return nil, err
	}
	return &Code{Image: img}, nil
}

// action is qrcode/create's action for an Official Account code of spec.
func action(spec wxqr.Spec) ActionName {
	switch {
	case spec.Kind == wxqr.KindOATemp && spec.SceneStr != "":
		return QRStrScene
	case spec.Kind == wxqr.KindOATemp:
		return QRScene
	case spec.SceneStr != "":
		return QRLimitStrScene
	default:
		return QRLimitScene
	}
}

// lineColor is the line colour of spec as WeChat takes it; nil (black, left
// out) when it has none. spec is valid, so its colour parses.
func lineColor(spec wxqr.Spec) *Color {
	c, err := wxqr.ParseColor(spec.LineColor)
	if spec.LineColor == "" || err != nil {
		return nil
	}
	return &Color{R: c.R, G: c.G, B: c.B}
}

// checkPath is check_path as WeChat takes it: nil (left out) when unset.
func checkPath(b wxqr.OptionalBool) *bool {
	if b == wxqr.BoolUnset {
		return nil
	}
	v := b == wxqr.BoolTrue
	return &v
}
