// Package wxqr is the domain of wxqr: what a WeChat QR code is, how it is
// identified, which quota it spends and where its image lives.
//
// Everything else (the WeChat client, the queues, the catalog, the object
// stores) is an adapter in its own package; they all speak in the types
// defined here.
package wxqr

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Kind is the kind of code, and so the WeChat API that makes it.
type Kind string

// The kinds wxqr generates. The strings are stable: they appear in campaign
// files, task payloads, storage keys and exports.
const (
	KindOATemp       Kind = "oa_temp"       // temporary OA code: QR_SCENE / QR_STR_SCENE
	KindOAPerm       Kind = "oa_perm"       // permanent OA code: QR_LIMIT_SCENE / QR_LIMIT_STR_SCENE
	KindWxaQRCode    Kind = "wxa_qrcode"    // Mini Program wxaapp/createwxaqrcode
	KindWxaCode      Kind = "wxa_code"      // Mini Program wxa/getwxacode
	KindWxaUnlimited Kind = "wxa_unlimited" // Mini Program wxa/getwxacodeunlimit
)

// Kinds lists every kind, in the order they are documented.
var Kinds = []Kind{KindOATemp, KindOAPerm, KindWxaQRCode, KindWxaCode, KindWxaUnlimited}

// ParseKind returns the kind named s, or an error listing the known kinds.
func ParseKind(s string) (Kind, error) {
	for _, k := range Kinds {
		if string(k) == s {
			return k, nil
		}
	}
	names := make([]string, len(Kinds))
	for i, k := range Kinds {
		names[i] = string(k)
	}
	return "", fmt.Errorf("unknown kind %q (want one of %s)", s, strings.Join(names, ", "))
}

// AppType is the type of WeChat account an app is: an Official Account or a
// Mini Program. It decides which kinds the app can make.
type AppType string

// The two app types, as written in WXQR_APPS.
const (
	AppOA AppType = "oa"
	AppMP AppType = "mp"
)

// AppType returns the type of account that can make codes of kind k.
func (k Kind) AppType() AppType {
	switch k {
	case KindOATemp, KindOAPerm:
		return AppOA
	default:
		return AppMP
	}
}

// Temporary reports whether codes of kind k expire (and so are regenerated).
func (k Kind) Temporary() bool { return k == KindOATemp }

// QuotaClass groups the kinds that spend one WeChat quota. It is the unit
// that a quota error pauses: one class of one app, never more.
type QuotaClass string

// The quota classes.
const (
	// ClassOATemp: qrcode/create for temporary codes; 100,000 calls a day.
	ClassOATemp QuotaClass = "oa_temp"
	// ClassOAPerm: permanent OA codes; 100,000 per account, ever.
	ClassOAPerm QuotaClass = "oa_perm"
	// ClassWxaLimited: createwxaqrcode and getwxacode share 100,000 codes per
	// account, ever.
	ClassWxaLimited QuotaClass = "wxa_limited"
	// ClassWxaUnlimited: getwxacodeunlimit; no lifetime cap.
	ClassWxaUnlimited QuotaClass = "wxa_unlimited"
)

// Class returns the quota class that codes of kind k spend.
func (k Kind) Class() QuotaClass {
	switch k {
	case KindOATemp:
		return ClassOATemp
	case KindOAPerm:
		return ClassOAPerm
	case KindWxaQRCode, KindWxaCode:
		return ClassWxaLimited
	default:
		return ClassWxaUnlimited
	}
}

// QuotaClasses lists every quota class.
var QuotaClasses = []QuotaClass{ClassOATemp, ClassOAPerm, ClassWxaLimited, ClassWxaUnlimited}

// ParseQuotaClass returns the quota class named s; ok is false for any other
// name.
func ParseQuotaClass(s string) (c QuotaClass, ok bool) {
	for _, c := range QuotaClasses {
		if string(c) == s {
			return c, true
		}
	}
	return "", false
}

// Lifetime reports whether the class spends a lifetime (100,000 ever) quota.
func (c QuotaClass) Lifetime() bool { return c == ClassOAPerm || c == ClassWxaLimited }

// Classes returns the quota classes an app of type t spends.
func (t AppType) Classes() []QuotaClass {
	if t == AppOA {
		return []QuotaClass{ClassOATemp, ClassOAPerm}
	}
	return []QuotaClass{ClassWxaLimited, ClassWxaUnlimited}
}

