package jobfile

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/internal/config"
	"github.com/wxqr/wxqr/tasks"
)

// Defaults are what every row that leaves a cell empty gets: enqueue's
// flags, the monitor's campaign field.
type Defaults struct {
	Kind, AppID, Campaign string
	// Width applies to Mini Program rows only.
	Width int
	// ExpireSeconds applies to oa_temp rows only; 0 means
	// wxqr.DefaultTempExpire.
	ExpireSeconds int
	// Page is the page of wxa_unlimited rows.
	Page string
}

// Checker turns rows into payloads, checking everything that can be
// checked before WeChat sees the code: WeChat's rules and wxqr's
// (wxqr.Request.Validate), that the app is configured and of the right
// type, and that the cells hold numbers where numbers are due.
type Checker struct {
	// Apps are the configured apps (WXQR_APPS) and their types, by app id.
	Apps map[string]wxqr.AppType
	// Defaults fill the cells rows leave empty.
	Defaults Defaults
}

// NewChecker returns the checker of rows for apps, with def filling the
// empty cells.
func NewChecker(apps []config.App, def Defaults) *Checker {
	return &Checker{Apps: AppTypes(apps), Defaults: def}
}

// AppTypes are the types of apps, by app id: Checker.Apps.
func AppTypes(apps []config.App) map[string]wxqr.AppType {
	types := make(map[string]wxqr.AppType, len(apps))
	for _, app := range apps {
		types[app.AppID] = app.Type
	}
	return types
}

// Check returns the payload r asks for, normalised (its id worked out), or
// every rule r breaks.
func (c *Checker) Check(r *Row) (tasks.GeneratePayload, []*wxqr.FieldError) {
	if r.Problem != nil {
		return tasks.GeneratePayload{}, []*wxqr.FieldError{r.Problem}
	}
	req, errs := c.request(r)
	if _, err := wxqr.ParseKind(string(req.Spec.Kind)); err == nil { // else Validate says so
		errs = append(errs, c.checkApp(req.Spec)...)
	}
	for _, err := range req.Validate() {
		fe, ok := err.(*wxqr.FieldError)
		if !ok {
			fe = &wxqr.FieldError{Rule: err.Error()}
		}
		errs = append(errs, fe)
	}
	if len(errs) > 0 {
		return tasks.GeneratePayload{}, errs
	}
	return tasks.GeneratePayload(req.Normalize()), nil
}

// request reads the request of r, its empty cells filled from the flags,
// and the cells that are not numbers or yes/no where those are due.
func (c *Checker) request(r *Row) (wxqr.Request, []*wxqr.FieldError) {
	var errs []*wxqr.FieldError
	number := func(field, text string) int64 {
		text = strings.TrimSpace(text)
		if text == "" {
			return 0
		}
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			errs = append(errs, &wxqr.FieldError{Field: field, Rule: fmt.Sprintf("must be an integer, got %q", text)})
		}
		return n
	}
	sceneID, width, expire := number("scene_id", r.SceneID), number("width", r.Width), number("expire_seconds", r.ExpireSeconds)
	req := wxqr.Request{
		Spec: wxqr.Spec{
			Kind:     wxqr.Kind(strings.TrimSpace(or(r.Kind, c.Defaults.Kind))),
			AppID:    strings.TrimSpace(or(r.AppID, c.Defaults.AppID)),
			SceneID:  sceneID,
			SceneStr: r.SceneStr,
			Path:     r.Path,
		},
		Campaign:      or(r.Campaign, c.Defaults.Campaign),
		Name:          strings.TrimSpace(r.Name),
		ExpireSeconds: int(expire),
	}
	kind := req.Spec.Kind
	// A flag fills a cell only for the kinds that use it; a cell the kind
	// does not use is an error, left to Validate but for the width, which
	// Spec.Normalize would drop.
	if kind.AppType() == wxqr.AppMP {
		req.Spec.Width = int(cmp.Or(width, int64(c.Defaults.Width)))
	} else if width != 0 {
		errs = append(errs, &wxqr.FieldError{Field: "width", Rule: "is not used by " + string(kind)})
	}
	if kind == wxqr.KindWxaUnlimited && req.Spec.Path == "" {
		req.Spec.Path = c.Defaults.Page
	}
	if kind.Temporary() && req.ExpireSeconds == 0 {
		req.ExpireSeconds = c.Defaults.ExpireSeconds
	}
	errs = append(errs, r.Style.apply(&req.Spec)...)
	return req, errs
}

// checkApp checks what only the producer knows: that the app of spec is
// configured, and can make codes of its kind.
func (c *Checker) checkApp(spec wxqr.Spec) []*wxqr.FieldError {
	if spec.AppID == "" {
		return nil // Validate says so
	}
	var rule string
	switch typ, ok := c.Apps[spec.AppID]; {
	case !ok:
		rule = fmt.Sprintf("%s is not configured in WXQR_APPS", spec.AppID)
	case typ != spec.Kind.AppType():
		rule = fmt.Sprintf("%s is a %s app; %s needs an %s app", spec.AppID, typ, spec.Kind, spec.Kind.AppType())
	default:
		return nil
	}
	return []*wxqr.FieldError{{Field: "app_id", Rule: rule}}
}

// or returns s, or def when s is empty.
func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
