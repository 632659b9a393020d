package preflight

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/wechat"
)

// ErrNotAsked is Daily.Unknown when WeChat was not asked: no QuotaAsker
// for the app.
var ErrNotAsked = errors.New("preflight: WeChat not asked")

// Report is what a campaign would spend of each quota it touches.
type Report struct {
	// Classes has a line per app × quota class the campaign has codes of,
	// sorted by app, then class.
	Classes []Class
	// Daily has a line per app × API the campaign would call, sorted by
	// app, then API.
	Daily []Daily
}

// Over returns the classes whose lifetime quota the campaign does not fit
// in (Class.Fits), in the order of Classes.
func (r *Report) Over() []Class {
	var over []Class
	for _, c := range r.Classes {
		if !c.Fits() {
			over = append(over, c)
		}
	}
	return over
}

// Days returns how many quota days (today included) the calls the codes of
// class make take at the daily quotas of the APIs that make them, the
// campaign's other calls of those APIs included (oa_temp and oa_perm share
// qrcode/create); -1 when a daily quota of 0 stops them for good, 0 when
// they make no call.
func (r *Report) Days(appID string, class wxqr.QuotaClass) int {
	days := 0
	for _, d := range r.DailyOf(appID, class) {
		n := d.Days()
		if n < 0 {
			return -1
		}
		days = max(days, n)
	}
	return days
}

// DailyOf returns the lines of Daily of the app's APIs that make codes of
// class, in the order of Daily.
func (r *Report) DailyOf(appID string, class wxqr.QuotaClass) []Daily {
	var out []Daily
	for _, d := range r.Daily {
		if d.AppID == appID && apiOf(class, d.API) {
			out = append(out, d)
		}
	}
	return out
}

// apiOf reports whether codes of class are made with api.
func apiOf(class wxqr.QuotaClass, api string) bool {
	for _, k := range wxqr.Kinds {
		if k.Class() == class && k.API() == api {
			return true
		}
	}
	return false
}

// Class is what the campaign spends of one app's quota class.
type Class struct {
	AppID string
	Class wxqr.QuotaClass
	// Codes is how many distinct codes of the class the campaign has.
	Codes int64
	// Calls is how many of them would be asked of WeChat: those the
	// catalog holds no valid (or retired) record of.
	Calls int64
	// Needed is how many of the calls would spend a slot of the class's
	// lifetime quota: those not in its ledger yet. 0 for a class without
	// one.
	Needed int64
	// Lifetime is the class's lifetime quota; nil for a class without one.
	Lifetime *Lifetime
}

// Fits reports whether the slots the campaign needs fit in what remains of
// the class's lifetime quota; always for a class without one.
func (c Class) Fits() bool {
	return c.Lifetime == nil || c.Needed <= c.Lifetime.Remaining()
}

// Lifetime is one app's lifetime quota of one class, as wxqr knows it.
type Lifetime struct {
	// Cap is the configured cap (WXQR_LIFETIME_QUOTAS).
	Cap int64
	// Used is what wxqr's ledger counts: the distinct codes of the class
	// wxqr made for the app.
	Used int64
}

// Remaining is what is left of the cap, never negative.
func (l Lifetime) Remaining() int64 { return max(l.Cap-l.Used, 0) }

// Source says who stated a daily figure.
type Source string

// The sources of daily figures.
const (
	SourceNone   Source = ""       // no daily limit is known
	SourceWeChat Source = "wechat" // WeChat's openapi/quota/get
	SourceBudget Source = "budget" // wxqr's daily budget (WXQR_DAILY_BUDGETS) and its count
)

// Daily is what the campaign spends of one app's daily quota of one API.
type Daily struct {
	AppID string
	API   string
	// Calls is how many calls of the API the campaign would make.
	Calls int64
	// WeChat is WeChat's answer to quota/get; nil when it is unknown.
	WeChat *wechat.Quota
	// Unknown is why WeChat's answer is unknown: its error (an account that
	// may not ask, 48001, 76021, 76022; WeChat unreachable), or ErrNotAsked.
	// nil when WeChat answered.
	Unknown error
	// Budget is wxqr's daily budget of the API and today's spend; nil when
	// the API has no budget.
	Budget *Budget
}

// Budget is a daily budget and what was spent of it today.
type Budget struct {
	Limit, Used int64
}

// Limit returns the calls a day the API allows the app: the smaller of
// WeChat's stated daily limit and wxqr's budget (the workers stop at
// either), and who states it; SourceNone when neither does.
func (d Daily) Limit() (int64, Source) {
	return d.smaller(func(q *wechat.Quota) int64 { return q.DailyLimit }, func(b *Budget) int64 { return b.Limit })
}

// Remaining returns the calls the app may still make today: the smaller of
// what WeChat says remains and what is left of wxqr's budget, and who says
// so; SourceNone when neither knows a limit.
func (d Daily) Remaining() (int64, Source) {
	return d.smaller(func(q *wechat.Quota) int64 { return q.Remain }, func(b *Budget) int64 { return max(b.Limit-b.Used, 0) })
}

// smaller returns the smaller of WeChat's figure (if WeChat states a daily
// limit) and the budget's (if there is one), and its source.
func (d Daily) smaller(wechatFigure func(*wechat.Quota) int64, budgetFigure func(*Budget) int64) (int64, Source) {
	n, src := int64(0), SourceNone
	if d.WeChat != nil && d.WeChat.Limited() {
		n, src = wechatFigure(d.WeChat), SourceWeChat
	}
	if d.Budget != nil {
		if b := budgetFigure(d.Budget); src == SourceNone || b < n {
			n, src = b, SourceBudget
		}
	}
	return n, src
}

// Days returns how many quota days, today included, the calls take: what
// remains today, then the daily limit each day. 0 without calls, 1 without
// a known limit, -1 when a daily limit of 0 stops them for good.
func (d Daily) Days() int {
	limit, src := d.Limit()
	remaining, _ := d.Remaining()
	switch {
	case d.Calls == 0:
		return 0
	case src == SourceNone, d.Calls <= remaining:
		return 1
	case limit == 0:
		return -1
	}
	rest := d.Calls - remaining
	return 1 + int((rest+limit-1)/limit)
}

// TodayLeft is what remains today of each daily quota the calls of c
// spend, as text: "N of L (API, source)", or "-" when it makes no call.
func (r *Report) TodayLeft(c Class) string {
	var parts []string
	for _, d := range r.DailyOf(c.AppID, c.Class) {
		remaining, src := d.Remaining()
		limit, _ := d.Limit()
		if src == SourceNone {
			parts = append(parts, "no limit ("+d.API+")")
			continue
		}
		parts = append(parts, fmt.Sprintf("%d of %d (%s, %s)", remaining, limit, d.API, src))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, "; ")
}

// DaysText writes Report.Days as text: "-" for no call, "never (daily
// quota 0)" for -1.
func DaysText(days int) string {
	switch days {
	case 0:
		return "-"
	case -1:
		return "never (daily quota 0)"
	}
	return strconv.Itoa(days)
}