// API names the WeChat endpoint that creates codes of kind k. Rate limits and
// daily budgets are kept per app and API.
func (k Kind) API() string {
	switch k {
	case KindOATemp, KindOAPerm:
		return "qrcode/create"
	case KindWxaQRCode:
		return "wxaapp/createwxaqrcode"
	case KindWxaCode:
		return "wxa/getwxacode"
	default:
		return "wxa/getwxacodeunlimit"
	}
}

// WeChat's limits on code parameters, as documented.
const (
	MaxTempExpire     = 30 * 24 * time.Hour // 2,592,000 s
	DefaultTempExpire = 30 * 24 * time.Hour // wxqr's default: the longest WeChat allows
	MaxPermSceneID    = 100000
	MaxSceneStrLen    = 64
	MaxWxaQRPathLen   = 128  // createwxaqrcode
	MaxWxaCodePathLen = 1024 // getwxacode
	MaxUnlimitedScene = 32   // getwxacodeunlimit
	MinWidth          = 280
	MaxWidth          = 1280
	DefaultWidth      = 430
)

// Spec is what identifies a code: everything that changes the image WeChat
// makes. Two Specs with the same ID are the same code, and wxqr makes each
// code once (and regenerates temporary ones).
//
// For wxa_unlimited, SceneStr is the `scene` and Path the `page`.
//
// The styling fields (AutoColor to CheckPath) are for wxa_code and
// wxa_unlimited only (see style.go); their zero values are WeChat's
// defaults.
type Spec struct {
	Kind     Kind   `json:"kind"`
	AppID    string `json:"app_id"`
	SceneID  int64  `json:"scene_id,omitempty"`
	SceneStr string `json:"scene_str,omitempty"`
	Path     string `json:"path,omitempty"`
	Width    int    `json:"width,omitempty"` // Mini Program kinds only; 0 means DefaultWidth
	// AutoColor lets WeChat pick the line colour.
	AutoColor bool `json:"auto_color,omitempty"`
	// LineColor is the line colour, "#RRGGBB" or "r,g,b" (normalised to
	// "#rrggbb"); empty is black. Not with AutoColor, which WeChat lets
	// override it.
	LineColor string `json:"line_color,omitempty"`
	// IsHyaline asks for a transparent background: the image is a PNG.
	IsHyaline bool `json:"is_hyaline,omitempty"`
	// EnvVersion is the version the code opens; empty is EnvRelease.
	EnvVersion EnvVersion `json:"env_version,omitempty"`
	// CheckPath, wxa_unlimited only: BoolFalse lets Path be a page that is
	// not published yet; unset is WeChat's default, true.
	CheckPath OptionalBool `json:"check_path,omitempty"`
}

// Normalize returns s with defaults filled in, so that equivalent specs have
// one form (and one ID).
func (s Spec) Normalize() Spec {
	if s.Kind.AppType() == AppMP {
		if s.Width == 0 {
			s.Width = DefaultWidth
		}
	} else {
		s.Width = 0
	}
	s.normalizeStyle()
	return s
}

