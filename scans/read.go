package scans

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// hashMetrics are the fields of a code's or campaign's hash that make its
// Counts, in the order fromFields reads them.
var hashMetrics = []string{metricScans, metricNewFollows, metricUnfollows, metricLaunches}

// Codes returns the counts of each id, in order (zero for none), in one
// round trip.
func (s *Store) Codes(ctx context.Context, ids []string) ([]Counts, error) {
	counts, err := s.counts(ctx, ids, s.keys.code, s.keys.codeUniq)
	if err != nil {
		return nil, fmt.Errorf("scans: counts of %d codes: %w", len(ids), err)
	}
	return counts, nil
}

// Campaigns returns the counts of each campaign, in order (zero for none),
// in one round trip.
func (s *Store) Campaigns(ctx context.Context, names []string) ([]Counts, error) {
	counts, err := s.counts(ctx, names, s.keys.campaign, s.keys.campaignUniq)
	if err != nil {
		return nil, fmt.Errorf("scans: counts of %d campaigns: %w", len(names), err)
	}
	return counts, nil
}

// counts reads the totals and unique scanners of each name, pipelined.
func (s *Store) counts(ctx context.Context, names []string, hashKey, uniqKey func(string) string) ([]Counts, error) {
	if len(names) == 0 {
		return nil, nil
	}
	pipe := s.rdb.Pipeline()
	totals := make([]*redis.SliceCmd, len(names))
	uniques := make([]*redis.IntCmd, len(names))
	for i, name := range names {
		totals[i] = pipe.HMGet(ctx, hashKey(name), hashMetrics...)
		uniques[i] = pipe.PFCount(ctx, uniqKey(name))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	out := make([]Counts, len(names))
	for i := range names {
		c, err := fromFields(totals[i].Val())
		if err != nil {
			return nil, err
		}
		c.UniqueScanners = uniques[i].Val()
		out[i] = c
	}
	return out, nil
}

// fromFields makes Counts of the values of hashMetrics, nil where missing.
func fromFields(values []any) (Counts, error) {
	var n [4]int64
	for i, v := range values {
		text, ok := v.(string)
		if !ok {
			continue
		}
		var err error
		if n[i], err = strconv.ParseInt(text, 10, 64); err != nil {
			return Counts{}, fmt.Errorf("%s is not a count: %w", hashMetrics[i], err)
		}
	}
	return Counts{Scans: n[0], NewFollows: n[1], Unfollows: n[2], Launches: n[3]}, nil
}

// MaxDays is the most days Days returns at once.
const MaxDays = 3 * 366

// Days returns a campaign's counts per day from..to (inclusive), one entry per
// day, zeros included: the days (Asia/Shanghai) of from and to and every day
// between, in one round trip; none when to is before from, and an error for
// more than MaxDays. UniqueScanners is not kept per day: it is 0.
func (s *Store) Days(ctx context.Context, campaign string, from, to time.Time) ([]Day, error) {
	first := midnight(from.In(s.day))
	last := midnight(to.In(s.day))
	var days []Day
	var fields []string
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		if len(days) == MaxDays {
			return nil, fmt.Errorf("scans: days of campaign %q: more than %d days asked for", campaign, MaxDays)
		}
		days = append(days, Day{Date: d})
		for _, m := range hashMetrics {
			fields = append(fields, d.Format("20060102")+":"+m)
		}
	}
	if len(days) == 0 {
		return nil, nil
	}
	values, err := s.rdb.HMGet(ctx, s.keys.campaign(campaign), fields...).Result()
	if err != nil {
		return nil, fmt.Errorf("scans: days of campaign %q: %w", campaign, err)
	}
	for i := range days {
		if days[i].Counts, err = fromFields(values[i*len(hashMetrics) : (i+1)*len(hashMetrics)]); err != nil {
			return nil, fmt.Errorf("scans: days of campaign %q: %w", campaign, err)
		}
	}
	return days, nil
}

// midnight returns the start of t's day, in t's zone.
func midnight(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, t.Location())
}

// Top returns the campaign's n codes with the most scans and launches, most
// first, with their counts.
func (s *Store) Top(ctx context.Context, campaign string, n int) ([]CodeCounts, error) {
	if n <= 0 {
		return nil, nil
	}
	ids, err := s.rdb.ZRevRange(ctx, s.keys.top(campaign), 0, int64(n-1)).Result()
	if err != nil {
		return nil, fmt.Errorf("scans: top of campaign %q: %w", campaign, err)
	}
	counts, err := s.Codes(ctx, ids)
	if err != nil {
		return nil, err
	}
	top := make([]CodeCounts, len(ids))
	for i, id := range ids {
		top[i] = CodeCounts{ID: id, Counts: counts[i]}
	}
	return top, nil
}

// EventTotals returns the fleet's event totals, for metrics, sorted by app,
// event and attribution.
func (s *Store) EventTotals(ctx context.Context) ([]EventTotal, error) {
	fields, err := s.rdb.HGetAll(ctx, s.keys.events()).Result()
	if err != nil {
		return nil, fmt.Errorf("scans: event totals: %w", err)
	}
	totals := make([]EventTotal, 0, len(fields))
	for field, value := range fields {
		// {app_id}|{event}|{0 or 1}: the app id is WeChat's, never with a "|".
		app, rest, ok1 := strings.Cut(field, "|")
		event, flag, ok2 := strings.Cut(rest, "|")
		n, err := strconv.ParseInt(value, 10, 64)
		if !ok1 || !ok2 || (flag != "0" && flag != "1") || err != nil {
			return nil, fmt.Errorf("scans: event totals: malformed field %q = %q", field, value)
		}
		totals = append(totals, EventTotal{AppID: app, Event: EventType(event), Attributed: flag == "1", N: n})
	}
	slices.SortFunc(totals, func(a, b EventTotal) int {
		return cmp.Or(
			strings.Compare(a.AppID, b.AppID),
			strings.Compare(string(a.Event), string(b.Event)),
			compareBool(a.Attributed, b.Attributed),
		)
	})
	return totals, nil
}

// compareBool orders false before true.
func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	default:
		return -1
	}
}
