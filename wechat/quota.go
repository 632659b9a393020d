package wechat

import (
	"context"
	"strings"
)

// opQuotaGet names openapi/quota/get in errors and logs.
const opQuotaGet = "openapi/quota/get"

// apiPaths are the paths, under the API host, of the APIs the client calls
// with an access token, by operation name. The operation names of the
// code-making APIs are also wxqr's API names (wxqr.Kind.API).
var apiPaths = map[string]string{
	opCreateQRCode:        "cgi-bin/qrcode/create",
	opCreateWxaQRCode:     "cgi-bin/wxaapp/createwxaqrcode",
	opGetWxaCode:          "wxa/getwxacode",
	opGetWxaCodeUnlimited: "wxa/getwxacodeunlimit",
	opQuotaGet:            "cgi-bin/openapi/quota/get",
}

// CGIPath returns the cgi_path by which QuotaGet asks about the API named
// api ("qrcode/create", "wxa/getwxacode": wxqr.Kind.API's names), and
// false for an API the client does not call.
func CGIPath(api string) (string, bool) {
	p, ok := apiPaths[api]
	if !ok || api == opQuotaGet {
		return "", false
	}
	return "/" + p, true
}

// QuotaGetRequest is the body of openapi/quota/get.
type QuotaGetRequest struct {
	// CGIPath is the path of the API asked about, from the host's root,
	// without the host: "/cgi-bin/qrcode/create" (see CGIPath). Required.
	CGIPath string `json:"cgi_path"`
}

// Quota is an app's daily quota of one API, as WeChat counts it: its calls
// from every system that uses the app, not only wxqr's.
type Quota struct {
	// DailyLimit is how many calls the app may make today. 0 means WeChat
	// states no daily limit for the API (see Limited), not that none is
	// left.
	DailyLimit int64 `json:"daily_limit"`
	// Used is how many calls the app made today (since 00:00 China time).
	Used int64 `json:"used"`
	// Remain is how many calls the app may still make today.
	Remain int64 `json:"remain"`
}

// Limited reports whether WeChat states a daily limit for the API. WeChat
// documents no answer for an API without one; a DailyLimit of 0 is read as
// none stated, so that an unexpected zero never reads as a quota spent.
func (q *Quota) Limited() bool { return q.DailyLimit > 0 }

// QuotaGet returns the app's daily quota of the API at req.CGIPath: what
// it may call today, has called and has left. It spends none of the code
// APIs' quotas. An account that may not ask, or may not ask about that API,
// gets an error: 48001 (ErrAccount); 76022, an API of another type of
// account (ErrAccount); 76021, a path WeChat does not know (ErrBadRequest);
// 76003, a path without its leading "/" or with the host (ErrBadRequest,
// refused without a call when the client sees it). Callers that only
// estimate should treat any of them as "quota unknown".
//
// WeChat API docs: https://developers.weixin.qq.com/doc/oplatform/en/openApi/OpenApiDoc/openapi/getApiQuota.html
func (c *Client) QuotaGet(ctx context.Context, req *QuotaGetRequest) (*Quota, error) {
	if req == nil || !strings.HasPrefix(req.CGIPath, "/") {
		return nil, invalidRequest(opQuotaGet, "CGIPath must be a path from the host's root, such as /cgi-bin/qrcode/create")
	}
	var quota *Quota
	err := c.callAPI(ctx, opQuotaGet, apiPaths[opQuotaGet], req, func(r *response) error {
		var out struct {
			apiStatus
			Quota *Quota `json:"quota"`
		}
		if err := decodeJSON(opQuotaGet, r.body, &out); err != nil {
			return err
		}
		if out.Quota == nil {
			return &failure{op: opQuotaGet, msg: "response has no quota"}
		}
		quota = out.Quota
		return nil
	})
	if err != nil {
		return nil, err
	}
	return quota, nil
}
