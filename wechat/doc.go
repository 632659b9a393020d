// Package wechat is a typed client for the WeChat APIs that make QR codes:
// Official Account codes with a scene (qrcode/create, then showqrcode for
// the image) and the three Mini Program code APIs (createwxaqrcode,
// getwxacode, getwxacodeunlimit), and openapi/quota/get, which reports an
// app's daily quota of any of them.
//
// A Client calls for one app. Its access tokens come from a TokenSource:
// NewStableTokenSource (the default choice) and NewClassicTokenSource fetch
// them with the app's secret and share them through Redis, so that a fleet
// of processes makes one token call per refresh; NewRedisKeyTokenSource and
// NewURLTokenSource read a token that another system keeps (a third-party
// platform's authorizer_access_token).
//
// Every failure is an error, classified for a retry policy: an errcode is an
// *APIError, and errors.Is against the Err* sentinels (or ClassOf) tells
// what to do about it:
//
//	class             errors                                  what to do
//	ErrTransient      -1, HTTP 5xx, timeouts, resets,         retry with backoff
//	                  truncated bodies
//	ErrToken          40001, 40014, 42001                     already retried once with a fresh token; retry later
//	ErrMinuteLimit    45011                                   wait for the next minute
//	ErrDailyQuota     45009                                   stop the API for the app until 00:00 China time
//	ErrTotalQuota     45029                                   stop the class of code for the app for good
//	ErrBadRequest     40052 40053 40097 40129 40159 40169     never retry; fix the request
//	                  41030 47001 76003 76021 85096
//	ErrAccount        40013 40125 40164 48001 76022           never retry; an operator must fix the app
//	ErrTicketNotFound showqrcode 404                          create a new ticket
//
// Access tokens and app secrets never appear in errors or logs: URLs in
// transport errors are redacted, as go-github does.
package wechat
