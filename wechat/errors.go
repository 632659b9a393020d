package wechat

import (
	"errors"
	"strconv"
)

// Sentinel errors, one per class of failure, for errors.Is. Every error the
// client returns for a WeChat failure matches at most one of them; ClassOf
// turns an error into the matching Class for a switch.
var (
	// ErrTransient: errcode -1 (system busy), HTTP 5xx, timeouts, connection
	// resets and truncated bodies. Retry with backoff.
	ErrTransient = errors.New("wechat: transient failure")
	// ErrToken: errcode 40001, 40014 or 42001, the access token was rejected.
	// The client has already refreshed the token and retried once.
	ErrToken = errors.New("wechat: access token rejected")
	// ErrMinuteLimit: errcode 45011, a per-minute limit. Wait for the next
	// minute; it is not a failure of the call's parameters.
	ErrMinuteLimit = errors.New("wechat: per-minute limit reached")
	// ErrDailyQuota: errcode 45009, the API's daily quota for the app is
	// spent until it resets at 00:00 China time.
	ErrDailyQuota = errors.New("wechat: daily quota reached")
	// ErrTotalQuota: errcode 45029, the account's lifetime quota for this
	// class of code (100,000) is spent, for good.
	ErrTotalQuota = errors.New("wechat: total quota reached")
	// ErrBadRequest: errcode 40052, 40053, 40097, 40129, 40159, 40169, 41030,
	// 47001, 76003, 76021 or 85096, or a request the client refused to send.
	// Never retry.
	ErrBadRequest = errors.New("wechat: bad request")
	// ErrAccount: errcode 40013 (invalid appid), 40125 (invalid appsecret),
	// 40164 (caller IP not whitelisted), 48001 (API not authorised for the
	// account) or 76022 (quota/get about another account type's API). An
	// operator must act; never retry.
	ErrAccount = errors.New("wechat: account cannot make this call")
	// ErrTicketNotFound: showqrcode answered 404, the ticket is invalid or
	// expired.
	ErrTicketNotFound = errors.New("wechat: ticket not found")
)

// ErrNotSent marks (alongside its class) a failure that certainly never
// reached WeChat: the access token could not be had, or the connection was
// never made (dial refused, DNS). WeChat counted nothing for such a call,
// so a caller may give back what it reserved for it (a daily budget).
var ErrNotSent = errors.New("wechat: request not sent")

// codeClasses maps WeChat errcodes to their class, as documented on
// https://developers.weixin.qq.com/doc/oplatform/en/Return_codes/Return_code_descriptions_new.html
// and on each API's page.
var codeClasses = map[int]error{
	-1:    ErrTransient,   // system busy
	40001: ErrToken,       // invalid credential, access_token is invalid or not latest
	40014: ErrToken,       // invalid access_token
	42001: ErrToken,       // access_token expired
	45011: ErrMinuteLimit, // api minute-quota reach limit
	45009: ErrDailyQuota,  // reach max api daily quota limit
	45029: ErrTotalQuota,  // qrcode count out of limit
	40052: ErrBadRequest,  // invalid action name
	40053: ErrBadRequest,  // invalid action info
	40097: ErrBadRequest,  // invalid args
	40129: ErrBadRequest,  // invalid scene
	40159: ErrBadRequest,  // invalid length for path
	40169: ErrBadRequest,  // invalid length for scene
	41030: ErrBadRequest,  // invalid page
	47001: ErrBadRequest,  // data format error (body is not JSON)
	85096: ErrBadRequest,  // scancode_time is reserved in path
	40013: ErrAccount,     // invalid appid
	40125: ErrAccount,     // invalid appsecret
	40164: ErrAccount,     // caller IP not in the whitelist
	48001: ErrAccount,     // api unauthorized
	76003: ErrBadRequest,  // openapi/quota/get: cgi_path without its leading "/", or with the host
	76021: ErrBadRequest,  // openapi/quota/get: cgi_path not found
	76022: ErrAccount,     // openapi/quota/get: no permission for cgi_path (another account type's API)
}

