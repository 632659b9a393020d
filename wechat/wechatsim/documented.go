package wechatsim

import (
	"math"
	"time"
)

// This file holds what WeChat documents about the APIs the simulator serves:
// field limits, quotas and who may call what. The values are the
// simulator's own, taken from WeChat's documentation (qrcode/create,
// createwxaqrcode, getwxacode, getwxacodeunlimit) and never from wxqr, so
// that the simulator is an oracle: a wrong limit in wxqr fails against it
// instead of agreeing with it. TestWxqrAgreesWithWeChat compares the two.

// AccountType is the type of a WeChat account, which decides the code APIs
// it may call (48001 for the others).
type AccountType string

// The account types.
const (
	// OfficialAccount (a verified Service Account) may call qrcode/create.
	OfficialAccount AccountType = "oa"
	// MiniProgram may call createwxaqrcode, getwxacode and getwxacodeunlimit.
	MiniProgram AccountType = "mp"
)

// callers is the account type that may call each code-making API.
var callers = map[string]AccountType{
	APICreateQRCode:        OfficialAccount,
	APICreateWxaQRCode:     MiniProgram,
	APIGetWxaCode:          MiniProgram,
	APIGetWxaCodeUnlimited: MiniProgram,
}

// qrcode/create's action names.
const (
	actionTempID   = "QR_SCENE"           // temporary, scene_id
	actionTempStr  = "QR_STR_SCENE"       // temporary, scene_str
	actionPermID   = "QR_LIMIT_SCENE"     // permanent, scene_id
	actionPermStr  = "QR_LIMIT_STR_SCENE" // permanent, scene_str
	maxTempSceneID = math.MaxUint32       // QR_SCENE: a non-zero 32-bit integer
	maxPermSceneID = 100000               // QR_LIMIT_SCENE: 1..100000
	maxSceneStrLen = 64                   // scene_str: 1..64 characters (40053 beyond)
	// maxExpireSeconds caps a temporary code's expire_seconds: 30 days.
	maxExpireSeconds = 2592000
	// defaultExpireSeconds is a temporary code's life when expire_seconds is
	// omitted: 60 s (older documents said 30 s; either is shorter than any
	// caller wants, so a caller must always send it).
	defaultExpireSeconds = 60
)

// The Mini Program code APIs' fields.
const (
	minWidth          = 280  // width, px
	maxWidth          = 1280 // width, px
	defaultWidth      = 430  // width when omitted (or 0)
	maxWxaQRPathLen   = 128  // createwxaqrcode path: 1..128 bytes (40159 beyond)
	maxWxaCodePathLen = 1024 // getwxacode path: 1..1024 bytes (40159 beyond)
	maxUnlimitedScene = 32   // getwxacodeunlimit scene: 1..32 characters (40169 beyond)
	// unlimitedScenePunct are the characters besides 0-9, A-Z and a-z that
	// getwxacodeunlimit's scene may hold (40129 for any other).
	unlimitedScenePunct = "!#$&'()*+,/:;=?@-._~"
	// defaultEnvVersion is the version a code opens when env_version is
	// left out.
	defaultEnvVersion = "release"
)

// envVersions are the versions env_version may name (40097 for others).
var envVersions = []string{"release", "trial", "develop"}

// styledAPIs are the APIs that document auto_color, line_color, is_hyaline
// and env_version; createwxaqrcode documents none of them.
var styledAPIs = map[string]bool{APIGetWxaCode: true, APIGetWxaCodeUnlimited: true}

// checkPathAPI is the one API that documents check_path.
const checkPathAPI = APIGetWxaCodeUnlimited

// The documented quotas: the defaults of Limits.
const (
	// permCodeCap is how many permanent qrcode/create codes (QR_LIMIT_SCENE
	// and QR_LIMIT_STR_SCENE together) an account may make, ever.
	permCodeCap = 100000
	// wxaCodeCap is how many createwxaqrcode and getwxacode codes together an
	// account may make, ever. getwxacodeunlimit has no such cap.
	wxaCodeCap = 100000
)

// wechatLimits are WeChat's documented limits: the defaults of Limits.
func wechatLimits() Limits {
	return Limits{
		PermCap:   permCodeCap,
		WxaCap:    wxaCodeCap,
		Daily:     map[string]int{APICreateQRCode: 100000, APIGetWxaCode: 10000},
		PerSecond: map[string]int{},
		PerMinute: map[string]int{APIGetWxaCodeUnlimited: 5000},
	}
}

