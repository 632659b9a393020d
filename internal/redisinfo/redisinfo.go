// Package redisinfo reads Redis's INFO reply: lines of "name:value" under
// "# Section" headers.
package redisinfo

import (
	"fmt"
	"strconv"
	"strings"
)

// Fields are the fields of one INFO reply, by name.
type Fields map[string]string

// Parse returns the fields of info, the text of an INFO reply. Section
// headers and blank lines are not fields.
func Parse(info string) Fields {
	f := Fields{}
	for line := range strings.Lines(info) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if name, value, ok := strings.Cut(line, ":"); ok {
			f[name] = value
		}
	}
	return f
}

// Int returns the field name as an integer, or an error that names it when
// it is missing or not one.
func (f Fields) Int(name string) (int64, error) {
	v, ok := f[name]
	if !ok {
		return 0, fmt.Errorf("INFO has no %s", name)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("INFO %s: %w", name, err)
	}
	return n, nil
}
