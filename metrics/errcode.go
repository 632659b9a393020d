package metrics

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"strconv"

	"github.com/wxqr/wxqr/wechat"
)

// ErrcodeLabel is the errcode label of a WeChat call that returned err:
//
//	"0"          no error
//	"<errcode>"  WeChat answered with an errcode (a *wechat.APIError)
//	"http_404"   showqrcode did not know the ticket (wechat.ErrTicketNotFound)
//	"canceled"   the caller's context ended first
//	"transport"  the request or its response failed on the way (connection, timeout, DNS, body cut short)
//	"http_5xx"   any other transient failure: WeChat answered with a 5xx status
//	"other"      anything else (an unexpected status, a malformed body)
func ErrcodeLabel(err error) string {
	if err == nil {
		return "0"
	}
	var apiErr *wechat.APIError
	if errors.As(err, &apiErr) {
		return strconv.Itoa(apiErr.Code)
	}
	var (
		urlErr *url.Error
		netErr net.Error
	)
	switch {
	case errors.Is(err, wechat.ErrTicketNotFound):
		return "http_404"
	case !errors.Is(err, wechat.ErrTransient) &&
		(errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)):
		return "canceled"
	case errors.As(err, &urlErr), errors.As(err, &netErr), errors.Is(err, io.ErrUnexpectedEOF):
		return "transport"
	case errors.Is(err, wechat.ErrTransient):
		return "http_5xx"
	default:
		return "other"
	}
}