// APIError is a failure that WeChat reported with an errcode. Its class is
// given by errors.Is against the sentinels (or by ClassOf); an errcode that
// matches no class is still an *APIError, with its code, and ClassOf reports
// ClassUnknown.
type APIError struct {
	Op   string // the API called, e.g. "qrcode/create"
	Code int    // WeChat's errcode
	Msg  string // WeChat's errmsg
}

// Error returns "wechat: <op>: errcode <code>: <msg>".
func (e *APIError) Error() string {
	return "wechat: " + e.Op + ": errcode " + strconv.Itoa(e.Code) + ": " + e.Msg
}

// Is reports whether the errcode belongs to target's class.
func (e *APIError) Is(target error) bool {
	class, ok := codeClasses[e.Code]
	return ok && class == target
}

// failure is a classified error that WeChat did not report with an errcode:
// an HTTP status, a transport error, a malformed or truncated body, or a
// request the client refused to send.
type failure struct {
	op    string
	class error // one of the sentinels, or nil when unclassified
	msg   string
	err   error // the cause, if any; already free of secrets
	// notSent is set when the request certainly never reached WeChat
	// (see ErrNotSent).
	notSent bool
}

func (f *failure) Error() string {
	s := "wechat: " + f.op + ": " + f.msg
	if f.err != nil {
		s += ": " + f.err.Error()
	}
	return s
}

func (f *failure) Unwrap() []error {
	errs := make([]error, 0, 3)
	for _, e := range []error{f.class, f.err} {
		if e != nil {
			errs = append(errs, e)
		}
	}
	if f.notSent {
		errs = append(errs, ErrNotSent)
	}
	return errs
}

// Class is what a caller should do about an error; see ClassOf.
type Class int

// The classes, in the order a worker usually checks them.
const (
	ClassNone           Class = iota // no error
	ClassTransient                   // ErrTransient: retry with backoff
	ClassToken                       // ErrToken: retry later; the token was already refreshed once
	ClassMinuteLimit                 // ErrMinuteLimit: wait for the next minute; not a failure
	ClassDailyQuota                  // ErrDailyQuota: pause the API for the app until 00:00 China time
	ClassTotalQuota                  // ErrTotalQuota: pause the class of code for the app for good
	ClassBadRequest                  // ErrBadRequest: never retry; the request is wrong
	ClassAccount                     // ErrAccount: never retry; an operator must fix the app
	ClassTicketNotFound              // ErrTicketNotFound: the ticket is invalid or expired; create a new one
	ClassUnknown                     // anything else: an unknown errcode, an unexpected status, a cancelled ctx
)

var classSentinels = []struct {
	class Class
	err   error
}{
	{ClassTransient, ErrTransient},
	{ClassToken, ErrToken},
	{ClassMinuteLimit, ErrMinuteLimit},
	{ClassDailyQuota, ErrDailyQuota},
	{ClassTotalQuota, ErrTotalQuota},
	{ClassBadRequest, ErrBadRequest},
	{ClassAccount, ErrAccount},
	{ClassTicketNotFound, ErrTicketNotFound},
}

// ClassOf returns the class of err, so that a retry policy can switch on it:
//
//	switch wechat.ClassOf(err) {
//	case wechat.ClassNone:        // done
//	case wechat.ClassTransient:   // retry with backoff
//	case wechat.ClassMinuteLimit: // snooze to the next minute
//	...
//	}
//
// It returns ClassNone for a nil error and ClassUnknown for an error of no
// known class, including an *APIError with an unlisted errcode and the
// caller's own context being cancelled.
func ClassOf(err error) Class {
	if err == nil {
		return ClassNone
	}
	for _, s := range classSentinels {
		if errors.Is(err, s.err) {
			return s.class
		}
	}
	return ClassUnknown
}

// String returns the class's name in snake_case, for logs and metrics labels.
func (c Class) String() string {
	switch c {
	case ClassNone:
		return "none"
	case ClassTransient:
		return "transient"
	case ClassToken:
		return "token"
	case ClassMinuteLimit:
		return "minute_limit"
	case ClassDailyQuota:
		return "daily_quota"
	case ClassTotalQuota:
		return "total_quota"
	case ClassBadRequest:
		return "bad_request"
	case ClassAccount:
		return "account"
	case ClassTicketNotFound:
		return "ticket_not_found"
	default:
		return "unknown"
	}
}
