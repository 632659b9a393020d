package wechat_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/wechat"
)

// codeRecorder records the one request CreateCode makes.
type codeRecorder struct {
	req    any
	ticket wechat.QRCodeTicket
}

func (r *codeRecorder) CreateQRCode(_ context.Context, req *wechat.CreateQRCodeRequest) (*wechat.QRCodeTicket, error) {
	r.req = *req
	t := r.ticket
	return &t, nil
}

func (r *codeRecorder) CreateWxaQRCode(_ context.Context, req *wechat.CreateWxaQRCodeRequest) (*wechat.Image, error) {
	r.req = *req
	return &wechat.Image{Data: []byte("img")}, nil
}

func (r *codeRecorder) GetWxaCode(_ context.Context, req *wechat.GetWxaCodeRequest) (*wechat.Image, error) {
	r.req = *req
	return &wechat.Image{Data: []byte("img")}, nil
}

func (r *codeRecorder) GetWxaCodeUnlimited(_ context.Context, req *wechat.GetWxaCodeUnlimitedRequest) (*wechat.Image, error) {
	r.req = *req
	return &wechat.Image{Data: []byte("img")}, nil
}

func TestCreateCode(t *testing.T) {
	tests := []struct {
		spec       wxqr.Spec
		wantReq    any
		wantTicket bool
	}{
		{wxqr.Spec{Kind: wxqr.KindOATemp, SceneID: 7},
			wechat.CreateQRCodeRequest{ActionName: wechat.QRScene, SceneID: 7, ExpireSeconds: 3600}, true},
		{wxqr.Spec{Kind: wxqr.KindOATemp, SceneStr: "s"},
			wechat.CreateQRCodeRequest{ActionName: wechat.QRStrScene, SceneStr: "s", ExpireSeconds: 3600}, true},
		{wxqr.Spec{Kind: wxqr.KindOAPerm, SceneID: 7},
			wechat.CreateQRCodeRequest{ActionName: wechat.QRLimitScene, SceneID: 7}, true},
		{wxqr.Spec{Kind: wxqr.KindOAPerm, SceneStr: "s"},
			wechat.CreateQRCodeRequest{ActionName: wechat.QRLimitStrScene, SceneStr: "s"}, true},
		{wxqr.Spec{Kind: wxqr.KindWxaQRCode, Path: "pages/a", Width: 280},
			wechat.CreateWxaQRCodeRequest{Path: "pages/a", Width: 280}, false},
		{wxqr.Spec{Kind: wxqr.KindWxaCode, Path: "pages/a", Width: 280},
			wechat.GetWxaCodeRequest{Path: "pages/a", Width: 280}, false},
		{wxqr.Spec{Kind: wxqr.KindWxaUnlimited, Path: "pages/a", SceneStr: "s", Width: 280},
			wechat.GetWxaCodeUnlimitedRequest{Scene: "s", Page: "pages/a", Width: 280}, false},
		{wxqr.Spec{Kind: wxqr.KindWxaCode, Path: "pages/b", Width: 430, LineColor: "#1a5fb4", IsHyaline: true, EnvVersion: wxqr.EnvTrial},
			wechat.GetWxaCodeRequest{Path: "pages/b", Width: 430, LineColor: &wechat.Color{R: 0x1a, G: 0x5f, B: 0xb4}, IsHyaline: true, EnvVersion: "trial"}, false},
		{wxqr.Spec{Kind: wxqr.KindWxaCode, Path: "pages/c", Width: 430, AutoColor: true},
			wechat.GetWxaCodeRequest{Path: "pages/c", Width: 430, AutoColor: true}, false},
		{wxqr.Spec{Kind: wxqr.KindWxaUnlimited, SceneStr: "t", Width: 430, LineColor: "255,0,0", IsHyaline: true, EnvVersion: wxqr.EnvDevelop, CheckPath: wxqr.BoolFalse},
			wechat.GetWxaCodeUnlimitedRequest{Scene: "t", Width: 430, LineColor: &wechat.Color{R: 255}, IsHyaline: true, EnvVersion: "develop", CheckPath: new(false)}, false},
		{wxqr.Spec{Kind: wxqr.KindWxaUnlimited, SceneStr: "u", Width: 430, CheckPath: wxqr.BoolTrue},
			wechat.GetWxaCodeUnlimitedRequest{Scene: "u", Width: 430, CheckPath: new(true)}, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.spec.Kind)+"/"+tt.spec.Scene()+tt.spec.Path, func(t *testing.T) {
			r := &codeRecorder{}
			code, err := wechat.CreateCode(t.Context(), r, tt.spec, 3600)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(r.req, tt.wantReq) {
				t.Errorf("request = %#v, want %#v", r.req, tt.wantReq)
			}
			if (code.Ticket != nil) != tt.wantTicket || (code.Image != nil) == tt.wantTicket {
				t.Errorf("code = %+v, want a ticket: %v, else an image", code, tt.wantTicket)
			}
		})
	}
	if _, err := wechat.CreateCode(t.Context(), &codeRecorder{}, wxqr.Spec{Kind: "oa_other"}, 0); err == nil {
		t.Error("CreateCode of an unknown kind succeeded, want an error")
	}
}

// TestCreateCodeExpireSeconds: a temporary ticket whose answer leaves out
// expire_seconds lives as long as asked; a permanent one has none.
func TestCreateCodeExpireSeconds(t *testing.T) {
	for _, tt := range []struct {
		kind   wxqr.Kind
		answer int
		want   int
	}{
		{wxqr.KindOATemp, 0, 3600},
		{wxqr.KindOATemp, 1800, 1800},
		{wxqr.KindOAPerm, 0, 0},
	} {
		r := &codeRecorder{ticket: wechat.QRCodeTicket{Ticket: "t", ExpireSeconds: tt.answer}}
		code, err := wechat.CreateCode(t.Context(), r, wxqr.Spec{Kind: tt.kind, SceneID: 1}, 3600)
		if err != nil {
			t.Fatal(err)
		}
		if code.Ticket.ExpireSeconds != tt.want {
			t.Errorf("%s answered with expire_seconds %d: ticket lives %d s, want %d", tt.kind, tt.answer, code.Ticket.ExpireSeconds, tt.want)
		}
	}
}
