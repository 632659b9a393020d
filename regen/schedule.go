package regen

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Defaults of the nightly scan.
const (
	// DefaultSchedule: every day at 03:00, in the schedule's zone.
	DefaultSchedule = "0 3 * * *"
	// DefaultZone is the schedule's default zone: WeChat's daily quotas
	// reset at midnight there, so a 03:00 scan finds the day's budget whole.
	DefaultZone = "Asia/Shanghai"
	// DefaultHorizon spans two nights, so a code that one scan misses (no
	// worker running, budget spent) is still due at the next.
	DefaultHorizon = 48 * time.Hour
)

// Schedule gives the slots at which scans run. *cron.SpecSchedule
// implements it.
type Schedule interface {
	// Next returns the first slot after t; the zero time if there is none.
	Next(t time.Time) time.Time
}

// specParser reads 5-field cron specs (minute hour day-of-month month
// day-of-week), 6-field ones with a leading seconds field, and descriptors
// (@daily, @hourly, @every 10m ...).
var specParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseSchedule parses a cron spec whose times are in loc (nil: UTC): five
// fields ("0 3 * * *"), six with seconds first ("*/5 * * * * *"), or a
// descriptor ("@daily", "@every 6h"). "@every d" fires at the multiples of d
// counted from the zero time, not from when the process started, so that
// every worker picks the same slots. The zone comes from loc only: a
// "CRON_TZ=" or "TZ=" prefix is an error. It also fails for a spec that never
// fires.
func ParseSchedule(spec string, loc *time.Location) (Schedule, error) {
	spec = strings.TrimSpace(spec)
	if loc == nil {
		loc = time.UTC
	}
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		return nil, fmt.Errorf("regen: schedule %q: give the time zone apart, not in the spec", spec)
	}
	parsed, err := specParser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("regen: schedule %q: %w", spec, err)
	}
	var s Schedule
	switch p := parsed.(type) {
	case *cron.SpecSchedule:
		p.Location = loc
		s = p
	case cron.ConstantDelaySchedule:
		s = every(p.Delay)
	default:
		return nil, fmt.Errorf("regen: schedule %q: unsupported kind of schedule %T", spec, parsed)
	}
	if s.Next(time.Now()).IsZero() {
		return nil, fmt.Errorf("regen: schedule %q never fires", spec)
	}
	return s, nil
}

// every fires at the multiples of a duration since the zero time: the same
// instants for every process, unlike cron's "@every", which counts from
// whenever it is asked.
type every time.Duration

func (e every) Next(t time.Time) time.Time {
	d := time.Duration(e)
	return t.Truncate(d).Add(d)
}