// The errcodes the simulator answers with, each for the violation WeChat
// documents it for.
const (
	errSystemBusy     = -1
	errInvalidToken   = 40001 // unknown, superseded or invalidated
	errGrantType      = 40002
	errBadAppID       = 40013
	errMalformedToken = 40014
	errActionName     = 40052 // unknown action_name
	errActionInfo     = 40053 // scene_id or scene_str out of range
	errInvalidArgs    = 40097 // env_version or line_color
	errBadSecret      = 40125
	errSceneChars     = 40129 // a character getwxacodeunlimit's scene may not hold
	errPathLength     = 40159 // path empty or too long
	errSceneLength    = 40169 // getwxacodeunlimit's scene empty or too long
	errNoToken        = 41001
	errNoAppID        = 41002
	errNoSecret       = 41004
	errPage           = 41030 // getwxacodeunlimit's page: leading "/" or a query
	errTokenExpired   = 42001
	errRequireGET     = 43001
	errRequirePOST    = 43002
	errDailyQuota     = 45009
	errRateLimit      = 45011
	errTotalQuota     = 45029 // a lifetime cap is spent
	errDataFormat     = 47001 // the body is not JSON of the documented fields
	errUnauthorized   = 48001 // the account type may not call the API
	errIPWhitelist    = 40164 // never answered by itself: InjectFault only
	errScancodeTime   = 85096 // "scancode_time" in a path
)

// errmsgs are WeChat's messages for its errcodes.
var errmsgs = map[int]string{
	errSystemBusy:     "system error",
	errInvalidToken:   "invalid credential, access_token is invalid or not latest",
	errGrantType:      "invalid grant_type",
	errBadAppID:       "invalid appid",
	errMalformedToken: "invalid access_token",
	errActionName:     "invalid action name",
	errActionInfo:     "invalid action info, please check document",
	errInvalidArgs:    "invalid args",
	errBadSecret:      "invalid appsecret",
	errSceneChars:     "invalid scene",
	errPathLength:     "invalid length for path, or the data is not json string",
	errSceneLength:    "invalid length for scene, or the data is not json string",
	errNoToken:        "access_token missing",
	errNoAppID:        "appid missing",
	errNoSecret:       "appsecret missing",
	errPage:           "invalid page",
	errTokenExpired:   "access_token expired",
	errRequireGET:     "require GET method",
	errRequirePOST:    "require POST method",
	errDailyQuota:     "reach max api daily quota limit",
	errRateLimit:      "api minute-quota reach limit  mustslower  retry next minute",
	errTotalQuota:     "qrcode count out of limit",
	errDataFormat:     "data format error",
	errUnauthorized:   "api unauthorized",
	errIPWhitelist:    "invalid ip, not in whitelist",
	errScancodeTime:   "not allow include scancode_time field",
	errCGIPathFormat:  "invalid cgi_path",
	errCGIPathUnknown: "cgi_path not found, please check",
	errCGIPathDenied:  "could not use this cgi_path, no permission",
}

// openapi/quota/get, as WeChat documents it ("查询openAPI调用quota"),
// answers for the API at cgi_path the account's calls allowed today
// (daily_limit), made today (used) and left (remain), or one of these
// errcodes. The simulator knows the quotas of the code-making APIs only, so
// every other path, even one WeChat serves, is 76021 here. WeChat's own
// example answer is all zeros, and what it answers for an API without a
// daily quota is not documented: the simulator answers daily_limit 0 (and
// remain 0), which a client must read as "no daily limit stated", never as
// "nothing left". The tool's own quota, and the rate_limit object newer
// accounts get, are not modelled.
const (
	errCGIPathFormat  = 76003 // cgi_path lacks its leading "/" or carries the host
	errCGIPathUnknown = 76021 // cgi_path names no API
	errCGIPathDenied  = 76022 // the API belongs to another type of account
)

// Scan events, which WeChat pushes to an Official Account's server URL.
const (
	// pushTimeout is how long WeChat waits for the server's answer to a
	// push; then it drops the connection and sends the same push again.
	pushTimeout = 5 * time.Second
	// maxDeliveries is a push and its retries: WeChat documents "three
	// retries", read here as 3 after the first delivery, the most a
	// receiver must deduplicate.
	maxDeliveries = 4
	// subscribeKeyPrefix starts a subscribe's EventKey when the user
	// followed by scanning a code: qrscene_<scene>.
	subscribeKeyPrefix = "qrscene_"
)
