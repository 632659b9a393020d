package wechat

import (
	"context"
	"net/http"
	"net/url"
)

// Operation names: the WeChat API each call makes, as they appear in errors
// and logs.
const (
	opCreateQRCode        = "qrcode/create"
	opShowQRCode          = "showqrcode"
	opCreateWxaQRCode     = "wxaapp/createwxaqrcode"
	opGetWxaCode          = "wxa/getwxacode"
	opGetWxaCodeUnlimited = "wxa/getwxacodeunlimit"
)

// ActionName is the kind of Official Account QR code to create.
type ActionName string

// The four action names of qrcode/create.
const (
	QRScene         ActionName = "QR_SCENE"           // temporary, integer scene
	QRStrScene      ActionName = "QR_STR_SCENE"       // temporary, string scene
	QRLimitScene    ActionName = "QR_LIMIT_SCENE"     // permanent, integer scene
	QRLimitStrScene ActionName = "QR_LIMIT_STR_SCENE" // permanent, string scene
)

// Temporary reports whether codes of this action expire.
func (a ActionName) Temporary() bool { return a == QRScene || a == QRStrScene }

// strScene reports whether the action takes SceneStr (else SceneID).
func (a ActionName) strScene() bool { return a == QRStrScene || a == QRLimitStrScene }

// CreateQRCodeRequest is the body of qrcode/create.
type CreateQRCodeRequest struct {
	ActionName ActionName
	// SceneID is the integer scene of QR_SCENE (a non-zero 32-bit integer)
	// and QR_LIMIT_SCENE (1..100000).
	SceneID int64
	// SceneStr is the string scene of QR_STR_SCENE and QR_LIMIT_STR_SCENE,
	// 1..64 characters.
	SceneStr string
	// ExpireSeconds is the lifetime of a temporary code, at most 2592000
	// (30 days). 0 leaves it to WeChat, which makes it 60 s. Permanent codes
	// must leave it 0.
	ExpireSeconds int
}

// QRCodeTicket is what qrcode/create returns.
type QRCodeTicket struct {
	// Ticket exchanges for the image at showqrcode (see ShowQRCode).
	Ticket string `json:"ticket"`
	// ExpireSeconds is the code's lifetime; 0 for permanent codes.
	ExpireSeconds int `json:"expire_seconds"`
	// URL is the text the QR code encodes: any QR encoder can draw the code
	// from it.
	URL string `json:"url"`
}

type createQRCodeBody struct {
	ExpireSeconds int        `json:"expire_seconds,omitempty"`
	ActionName    ActionName `json:"action_name"`
	ActionInfo    struct {
		Scene struct {
			SceneID  int64  `json:"scene_id,omitempty"`
			SceneStr string `json:"scene_str,omitempty"`
		} `json:"scene"`
	} `json:"action_info"`
}

func (r *CreateQRCodeRequest) body() (*createQRCodeBody, error) {
	if r == nil {
		return nil, invalidRequest(opCreateQRCode, "nil request")
	}
	switch r.ActionName {
	case QRScene, QRStrScene, QRLimitScene, QRLimitStrScene:
	default:
		return nil, invalidRequest(opCreateQRCode, "unknown action name %q", r.ActionName)
	}
	switch {
	case r.ActionName.strScene() && (r.SceneStr == "" || r.SceneID != 0):
		return nil, invalidRequest(opCreateQRCode, "%s takes SceneStr and no SceneID", r.ActionName)
	case !r.ActionName.strScene() && (r.SceneID == 0 || r.SceneStr != ""):
		return nil, invalidRequest(opCreateQRCode, "%s takes a non-zero SceneID and no SceneStr", r.ActionName)
	case r.ExpireSeconds < 0:
		return nil, invalidRequest(opCreateQRCode, "negative ExpireSeconds %d", r.ExpireSeconds)
	case r.ExpireSeconds != 0 && !r.ActionName.Temporary():
		return nil, invalidRequest(opCreateQRCode, "ExpireSeconds is for temporary codes, not %s", r.ActionName)
	}
	b := &createQRCodeBody{ExpireSeconds: r.ExpireSeconds, ActionName: r.ActionName}
	b.ActionInfo.Scene.SceneID = r.SceneID
	b.ActionInfo.Scene.SceneStr = r.SceneStr
	return b, nil
}

// CreateQRCode creates an Official Account QR code with a scene and returns
// its ticket and the URL it encodes. Permanent codes spend one of the
// account's 100,000 (ErrTotalQuota beyond); every call spends one of the
// 100,000 a day (ErrDailyQuota). A request that breaks the obvious rules
// (unknown action, missing scene) fails with ErrBadRequest without a call.
//
// WeChat API docs: https://developers.weixin.qq.com/doc/offiaccount/en/Account_Management/Generating_a_Parametric_QR_Code.html
func (c *Client) CreateQRCode(ctx context.Context, req *CreateQRCodeRequest) (*QRCodeTicket, error) {
	body, err := req.body()
	if err != nil {
		return nil, err
	}
	var ticket *QRCodeTicket
	err = c.callAPI(ctx, opCreateQRCode, apiPaths[opCreateQRCode], body, func(r *response) error {
		var out struct {
			apiStatus
			QRCodeTicket
		}
		if err := decodeJSON(opCreateQRCode, r.body, &out); err != nil {
			return err
		}
		if out.Ticket == "" || out.URL == "" {
			return &failure{op: opCreateQRCode, msg: "response has no ticket or url"}
		}
		ticket = &out.QRCodeTicket
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ticket, nil
}

// ShowQRCode exchanges a ticket from CreateQRCode for the code's image
// (a JPEG). It needs no access token. An invalid or expired ticket is
// ErrTicketNotFound.
//
// WeChat API docs: https://developers.weixin.qq.com/doc/offiaccount/en/Account_Management/Generating_a_Parametric_QR_Code.html
func (c *Client) ShowQRCode(ctx context.Context, ticket string) (*Image, error) {
	if ticket == "" {
		return nil, invalidRequest(opShowQRCode, "empty ticket")
	}
	// Tickets are base64 ("+", "/", "="): escaped exactly once, or WeChat
	// answers 404.
	u := c.mpBase.ResolveReference(&url.URL{Path: "cgi-bin/showqrcode", RawQuery: "ticket=" + url.QueryEscape(ticket)})
	req, err := newRequest(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, &failure{op: opShowQRCode, msg: "build request", err: err}
	}
	rsp, err := c.http.do(ctx, opShowQRCode, req)
	if rsp != nil && rsp.status == http.StatusNotFound {
		return nil, &failure{op: opShowQRCode, class: ErrTicketNotFound, msg: "ticket " + abbreviate(ticket) + " not found (HTTP 404)"}
	}
	if err != nil {
		return nil, err
	}
	return decodeImage(opShowQRCode, rsp)
}

// abbreviate shortens a ticket (about 100 characters) for error messages.
func abbreviate(s string) string {
	const keep = 16
	if len(s) <= keep {
		return s
	}
	return s[:keep] + "..."
}
