package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/wechat/push"
)

// App is one WeChat app wxqr makes codes for.
//
// Printing an App (any fmt verb), marshalling it to JSON or logging it never
// shows Secret, the callback token or the callback keys.
type App struct {
	// AppID is WeChat's appid. Letters, digits, '_' and '-' only: it names
	// queues ("{app_id}.{class}") and storage keys.
	AppID string
	// Secret is the appsecret; required unless Token is external (redis or
	// url), which wxqr never refreshes itself.
	Secret string
	// Type is the account type: wxqr.AppOA or wxqr.AppMP.
	Type wxqr.AppType
	// Token says where the app's access token comes from; default stable.
	Token TokenSource
	// Callback is how the callback server takes the app's pushes; the zero
	// value (the default) takes none.
	Callback Callback
}

// Callback is an app's server configuration at WeChat, as the callback
// server needs it to receive the app's pushes at /wechat/{app_id}. Set only
// from a WXQR_APPS file.
type Callback struct {
	// Token is the token of the server configuration (callback_token).
	// Empty (the default): the callback server takes no push for the app.
	Token string
	// AESKey is the EncodingAESKey, 43 letters and digits, for safe and
	// compatible modes (callback_aes_key). Optional; needs Token.
	AESKey string
	// PreviousAESKey is the key AESKey replaced, still tried for the pushes
	// sent before WeChat switched (callback_aes_key_previous). Optional;
	// needs AESKey.
	PreviousAESKey string
	// Forward is the http(s) URL of the account's existing server, to which
	// every push is passed on and whose answer is relayed (callback_forward).
	// Optional; needs Token.
	Forward string
}

// String describes the callback without its token or keys: "off", "plain",
// "aes" or "aes+previous", then the forward URL without credentials or
// query.
func (c Callback) String() string {
	mode := "off"
	switch {
	case c.PreviousAESKey != "":
		mode = "aes+previous"
	case c.AESKey != "":
		mode = "aes"
	case c.Token != "":
		mode = "plain"
	}
	if c.Forward == "" {
		return mode
	}
	return mode + ", forward " + forwardDisplay(c.Forward)
}

// GoString is String: %#v must not print the token or keys either.
func (c Callback) GoString() string { return "config.Callback{" + c.String() + "}" }

// Format prints String for every verb (see App.Format).
func (c Callback) Format(f fmt.State, verb rune) { formatSafe(f, verb, c) }

// MarshalJSON writes String, a JSON string.
func (c Callback) MarshalJSON() ([]byte, error) { return json.Marshal(c.String()) }

// forwardDisplay is a forward URL as it may be shown.
func forwardDisplay(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid)"
	}
	return displayURL(u)
}

// TokenSourceKind names where an app's access token comes from.
type TokenSourceKind string

// The token sources.
const (
	// TokenStable: cgi-bin/stable_token in normal mode (the default).
	TokenStable TokenSourceKind = "stable"
	// TokenClassic: cgi-bin/token.
	TokenClassic TokenSourceKind = "classic"
	// TokenRedis: read from a Redis key that something else keeps fresh.
	TokenRedis TokenSourceKind = "redis"
	// TokenURL: fetched from a URL that something else serves.
	TokenURL TokenSourceKind = "url"
)

// TokenSource is a parsed token_source: "stable" (default), "classic",
// "redis:<key>" or "url:<url>".
type TokenSource struct {
	Kind TokenSourceKind
	// Ref is the Redis key (TokenRedis) or the URL (TokenURL); empty
	// otherwise.
	Ref string
}

// External reports whether the token comes from outside wxqr, so that the
// app needs no secret.
func (t TokenSource) External() bool { return t.Kind == TokenRedis || t.Kind == TokenURL }

// String returns the token source as written in configuration, except that a
// URL shows no credentials and no query.
func (t TokenSource) String() string {
	switch t.Kind {
	case TokenRedis:
		return "redis:" + t.Ref
	case TokenURL:
		if u, err := url.Parse(t.Ref); err == nil {
			return "url:" + displayURL(u)
		}
		return "url:(invalid)"
	default:
		return string(t.Kind)
	}
}

// ParseTokenSource parses a token_source value; "" means stable.
func ParseTokenSource(s string) (TokenSource, error) {
	kind, ref, _ := strings.Cut(s, ":")
	switch TokenSourceKind(kind) {
	case "", TokenStable, TokenClassic:
		if ref != "" {
			return TokenSource{}, errors.New("stable and classic take no argument")
		}
		if kind == "" {
			kind = string(TokenStable)
		}
		return TokenSource{Kind: TokenSourceKind(kind)}, nil
	case TokenRedis:
		if ref == "" {
			return TokenSource{}, errors.New(`want "redis:<key>"`)
		}
		return TokenSource{Kind: TokenRedis, Ref: ref}, nil
	case TokenURL:
		u, err := url.Parse(ref)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			// The URL is not quoted: it may carry a key.
			return TokenSource{}, errors.New(`want "url:<http(s) URL>"`)
		}
		return TokenSource{Kind: TokenURL, Ref: ref}, nil
	default:
		// Not quoted: a secret put in the wrong field would be.
		return TokenSource{}, errors.New(`want stable, classic, redis:<key> or url:<url>`)
	}
}

