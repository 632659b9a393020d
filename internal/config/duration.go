package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseDuration parses a positive duration as Go writes them ("36h", "90m"),
// with an optional leading number of days ("7d", "1d12h"): validities and
// horizons are counted in days.
func ParseDuration(s string) (time.Duration, error) {
	var d time.Duration
	rest := strings.TrimSpace(s)
	if days, after, ok := strings.Cut(rest, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q: want a duration such as 7d, 36h or 1d12h", s)
		}
		d, rest = time.Duration(n)*24*time.Hour, after
	}
	if rest != "" {
		more, err := time.ParseDuration(rest)
		if err != nil {
			return 0, fmt.Errorf("%q: want a duration such as 7d, 36h or 1d12h", s)
		}
		d += more
	}
	if d <= 0 {
		return 0, errors.New(strconv.Quote(s) + ": must be positive")
	}
	return d, nil
}
