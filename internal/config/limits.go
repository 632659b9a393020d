package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/ratelimit"
)

// Environment variables of the limits per app × API (and, for the lifetime
// quotas, per app × quota class). The workers enforce the rates and budgets;
// enqueue regen plans within the daily budgets; enqueue's pre-flight weighs
// a campaign against the budgets and the lifetime quotas.
const (
	EnvRateLimits     = "WXQR_RATE_LIMITS"
	EnvDailyBudgets   = "WXQR_DAILY_BUDGETS"
	EnvLifetimeQuotas = "WXQR_LIFETIME_QUOTAS"
)

// DefaultRateLimits keep every app under WeChat's documented limits, and
// where WeChat documents none, at a pace it has not been seen to refuse. A
// documented limit is kept 10% under: wxqr spaces calls by Redis's clock and
// WeChat counts them as they arrive, so a call delayed across the boundary
// of WeChat's minute would otherwise be one too many in it.
var DefaultRateLimits = map[string]ratelimit.Limit{
	"qrcode/create":          ratelimit.PerSecond(50),
	"wxaapp/createwxaqrcode": ratelimit.PerSecond(50),
	"wxa/getwxacode":         ratelimit.PerSecond(50),
	"wxa/getwxacodeunlimit":  ratelimit.PerMinute(4500), // WeChat: 5,000 a minute
}

// DefaultDailyBudgets are WeChat's own daily quotas: the worker pauses just
// before WeChat would say 45009. Lower them when other systems call the same
// app.
var DefaultDailyBudgets = map[string]int64{
	"qrcode/create":  100000,
	"wxa/getwxacode": 10000,
}

// DefaultLifetimeQuotas are WeChat's lifetime caps, by quota class: 100,000
// permanent Official Account codes, and 100,000 createwxaqrcode and
// getwxacode codes together, per account, ever.
var DefaultLifetimeQuotas = map[string]int64{
	string(wxqr.ClassOAPerm):     100000,
	string(wxqr.ClassWxaLimited): 100000,
}

// PerAppAPI is a setting per WeChat API (per quota class for the lifetime
// quotas), for every app or (overridden) for one: the value of
// WXQR_RATE_LIMITS, WXQR_DAILY_BUDGETS or WXQR_LIFETIME_QUOTAS.
type PerAppAPI[T any] struct {
	defaults map[string]T // by API
	perApp   map[string]T // by "app:api"
}

// Lookup returns the setting for key, "{app_id}:{api}" (tasks.LimitKey) or
// "{app_id}:{class}", and whether there is one.
func (s PerAppAPI[T]) Lookup(key string) (T, bool) {
	if v, ok := s.perApp[key]; ok {
		return v, true
	}
	_, api, _ := strings.Cut(key, ":")
	v, ok := s.defaults[api]
	return v, ok
}

// keyNames are the keys a setting takes: what they are ("API") and their
// names, in the order the error message lists them.
type keyNames struct {
	what  string
	names []string
}

// apiKeys are the APIs that make codes.
var apiKeys = func() keyNames {
	k := keyNames{what: "API"}
	for _, kind := range wxqr.Kinds {
		if api := kind.API(); !slices.Contains(k.names, api) {
			k.names = append(k.names, api)
		}
	}
	return k
}()

// lifetimeKeys are the quota classes with a lifetime quota.
var lifetimeKeys = keyNames{"lifetime quota class", []string{string(wxqr.ClassOAPerm), string(wxqr.ClassWxaLimited)}}

// parseKeyed parses "[app_id:]key=value,..." over the defaults, each key one
// of keys.
func parseKeyed[T any](name, raw string, keys keyNames, defaults map[string]T, parse func(string) (T, error)) (PerAppAPI[T], error) {
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
		if !slices.Contains(keys.names, api) {
			return s, fmt.Errorf("%s: entry %d: unknown %s %q (want %s)", name, i+1, keys.what, api, strings.Join(keys.names, ", "))
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
	return parseKeyed(EnvRateLimits, getenv(EnvRateLimits), apiKeys, DefaultRateLimits, parseRate)
}

// LoadDailyBudgets reads WXQR_DAILY_BUDGETS over DefaultDailyBudgets.
func LoadDailyBudgets(getenv func(string) string) (PerAppAPI[int64], error) {
	return parseKeyed(EnvDailyBudgets, getenv(EnvDailyBudgets), apiKeys, DefaultDailyBudgets, parseBudget)
}

// LifetimeQuotas are the lifetime caps per app × quota class: how many
// codes of the class wxqr may make for the app, ever. WeChat's cap counts
// every code the account made, wxqr's or not, while wxqr's ledger counts
// only its own: an account that made codes elsewhere lowers its cap here to
// what WeChat still allows plus what wxqr has made.
type LifetimeQuotas struct {
	caps PerAppAPI[int64]
}

// Cap returns the lifetime cap of class for the app, and false for a class
// without a lifetime quota (wxqr.QuotaClass.Lifetime).
func (q LifetimeQuotas) Cap(appID string, class wxqr.QuotaClass) (int64, bool) {
	if !class.Lifetime() {
		return 0, false
	}
	return q.caps.Lookup(appID + ":" + string(class))
}

// LoadLifetimeQuotas reads WXQR_LIFETIME_QUOTAS, "[app_id:]class=N,..."
// with class oa_perm or wxa_limited, over DefaultLifetimeQuotas.
func LoadLifetimeQuotas(getenv func(string) string) (LifetimeQuotas, error) {
	caps, err := parseKeyed(EnvLifetimeQuotas, getenv(EnvLifetimeQuotas), lifetimeKeys, DefaultLifetimeQuotas, parseCap)
	return LifetimeQuotas{caps: caps}, err
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

func parseCap(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("want a whole number of codes, got %q", s)
	}
	return n, nil
}

func parseBudget(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("want a whole number of calls a day, got %q", s)
	}
	return n, nil
}
