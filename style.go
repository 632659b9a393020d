package wxqr

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// This file holds the styling of round Mini Program codes (wxa_code and
// wxa_unlimited): line colour, transparent background, the version the code
// opens and whether WeChat checks its page. Each of them changes the image
// or what it opens, so each is part of the code's identity; left at
// WeChat's default, none of them changes an id or a key, so the codes made
// before styling existed keep theirs.

// Color is a code's line colour.
type Color struct{ R, G, B uint8 }

// ParseColor reads a colour written "#RRGGBB" (hex digits of either case) or
// "r,g,b" (three decimal numbers 0..255, spaces allowed around them).
func ParseColor(s string) (Color, error) {
	s = strings.TrimSpace(s)
	bad := fmt.Errorf("must be #RRGGBB or r,g,b (0..255 each), got %q", s)
	if hex, ok := strings.CutPrefix(s, "#"); ok {
		n, err := strconv.ParseUint(hex, 16, 32)
		if len(hex) != 6 || err != nil {
			return Color{}, bad
		}
		return Color{uint8(n >> 16), uint8(n >> 8), uint8(n)}, nil
	}
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return Color{}, bad
	}
	var rgb [3]uint8
	for i, p := range parts {
		n, err := strconv.ParseUint(strings.TrimSpace(p), 10, 8)
		if err != nil {
			return Color{}, bad
		}
		rgb[i] = uint8(n)
	}
	return Color{rgb[0], rgb[1], rgb[2]}, nil
}

// String returns c as "#rrggbb", the form a normalised Spec holds.
func (c Color) String() string { return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B) }

// EnvVersion is the version of the Mini Program a code opens.
type EnvVersion string

// The versions WeChat documents for env_version.
const (
	EnvRelease EnvVersion = "release" // WeChat's default
	EnvTrial   EnvVersion = "trial"
	EnvDevelop EnvVersion = "develop"
)

// OptionalBool is a yes/no parameter that may be left out, leaving it to
// WeChat's default. Its zero value is BoolUnset; in JSON it is true, false,
// or absent (with omitempty).
type OptionalBool int8

// The values of an OptionalBool.
const (
	BoolUnset OptionalBool = iota
	BoolTrue
	BoolFalse
)

// ParseOptionalBool reads a spreadsheet's yes/no cell: true, 1 or yes;
// false, 0 or no (any case, spaces around ignored); empty is BoolUnset.
func ParseOptionalBool(s string) (OptionalBool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return BoolUnset, nil
	case "true", "1", "yes":
		return BoolTrue, nil
	case "false", "0", "no":
		return BoolFalse, nil
	}
	return BoolUnset, fmt.Errorf("must be true or false (or 1/0, yes/no), got %q", s)
}

// String returns "true", "false" or "" (unset).
func (b OptionalBool) String() string {
	switch b {
	case BoolTrue:
		return "true"
	case BoolFalse:
		return "false"
	}
	return ""
}

// MarshalJSON writes b as true or false; an unset b as null, which
// omitempty leaves out.
func (b OptionalBool) MarshalJSON() ([]byte, error) {
	if b == BoolUnset {
		return []byte("null"), nil
	}
	return []byte(b.String()), nil
}

// UnmarshalJSON reads true, false or null (unset).
func (b *OptionalBool) UnmarshalJSON(data []byte) error {
	var v *bool
	if err := json.Unmarshal(data, &v); err != nil {
		return fmt.Errorf("wxqr: OptionalBool: %w", err)
	}
	switch {
	case v == nil:
		*b = BoolUnset
	case *v:
		*b = BoolTrue
	default:
		*b = BoolFalse
	}
	return nil
}

// Styled reports whether the kind takes the styling fields: the round codes
// of getwxacode and getwxacodeunlimit. createwxaqrcode and the Official
// Account codes have none.
func (k Kind) Styled() bool { return k == KindWxaCode || k == KindWxaUnlimited }