const redacted = "[redacted]"

// String describes the app without its secrets: "wx123 (oa, token:
// stable)", and with a callback "wx123 (oa, token: stable, callback: aes,
// forward https://bot.example/wechat)".
func (a App) String() string {
	if a.Callback == (Callback{}) {
		return fmt.Sprintf("%s (%s, token: %s)", a.AppID, a.Type, a.Token)
	}
	return fmt.Sprintf("%s (%s, token: %s, callback: %s)", a.AppID, a.Type, a.Token, a.Callback)
}

// GoString is String: %#v must not print the secret either.
func (a App) GoString() string { return "config.App{" + a.String() + "}" }

// Format prints String for every verb, so that no verb (%d, %x, ...) falls
// back to printing the struct's fields.
func (a App) Format(f fmt.State, verb rune) { formatSafe(f, verb, a) }

// safeStringer is a value whose String and GoString show no secret.
type safeStringer interface {
	fmt.Stringer
	fmt.GoStringer
}

// formatSafe prints v's GoString for %#v and its String for every other
// verb.
func formatSafe(f fmt.State, verb rune, v safeStringer) {
	if verb == 'v' && f.Flag('#') {
		io.WriteString(f, v.GoString())
		return
	}
	io.WriteString(f, v.String())
}

// MarshalJSON writes the app with its secret, callback token and keys
// redacted, and the forward URL without credentials or query.
func (a App) MarshalJSON() ([]byte, error) {
	e := appJSON{
		AppID: a.AppID, Secret: redact(a.Secret), Kind: string(a.Type), TokenSource: a.Token.String(),
		CallbackToken:          redact(a.Callback.Token),
		CallbackAESKey:         redact(a.Callback.AESKey),
		CallbackAESKeyPrevious: redact(a.Callback.PreviousAESKey),
	}
	if a.Callback.Forward != "" {
		e.CallbackForward = forwardDisplay(a.Callback.Forward)
	}
	return json.Marshal(e)
}

// redact is what shows of a secret: nothing when there is none.
func redact(secret string) string {
	if secret == "" {
		return ""
	}
	return redacted
}

// appJSON is an entry of a WXQR_APPS file.
type appJSON struct {
	AppID                  string `json:"app_id"`
	Secret                 string `json:"secret,omitempty"`
	Kind                   string `json:"kind"`
	TokenSource            string `json:"token_source,omitempty"`
	CallbackToken          string `json:"callback_token,omitempty"`
	CallbackAESKey         string `json:"callback_aes_key,omitempty"`
	CallbackAESKeyPrevious string `json:"callback_aes_key_previous,omitempty"`
	CallbackForward        string `json:"callback_forward,omitempty"`
}

// Apps are the configured apps, in configuration order, each app id once.
type Apps []App

// Get returns the app with id appID.
func (as Apps) Get(appID string) (App, bool) {
	for _, a := range as {
		if a.AppID == appID {
			return a, true
		}
	}
	return App{}, false
}

// LoadApps parses a WXQR_APPS value: "" (no apps), comma-separated
// "appid:secret:kind" entries (kind oa or mp; the token source is stable), or
// "@path" naming a JSON file holding an array of
// {"app_id", "secret", "kind", "token_source"} objects, each with optional
// "callback_token", "callback_aes_key", "callback_aes_key_previous" and
// "callback_forward" (see Callback). readFile reads that file (os.ReadFile).
//
// Errors name the entry by position (1-based), the field and the rule, and
// quote no value of an entry: a field swapped with the secret (the secret
// where the kind or the app id goes) would be printed otherwise. An app id
// that looks like an appsecret (32 hexadecimal digits, as WeChat issues them)
// is refused, so that "secret:appid:kind" cannot pass for a valid entry and
// put the secret in queue names, storage keys and logs.
func LoadApps(s string, readFile func(string) ([]byte, error)) (Apps, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return nil, nil
	case strings.HasPrefix(s, "@"):
		path := s[1:]
		data, err := readFile(path)
		if err != nil {
			return nil, fmt.Errorf("read apps file: %w", err)
		}
		apps, err := parseAppsJSON(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return apps, nil
	default:
		return parseAppsList(s)
	}
}

func parseAppsList(s string) (Apps, error) {
	var apps Apps
	var positions []int
	var errs []error
	for i, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue // a trailing or doubled comma
		}
		// appid:secret:kind, split at the first and last colon so that the
		// secret is whatever lies between.
		first, last := strings.Index(entry, ":"), strings.LastIndex(entry, ":")
		if first < 0 || first == last {
			errs = append(errs, fmt.Errorf("entry %d: want appid:secret:kind", i+1))
			continue
		}
		app, err := newApp(entry[:first], entry[first+1:last], entry[last+1:], "")
		if err != nil {
			errs = append(errs, fmt.Errorf("entry %d: %w", i+1, err))
			continue
		}
		apps = append(apps, app)
		positions = append(positions, i+1)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return apps, duplicates(apps, positions)
}

