package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wxqr/wxqr/ratelimit"
)

// Environment variables of the limits per app × API. The workers enforce
// them; enqueue regen plans within the daily budgets.
const (
	EnvRateLimits   = "WXQR_RATE_LIMITS"
	EnvDailyBudgets = "WXQR_DAILY_BUDGETS"
)

// DefaultRateLimits keep every app under WeChat's documented limits, and
// where WeChat documents none, at a pace it has not been seen to refuse.
var DefaultRateLimits = map[string]ratelimit.Limit{
	"qrcode/create":          ratelimit.PerSecond(50),
	"wxaapp/createwxaqrcode": ratelimit.PerSecond(50),
	"wxa/getwxacode":         ratelimit.PerSecond(50),
	"wxa/getwxacodeunlimit":  ratelimit.PerMinute(5000),
}

// DefaultDailyBudgets are WeChat's own daily quotas: the worker pauses just
// before WeChat would say 45009. Lower them when other systems call the same
// app.
var DefaultDailyBudgets = map[string]int64{
	"qrcode/create":  100000,
	"wxa/getwxacode": 10000,
}

// PerAppAPI is a setting per WeChat API, for every app or (overridden) for
// one: the value of WXQR_RATE_LIMITS or WXQR_DAILY_BUDGETS.
type PerAppAPI[T any] struct {
	defaults map[string]T // by API
	perApp   map[string]T // by "app:api"
}

// Lookup returns the setting for key, "{app_id}:{api}" (tasks.LimitKey), and
// whether there is one.
func (s PerAppAPI[T]) Lookup(key string) (T, bool) {
	if v, ok := s.perApp[key]; ok {
		return v, true
	}
	_, api, _ := strings.Cut(key, ":")
	v, ok := s.defaults[api]
	return v, ok
}

// parseKeyed parses "[app_id:]api=value,..." over the defaults.
func parseKeyed[T any](name, raw string, defaults map[string]T, parse func(string) (T, error)) (PerAppAPI[T], error) {
	s := PerAppAPI[T]{defaults: map[string]T{}, perApp: map[string]T{}}
	for api, v := range defaults {
		s.defaults[api] = v
	}
	if strings.TrimSpace(raw) == "" {
		return s, nil
	}
	for i, entry := range strings.Split(raw, ",") {
		target, value, ok := strings.Cut(strings.TrimSpace(entry), "=")
		if !ok {
			return s, fmt.Errorf("%s: entry %d: want [app_id:]api=value, got %q", name, i+1, entry)
		}
		v, err := parse(value)
		if err != nil {
			return s, fmt.Errorf("%s: entry %d (%s): %w", name, i+1, target, err)
		}
		app, api, perApp := strings.Cut(target, ":")
		if !perApp {
			api = app
		}
		if _, known := DefaultRateLimits[api]; !known {
			return s, fmt.Errorf("%s: entry %d: unknown API %q (want qrcode/create, wxaapp/createwxaqrcode, wxa/getwxacode or wxa/getwxacodeunlimit)", name, i+1, api)
		}
		if perApp {
			s.perApp[app+":"+api] = v
		} else {
			s.defaults[api] = v
		}
	}
	return s, nil
}

// LoadRateLimits reads WXQR_RATE_LIMITS over DefaultRateLimits.
func LoadRateLimits(getenv func(string) string) (PerAppAPI[ratelimit.Limit], error) {
	return parseKeyed(EnvRateLimits, getenv(EnvRateLimits), DefaultRateLimits, parseRate)
}

// LoadDailyBudgets reads WXQR_DAILY_BUDGETS over DefaultDailyBudgets.
func LoadDailyBudgets(getenv func(string) string) (PerAppAPI[int64], error) {
	return parseKeyed(EnvDailyBudgets, getenv(EnvDailyBudgets), DefaultDailyBudgets, parseBudget)
}

// parseRate parses "20/s", "5000/m" or "100/h"; a rate of 0 turns the limit
// off.
func parseRate(s string) (ratelimit.Limit, error) {
	n, unit, ok := strings.Cut(s, "/")
	rate, err := strconv.Atoi(n)
	if !ok || err != nil || rate < 0 {
		return ratelimit.Limit{}, fmt.Errorf("want a rate such as 20/s or 5000/m, got %q", s)
	}
	per := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour}[unit]
	if per == 0 {
		return ratelimit.Limit{}, fmt.Errorf("rate unit must be s, m or h, got %q", unit)
	}
	return ratelimit.Limit{Rate: rate, Per: per}, nil
}

func parseBudget(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("want a whole number of calls a day, got %q", s)
	}
	return n, nil
}