// normalizeStyle puts the styling of s in its one form: the line colour as
// "#rrggbb", and WeChat's defaults (black lines, the release version,
// check_path true) as the zero values. A colour that does not parse is left
// for Validate to report.
func (s *Spec) normalizeStyle() {
	if c, err := ParseColor(s.LineColor); s.LineColor != "" && err == nil {
		s.LineColor = c.String()
		if c == (Color{}) {
			s.LineColor = ""
		}
	}
	if s.EnvVersion == EnvRelease {
		s.EnvVersion = ""
	}
	if s.CheckPath == BoolTrue {
		s.CheckPath = BoolUnset
	}
}

// styled reports whether the normalised s asks for anything but WeChat's
// default look and version.
func (s Spec) styled() bool {
	return s.AutoColor || s.LineColor != "" || s.IsHyaline || s.EnvVersion != "" || s.CheckPath != BoolUnset
}

// styleIDFields are the styling of the normalised s as ID hashes it: nothing
// for an unstyled code, so that its id is the one it had before styling
// existed.
func (s Spec) styleIDFields() []string {
	if !s.styled() {
		return nil
	}
	return []string{"style", strconv.FormatBool(s.AutoColor), s.LineColor, strconv.FormatBool(s.IsHyaline),
		string(s.EnvVersion), s.CheckPath.String()}
}

// styleKeySuffix is what the styling of the normalised s adds to its key's
// file name: "_auto-color", "_line-rrggbb", "_hyaline", "_env-trial" or
// "_env-develop", "_no-check-path", in that order, for those that differ
// from WeChat's default. An escaped name never holds "_", so the suffix can
// never be mistaken for part of a scene or path.
func (s Spec) styleKeySuffix() string {
	var b strings.Builder
	if s.AutoColor {
		b.WriteString("_auto-color")
	}
	if s.LineColor != "" {
		b.WriteString("_line-" + escapeKeySegment(strings.TrimPrefix(s.LineColor, "#")))
	}
	if s.IsHyaline {
		b.WriteString("_hyaline")
	}
	if s.EnvVersion != "" {
		b.WriteString("_env-" + escapeKeySegment(string(s.EnvVersion)))
	}
	if s.CheckPath == BoolFalse {
		b.WriteString("_no-check-path")
	}
	return b.String()
}

// ImageContentType is the format WeChat returns the image of s in: a PNG
// for a transparent (is_hyaline) code, whose background a JPEG cannot hold;
// a JPEG for every other code. The key's extension follows it.
func (s Spec) ImageContentType() string {
	if s.IsHyaline {
		return ContentTypePNG
	}
	return ContentTypeJPEG
}

// validateStyle checks the styling of s: only the kinds that take it may
// have it, check_path only getwxacodeunlimit, and the values must be ones
// WeChat documents. WeChat ignores line_color when auto_color is true, so
// asking for both is an error rather than a colour that silently never
// shows.
func (s Spec) validateStyle(errs *fieldErrors) {
	if !s.Kind.Styled() {
		for _, f := range []struct {
			field string
			set   bool
		}{
			{"auto_color", s.AutoColor},
			{"line_color", s.LineColor != ""},
			{"is_hyaline", s.IsHyaline},
			{"env_version", s.EnvVersion != ""},
			{"check_path", s.CheckPath != BoolUnset},
		} {
			if f.set {
				errs.add(f.field, "is not used by %s (only by %s and %s)", s.Kind, KindWxaCode, KindWxaUnlimited)
			}
		}
		return
	}
	if s.LineColor != "" {
		if _, err := ParseColor(s.LineColor); err != nil {
			errs.add("line_color", "%v", err)
		} else if s.AutoColor {
			errs.add("line_color", "WeChat ignores line_color when auto_color is true: give one or the other")
		}
	}
	switch s.EnvVersion {
	case "", EnvRelease, EnvTrial, EnvDevelop:
	default:
		errs.add("env_version", "must be %s, %s or %s, got %q", EnvRelease, EnvTrial, EnvDevelop, s.EnvVersion)
	}
	if s.CheckPath != BoolUnset && s.Kind != KindWxaUnlimited {
		errs.add("check_path", "is only used by %s", KindWxaUnlimited)
	}
}
