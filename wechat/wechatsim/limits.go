package wechatsim

import (
	"maps"
	"time"
)

// Limits are an app's quotas. Zero values take the defaults stated here.
type Limits struct {
	// PermCap is how many distinct permanent OA scenes the app may ever
	// create (45029 beyond). Default: 100,000. Negative: no cap.
	PermCap int
	// WxaCap is how many distinct (API, path, width) codes createwxaqrcode and
	// getwxacode may ever make together (45029 beyond). Default: 100,000.
	// Negative: no cap.
	WxaCap int
	// Daily is the number of calls per API per day (45009 beyond); days start
	// at 00:00 Asia/Shanghai. An API missing from the map takes the default:
	// qrcode/create 100,000, wxa/getwxacode 10,000, others unlimited. A value
	// <= 0 means unlimited.
	Daily map[string]int
	// PerSecond is the number of calls per API per clock second (45011
	// beyond). Missing or <= 0: unlimited, the default for every API.
	PerSecond map[string]int
	// PerMinute is the number of calls per API per clock minute (45011
	// beyond). Missing: the default, 5,000 for wxa/getwxacodeunlimit and
	// unlimited for the others. <= 0: unlimited.
	PerMinute map[string]int
}

// over returns l with its zero fields and missing map keys taken from d.
// The result shares no map with l or d.
func (l Limits) over(d Limits) Limits {
	merge := func(m, dm map[string]int) map[string]int {
		out := maps.Clone(dm)
		if out == nil {
			out = map[string]int{}
		}
		maps.Copy(out, m)
		return out
	}
	out := Limits{PermCap: l.PermCap, WxaCap: l.WxaCap}
	if out.PermCap == 0 {
		out.PermCap = d.PermCap
	}
	if out.WxaCap == 0 {
		out.WxaCap = d.WxaCap
	}
	out.Daily = merge(l.Daily, d.Daily)
	out.PerSecond = merge(l.PerSecond, d.PerSecond)
	out.PerMinute = merge(l.PerMinute, d.PerMinute)
	return out
}

// SetLimits replaces the limits of one app (known yet or not) from the next
// call on. Zero fields and missing map keys take the Server's Config.Limits.
// Counts already made stay: lowering a cap below the codes made refuses
// every new one.
func (s *Server) SetLimits(appID string, l Limits) {
	resolved := l.over(s.base)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limits[appID] = resolved
}

// usage counts an app's calls of one API in the current day, second and
// minute.
type usage struct {
	day            string
	second, minute int64
	daily, perSec  int
	perMin         int
}

// shanghai is China Standard Time: UTC+8 all year, so a fixed zone is exact
// and needs no tz database.
var shanghai = time.FixedZone("CST", 8*60*60)

// quotaDay names the quota day t falls in.
func quotaDay(t time.Time) string { return t.In(shanghai).Format(time.DateOnly) }

// limitsLocked returns the limits of the app.
func (s *Server) limitsLocked(appID string) Limits {
	if l, ok := s.limits[appID]; ok {
		return l
	}
	return s.base
}

// admitLocked counts a call of api by the app against its limits, unless a
// limit refuses it: then it returns that errcode and counts nothing.
func (s *Server) admitLocked(st *appState, api string, now time.Time) int {
	l := s.limitsLocked(st.appID)
	u, ok := st.usage[api]
	if !ok {
		u = &usage{}
		st.usage[api] = u
	}
	if day := quotaDay(now); u.day != day {
		u.day, u.daily = day, 0
	}
	if sec := now.Unix(); u.second != sec {
		u.second, u.perSec = sec, 0
	}
	if min := now.Truncate(time.Minute).Unix(); u.minute != min {
		u.minute, u.perMin = min, 0
	}
	if max := l.Daily[api]; max > 0 && u.daily >= max {
		return errDailyQuota
	}
	if max := l.PerSecond[api]; max > 0 && u.perSec >= max {
		return errRateLimit
	}
	if max := l.PerMinute[api]; max > 0 && u.perMin >= max {
		return errRateLimit
	}
	u.daily++
	u.perSec++
	u.perMin++
	return 0
}