// ID is the code's stable identity: a hash of the normalised spec. Task ids,
// catalog records and staged results are keyed by it. Styling is hashed
// only when it differs from WeChat's default, so that an unstyled code has
// the id it had before styling existed.
func (s Spec) ID() string {
	s = s.Normalize()
	h := sha256.New()
	fields := []string{"v1", string(s.Kind), s.AppID, strconv.FormatInt(s.SceneID, 10), s.SceneStr, s.Path, strconv.Itoa(s.Width)}
	// Length-prefixed fields: no two different specs hash the same input.
	for _, f := range append(fields, s.styleIDFields()...) {
		fmt.Fprintf(h, "%d:%s;", len(f), f)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// Scene returns the scene as text: the string scene if there is one, else the
// numeric one.
func (s Spec) Scene() string {
	if s.SceneStr != "" {
		return s.SceneStr
	}
	if s.SceneID != 0 {
		return strconv.FormatInt(s.SceneID, 10)
	}
	return ""
}

// SceneSpecs returns the specs of the Official Account codes of app that a
// scan event's scene may name: temporary or permanent, and, as WeChat
// pushes a numeric scene_id in decimal, a scene_str or (for a number) a
// scene_id.
func SceneSpecs(app, scene string) []Spec {
	n, err := strconv.ParseInt(scene, 10, 64)
	isID := err == nil && n > 0 && strconv.FormatInt(n, 10) == scene
	var specs []Spec
	for _, kind := range []Kind{KindOATemp, KindOAPerm} {
		specs = append(specs, Spec{Kind: kind, AppID: app, SceneStr: scene})
		if isID {
			specs = append(specs, Spec{Kind: kind, AppID: app, SceneID: n})
		}
	}
	return specs
}

// FieldError is a spec that breaks one of WeChat's rules.
type FieldError struct {
	Field string // the CSV column / JSON field: "scene_id", "path", ...
	Rule  string // what the value must be
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Rule }

// Validate checks s against WeChat's rules for its kind, so that a bad code
// fails before it is queued rather than at WeChat. It returns every broken
// rule, each as a *FieldError.
func (s Spec) Validate() []error {
	var errs fieldErrors
	if _, err := ParseKind(string(s.Kind)); err != nil {
		errs.add("kind", "%v", err)
		return errs
	}
	if s.AppID == "" {
		errs.add("app_id", "is required")
	}
	switch s.Kind {
	case KindOATemp, KindOAPerm:
		s.validateOA(&errs)
	case KindWxaQRCode, KindWxaCode:
		s.validateWxaPath(&errs)
	case KindWxaUnlimited:
		s.validateUnlimited(&errs)
	}
	s.validateStyle(&errs)
	return errs
}

// validateOA checks the scene of an Official Account code: one scene, an id
// in the kind's range or a string of at most MaxSceneStrLen characters.
func (s Spec) validateOA(errs *fieldErrors) {
	switch {
	case s.SceneID != 0 && s.SceneStr != "":
		errs.add("scene_id", "give scene_id or scene_str, not both")
	case s.SceneID == 0 && s.SceneStr == "":
		errs.add("scene_id", "scene_id or scene_str is required for %s", s.Kind)
	}
	if s.Path != "" {
		errs.add("path", "is not used by %s", s.Kind)
	}
	if s.Kind == KindOATemp && (s.SceneID < 0 || s.SceneID > 1<<32-1) {
		errs.add("scene_id", "must be a non-zero 32-bit integer for %s, got %d", s.Kind, s.SceneID)
	}
	if s.Kind == KindOAPerm && (s.SceneID < 0 || s.SceneID > MaxPermSceneID) {
		errs.add("scene_id", "must be 1..%d for %s, got %d", MaxPermSceneID, s.Kind, s.SceneID)
	}
	if n := len([]rune(s.SceneStr)); n > MaxSceneStrLen {
		errs.add("scene_str", "must be 1..%d characters, got %d", MaxSceneStrLen, n)
	}
}

// validateWxaPath checks a Mini Program code made from a path
// (createwxaqrcode, getwxacode).
func (s Spec) validateWxaPath(errs *fieldErrors) {
	if s.SceneID != 0 || s.SceneStr != "" {
		errs.add("scene_id", "scene_id and scene_str are not used by %s (use path)", s.Kind)
	}
	max := MaxWxaQRPathLen
	if s.Kind == KindWxaCode {
		max = MaxWxaCodePathLen
	}
	if n := len(s.Path); n == 0 || n > max {
		errs.add("path", "must be 1..%d bytes for %s, got %d", max, s.Kind, n)
	}
	s.validateWidth(errs)
}

// validateUnlimited checks a getwxacodeunlimit code: a short scene of the
// characters WeChat allows, and a page without a leading slash.
func (s Spec) validateUnlimited(errs *fieldErrors) {
	if s.SceneID != 0 {
		errs.add("scene_id", "is not used by %s (use scene_str)", s.Kind)
	}
	if n := len(s.SceneStr); n == 0 || n > MaxUnlimitedScene {
		errs.add("scene_str", "must be 1..%d characters for %s, got %d", MaxUnlimitedScene, s.Kind, n)
	} else if i := strings.IndexFunc(s.SceneStr, func(r rune) bool { return !isUnlimitedSceneRune(r) }); i >= 0 {
		errs.add("scene_str", "character %q is not allowed (use 0-9 A-Z a-z and !#$&'()*+,/:;=?@-._~)", s.SceneStr[i:i+1])
	}
	if strings.HasPrefix(s.Path, "/") {
		errs.add("path", "the page must not start with /")
	}
	s.validateWidth(errs)
}

func (s Spec) validateWidth(errs *fieldErrors) {
	if s.Width != 0 && (s.Width < MinWidth || s.Width > MaxWidth) {
		errs.add("width", "must be %d..%d, got %d", MinWidth, MaxWidth, s.Width)
	}
}

// fieldErrors collects the rules a value breaks, each as a *FieldError.
type fieldErrors []error

func (e *fieldErrors) add(field, rule string, args ...any) {
	*e = append(*e, &FieldError{Field: field, Rule: fmt.Sprintf(rule, args...)})
}

func isUnlimitedSceneRune(r rune) bool {
	return r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' ||
		strings.ContainsRune("!#$&'()*+,/:;=?@-._~", r)
}