func parseAppsJSON(data []byte) (Apps, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, jsonError("want a JSON array of apps", err)
	}
	var apps Apps
	var positions []int
	var errs []error
	for i, r := range raw {
		var e appJSON
		dec := json.NewDecoder(bytes.NewReader(r))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			errs = append(errs, fmt.Errorf("entry %d: %w", i+1, jsonError("want an object with app_id, secret, kind, token_source and the callback_* fields", err)))
			continue
		}
		app, err := newApp(e.AppID, e.Secret, e.Kind, e.TokenSource)
		if err == nil {
			app.Callback, err = newCallback(app.AppID, e)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("entry %d: %w", i+1, err))
			continue
		}
		apps = append(apps, app)
		positions = append(positions, i+1)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return apps, duplicates(apps, positions)
}

// jsonError keeps what encoding/json says about structure (unknown field,
// wrong type) but drops syntax errors' text, which can quote the input.
func jsonError(want string, err error) error {
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) {
		return fmt.Errorf("invalid JSON at byte %d: %s", syntax.Offset, want)
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		return fmt.Errorf("%s: wrong JSON type %s: %s", typ.Field, typ.Value, want)
	}
	if strings.HasPrefix(err.Error(), "json: unknown field ") {
		return fmt.Errorf("%s: %s", strings.TrimPrefix(err.Error(), "json: "), want)
	}
	return fmt.Errorf("invalid JSON: %s", want)
}

func newApp(appID, secret, kind, tokenSource string) (App, error) {
	app := App{AppID: strings.TrimSpace(appID), Secret: strings.TrimSpace(secret), Type: wxqr.AppType(strings.TrimSpace(kind))}
	if app.AppID == "" {
		return App{}, errors.New("app_id: is required")
	}
	if i := strings.IndexFunc(app.AppID, func(r rune) bool { return !isAppIDRune(r) }); i >= 0 {
		return App{}, errors.New("app_id: only letters, digits, '_' and '-' are allowed")
	}
	if looksLikeAppSecret(app.AppID) {
		return App{}, errors.New("app_id: looks like an appsecret (32 hexadecimal digits): want appid:secret:kind, in that order")
	}
	if app.Type != wxqr.AppOA && app.Type != wxqr.AppMP {
		return App{}, errors.New("kind: want oa or mp")
	}
	var err error
	if app.Token, err = ParseTokenSource(strings.TrimSpace(tokenSource)); err != nil {
		return App{}, fmt.Errorf("token_source: %w", err)
	}
	if app.Secret == "" && !app.Token.External() {
		return App{}, fmt.Errorf("secret: is required with token source %s", app.Token.Kind)
	}
	return app, nil
}

// newCallback checks an entry's callback_* fields. Its errors quote no
// value: each is a secret or, for the forward URL, may carry one.
func newCallback(appID string, e appJSON) (Callback, error) {
	c := Callback{
		Token:          strings.TrimSpace(e.CallbackToken),
		AESKey:         strings.TrimSpace(e.CallbackAESKey),
		PreviousAESKey: strings.TrimSpace(e.CallbackAESKeyPrevious),
		Forward:        strings.TrimSpace(e.CallbackForward),
	}
	if c.Token == "" && c != (Callback{}) {
		return Callback{}, errors.New("callback_token: is required with callback_aes_key, callback_aes_key_previous or callback_forward")
	}
	if c.PreviousAESKey != "" && c.AESKey == "" {
		return Callback{}, errors.New("callback_aes_key_previous: needs callback_aes_key (the current key)")
	}
	for _, k := range []struct{ field, value string }{{"callback_aes_key", c.AESKey}, {"callback_aes_key_previous", c.PreviousAESKey}} {
		if k.value == "" {
			continue
		}
		// The codec the callback server will build is the judge of a key.
		if _, err := push.New(push.Config{AppID: appID, Token: c.Token, AESKey: k.value}); err != nil {
			return Callback{}, fmt.Errorf("%s: want the 43-character EncodingAESKey (letters and digits)", k.field)
		}
	}
	if c.Forward != "" {
		u, err := url.Parse(c.Forward)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" {
			return Callback{}, errors.New("callback_forward: want an http(s) URL without a fragment")
		}
	}
	return c, nil
}

// looksLikeAppSecret reports whether s has the shape of a WeChat appsecret:
// 32 hexadecimal digits. (An appid is "wx" and 16 of them.)
func looksLikeAppSecret(s string) bool {
	if len(s) != 32 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F') {
			return false
		}
	}
	return true
}

func isAppIDRune(r rune) bool {
	return r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_' || r == '-'
}

// duplicates rejects an app id configured twice; positions[i] is the entry
// number of apps[i]. The app id is not quoted: it may be a misplaced secret.
func duplicates(apps Apps, positions []int) error {
	seen := make(map[string]int, len(apps))
	for i, a := range apps {
		if first, ok := seen[a.AppID]; ok {
			return fmt.Errorf("entry %d: app_id: is already configured by entry %d", positions[i], first)
		}
		seen[a.AppID] = positions[i]
	}
	return nil
}
