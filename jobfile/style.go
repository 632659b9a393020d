package jobfile

import (
	"strings"

	"github.com/wxqr/wxqr"
)

// Style is the styling of a wxa_code or wxa_unlimited code as the jobs
// file states it: the cells of its styling columns, as text.
type Style struct {
	AutoColor, LineColor, IsHyaline, EnvVersion, CheckPath string
}

// styleFields maps the styling columns to the Row fields they fill.
var styleFields = map[string]func(*Row) *string{
	"auto_color":  func(r *Row) *string { return &r.AutoColor },
	"line_color":  func(r *Row) *string { return &r.LineColor },
	"is_hyaline":  func(r *Row) *string { return &r.IsHyaline },
	"env_version": func(r *Row) *string { return &r.EnvVersion },
	"check_path":  func(r *Row) *string { return &r.CheckPath },
}

// apply sets the styling of spec from s, and returns the cells that are not
// yes/no where a yes/no is due. An empty cell is WeChat's default. The
// colour and the version are taken as written (the version in lower case,
// as a spreadsheet may capitalise it) for spec.Validate to judge, with the
// other rules of styling.
func (s *Style) apply(spec *wxqr.Spec) []*wxqr.FieldError {
	var errs []*wxqr.FieldError
	yesNo := func(field, text string) wxqr.OptionalBool {
		b, err := wxqr.ParseOptionalBool(text)
		if err != nil {
			errs = append(errs, &wxqr.FieldError{Field: field, Rule: err.Error()})
		}
		return b
	}
	spec.AutoColor = yesNo("auto_color", s.AutoColor) == wxqr.BoolTrue
	spec.IsHyaline = yesNo("is_hyaline", s.IsHyaline) == wxqr.BoolTrue
	spec.CheckPath = yesNo("check_path", s.CheckPath)
	spec.LineColor = strings.TrimSpace(s.LineColor)
	spec.EnvVersion = wxqr.EnvVersion(strings.ToLower(strings.TrimSpace(s.EnvVersion)))
	return errs
}
