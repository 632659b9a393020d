package main

import (
	"cmp"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/internal/config"
	"github.com/wxqr/wxqr/tasks"
)

// defaults are what flags give every row that leaves the value empty.
type defaults struct {
	Kind, AppID, Campaign string
	// Width applies to Mini Program rows only.
	Width int
	// ExpireSeconds applies to oa_temp rows only; 0 means
	// wxqr.DefaultTempExpire.
	ExpireSeconds int
	// Page is the page of wxa_unlimited rows.
	Page string
}

// checker turns raw rows into payloads, checking everything that can be
// checked before WeChat sees the code: WeChat's rules for the kind
// (wxqr.Spec.Validate), that the app is configured and of the right type,
// and the numbers only a producer knows.
type checker struct {
	apps map[string]wxqr.AppType
	def  defaults
}

// check returns the payload r asks for, or every rule r breaks.
func (c *checker) check(r *rawRow) (tasks.GeneratePayload, []*wxqr.FieldError) {
	if r.Problem != nil {
		return tasks.GeneratePayload{}, []*wxqr.FieldError{r.Problem}
	}
	var errs []*wxqr.FieldError
	bad := func(field, rule string, args ...any) {
		errs = append(errs, &wxqr.FieldError{Field: field, Rule: fmt.Sprintf(rule, args...)})
	}
	number := func(field, text string) int64 {
		text = strings.TrimSpace(text)
		if text == "" {
			return 0
		}
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			bad(field, "must be an integer, got %q", text)
		}
		return n
	}

	p := tasks.GeneratePayload{
		Spec: wxqr.Spec{
			Kind:     wxqr.Kind(strings.TrimSpace(or(r.Kind, c.def.Kind))),
			AppID:    strings.TrimSpace(or(r.AppID, c.def.AppID)),
			SceneID:  number("scene_id", r.SceneID),
			SceneStr: r.SceneStr,
			Path:     r.Path,
		},
		Campaign: or(r.Campaign, c.def.Campaign),
	}
	width := number("width", r.Width)
	expire := number("expire_seconds", r.ExpireSeconds)
	kind := p.Spec.Kind
	if _, err := wxqr.ParseKind(string(kind)); err == nil { // else Validate says so
		if kind.AppType() == wxqr.AppMP {
			// Range checked by Validate; 0 means wxqr.DefaultWidth.
			p.Spec.Width = int(cmp.Or(width, int64(c.def.Width)))
		} else if width != 0 {
			bad("width", "is not used by %s", kind)
		}
		if kind == wxqr.KindWxaUnlimited && p.Spec.Path == "" {
			p.Spec.Path = c.def.Page
		}
		if kind == wxqr.KindOATemp {
			expire = cmp.Or(expire, int64(c.def.ExpireSeconds), int64(wxqr.DefaultTempExpire/time.Second))
			if max := int64(wxqr.MaxTempExpire / time.Second); expire < 1 || expire > max {
				bad("expire_seconds", "must be 1..%d (30 days) for %s, got %d", max, kind, expire)
			}
			p.ExpireSeconds = int(expire)
		} else if expire != 0 {
			bad("expire_seconds", "is only used by %s", wxqr.KindOATemp)
		}
		if p.Spec.AppID != "" {
			switch typ, ok := c.apps[p.Spec.AppID]; {
			case !ok:
				bad("app_id", "%s is not configured in WXQR_APPS", p.Spec.AppID)
			case typ != kind.AppType():
				bad("app_id", "%s is a %s app; %s needs an %s app", p.Spec.AppID, typ, kind, kind.AppType())
			}
		}
	}

	for _, err := range p.Spec.Validate() {
		var fe *wxqr.FieldError
		if errors.As(err, &fe) {
			errs = append(errs, fe)
		} else {
			bad("", "%v", err)
		}
	}
	if len(errs) > 0 {
		return tasks.GeneratePayload{}, errs
	}
	p.Spec = p.Spec.Normalize()
	return p, nil
}

// or returns s, or def when s is empty.
func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// parseExpire parses --expire: a Go duration ("36h", "90m") or a number of
// days ("7d"), optionally followed by a duration ("1d12h"), in whole seconds
// from 1 s to 30 days.
func parseExpire(s string) (int, error) {
	d, err := config.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("--expire %w", err)
	}
	if d < time.Second || d > wxqr.MaxTempExpire || d%time.Second != 0 {
		return 0, fmt.Errorf("--expire %q: must be whole seconds from 1s to 30d", s)
	}
	return int(d / time.Second), nil
}
