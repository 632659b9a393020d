// Package wechatsim is an in-process fake of the WeChat HTTP APIs that wxqr
// calls, for tests and demos. Start one in a line, point a client at URL(),
// and inspect what it saw:
//
//	sim := wechatsim.NewServer(wechatsim.Config{Apps: map[string]wechatsim.App{
//		"wx0123456789abcdef": {Secret: "s3cret", Type: wechatsim.OfficialAccount},
//	}})
//	defer sim.Close()
//
// It speaks the wire protocol only, so code that passes against it behaves
// the same against WeChat.
//
// It is an oracle, not a mirror: its field limits, quotas, errcodes and who
// may call what are its own, taken from WeChat's documentation
// (documented.go). A limit that drifts in wxqr is refused here instead of
// agreed with, and a test that may see both (TestWxqrAgreesWithWeChat)
// compares wxqr's constants, kinds and quota classes with them. It depends
// on nothing of wxqr but wechat/push, whose Seal signs and encrypts the
// scan events it pushes. That is a trade: push is the wire format, whose
// tests check it against openssl, but a receiver built on push meets here
// the same signing and encryption, not a second reading of WeChat's
// documentation. The messages themselves the simulator writes on its own,
// in WeChat's form.
//
// # What is modelled
//
//   - Access tokens. GET cgi-bin/token issues a new token on every call; the
//     previous ones keep working for Config.TokenGrace and then fail with
//     40001. POST cgi-bin/stable_token returns the same token while it has
//     more than the renewal window left (TokenGrace, at most half of
//     TokenTTL), then a new one that overlaps the old; expires_in is always
//     the truthful remainder. force_refresh kills the old stable tokens at
//     once and may be used 20 times a day, 30 s apart (45009, 45011). The two
//     kinds are separate sets. Credential errors: 40002, 41002, 40013, 41004,
//     40125. On API calls: 41001 (no token), 40014 (malformed), 40001
//     (unknown, superseded or invalidated), 42001 (expired).
//   - POST cgi-bin/qrcode/create: action names (40052), scenes (40053:
//     temporary scene_id 1..4294967295, permanent 1..100000, scene_str 1..64
//     characters), expire_seconds (omitted: 60; capped at 2,592,000),
//     Official Accounts only (48001). Permanent codes are answered without
//     expire_seconds, as WeChat does. Tickets are standard base64 with `+`,
//     `/` and padding. Limits.PermCap permanent scenes per app, ever
//     (default 100,000; 45029 beyond). A permanent scene created again
//     returns its first ticket and url and spends no other slot (WeChat's
//     documentation leaves that open).
//   - GET cgi-bin/showqrcode: no token; the ticket is URL-decoded exactly
//     once, so an unencoded or double-encoded ticket is unknown. Unknown and
//     expired tickets get HTTP 404; known ones a JPEG served as `image/jpg`
//     whose QR code holds the url returned at creation.
//   - Mini Program codes (wxaapp/createwxaqrcode, wxa/getwxacode,
//     wxa/getwxacodeunlimit), Mini Programs only (48001): path of 1..128
//     bytes for createwxaqrcode and 1..1024 for getwxacode (40159), no
//     scancode_time in it (85096); scene of 1..32 characters (40169) among
//     0-9 A-Z a-z !#$&'()*+,/:;=?@-._~ (40129); page without a leading "/"
//     or a query (41030); env_version and line_color (40097). Widths outside
//     280..1280 are clamped, 0 means 430. getwxacode and getwxacodeunlimit
//     draw their lines in line_color (black with auto_color, which
//     overrides it, or without one) and, with is_hyaline, on a transparent
//     background: a PNG as `image/png`. Every other code is JPEG bytes as
//     `image/jpeg`. JSON errors come with HTTP 200 and `application/json;
//     encoding=utf-8`. createwxaqrcode and getwxacode share Limits.WxaCap
//     (default 100,000 per app, ever; 45029 beyond); the same API, path,
//     width and look (colour, background, env_version) again spends no
//     other slot. The used count is sent in a Num-Used header.
//     getwxacodeunlimit has no such cap.
//   - POST cgi-bin/openapi/quota/get: for the cgi_path of a code-making API,
//     the app's daily_limit, used and remain from the same counters and
//     Limits.Daily that answer 45009 (daily_limit 0 for an API without a
//     daily quota); 76021 for any other path, 76022 for an API of the other
//     account type, 76003 for a path without its leading "/". It spends no
//     quota itself.
//   - Every request body must be JSON that fits the documented fields
//     (47001); wrong methods get 43001 / 43002.
//   - Limits per app and API (SetLimits, at any time), by default WeChat's:
//     daily quotas (45009: qrcode/create 100,000, getwxacode 10,000) reset
//     at 00:00 Asia/Shanghai; per-second and per-minute limits (45011:
//     getwxacodeunlimit 5,000 a minute) count calls in clock-aligned
//     windows. Every call that passes the token and account-type checks
//     counts, whatever its outcome.
//   - Faults on every endpoint, showqrcode and the token endpoints
//     included: errcode -1, HTTP 500, connection resets, truncated bodies,
//     latency, JSON errors served as text/plain, any errcode. InjectFault
//     queues them for the next calls of an API; SetFaultRates makes a share
//     of its calls fail at random, reproducibly for a Config.FaultSeed.
//   - Inspection, by API (the names APIToken ... APIQuotaGet):
//     Calls, CallsByErrcode, Faults (calls that suffered each kind of
//     fault), Usage (per app: codes made, temporary ones, and those counted
//     against a lifetime cap), CodesMade (successful code-making calls per
//     code, with the styling and version each was asked for), CodesCutShort
//     (those whose answer was truncated), TokensIssued,
//     Tokens (every token issued) and Tickets (the codes a scan may name).
//   - Scan events (PushScan): subscribe, SCAN and unsubscribe pushed to an
//     Official Account's server URL as WeChat pushes them: a POST of the
//     XML message (CDATA sections, CreateTime in Unix seconds) with
//     signature, timestamp, nonce and openid in the query; in safe mode
//     (an AESKey) the message encrypted in <Encrypt> and encrypt_type=aes
//     and msg_signature added. The EventKey comes from the ticket's code
//     (qrscene_<scene> on subscribe, <scene> on SCAN), for the tickets it
//     issued (Tickets) and that were live at the event's time; a Scene
//     override stands for codes made elsewhere. WeChat's retries are
//     repeated deliveries of the same push (same body and signature), up
//     to 4, each abandoned after 5 s. Forged pushes (BadSignature) test
//     that receivers check.
//   - Time comes from Config.Now, so tests can move a fake clock across
//     token expiries, ticket expiries and midnights.
//
// # What is not emulated
//
//   - Mini Program codes are plain QR codes of WxaContent, not WeChat's round
//     "sun" codes. auto_color picks no colour of the Mini Program's (there is
//     none): it draws black. env_version is recorded but opens nothing else:
//     a trial code holds the same content as the release one. check_path
//     never fails (every page exists).
//   - Users: PushScan pushes the event it is told to and keeps no follow
//     state, so a SCAN from a user who never followed is pushed as asked.
//     Nothing is pushed on its own, retries are not decided by the
//     answers (Push.Deliveries says how many), replies are returned, not
//     shown to a user, and no other message or event (text, location,
//     menu clicks) is pushed. Compatible mode, which adds the plain fields
//     beside <Encrypt>, is not sent.
//   - clear_quota, quota/get's own limits and its rate_limit object,
//     third-party platform authorizer tokens, IP allow-lists (inject errcode
//     40164 instead), and every API wxqr does not call.
//   - The token endpoints' own quotas (2,000 cgi-bin/token calls a day;
//     stable_token's per-minute and daily ones): only force_refresh is
//     limited.
//   - Account types beyond two: an OfficialAccount is a verified Service
//     Account; subscription and unverified accounts, which WeChat refuses
//     qrcode/create with 48001, do not exist here.
//   - HTTPS and the two separate hosts: one plain-HTTP server answers both
//     the API paths and showqrcode.
//   - Persistence: state lives in memory and dies with the Server. Tokens,
//     permanent codes and the counts of CodesMade are never forgotten, so a
//     simulator's memory grows with the codes it makes.
package wechatsim
