package regen

import (
	"strings"
	"testing"
	"time"

	"github.com/wxqr/wxqr/ratelimit"
)

func TestParseSchedule(t *testing.T) {
	shanghai := ratelimit.DefaultLocation()
	at := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name  string
		spec  string
		loc   *time.Location
		from  string
		wants []string // the next slots, in order
	}{
		{"default: 03:00 in Shanghai", DefaultSchedule, shanghai, "2025-03-01T00:00:00Z",
			[]string{"2025-03-01T19:00:00Z", "2025-03-02T19:00:00Z"}},
		{"just before the slot", DefaultSchedule, shanghai, "2025-03-01T18:59:59.999Z",
			[]string{"2025-03-01T19:00:00Z"}},
		{"at the slot: the next one", DefaultSchedule, shanghai, "2025-03-01T19:00:00Z",
			[]string{"2025-03-02T19:00:00Z"}},
		{"no zone: UTC", "30 2 * * 1-5", nil, "2025-03-07T03:00:00Z", // a Friday
			[]string{"2025-03-10T02:30:00Z", "2025-03-11T02:30:00Z"}},
		{"seconds field", "*/20 * * * * *", time.UTC, "2025-03-01T10:00:01Z",
			[]string{"2025-03-01T10:00:20Z", "2025-03-01T10:00:40Z", "2025-03-01T10:01:00Z"}},
		{"descriptor in the zone", "@daily", shanghai, "2025-03-01T00:00:00Z",
			[]string{"2025-03-01T16:00:00Z"}},
		{"@every: multiples of the period", "@every 3s", nil, "2025-03-01T10:00:01.5Z",
			[]string{"2025-03-01T10:00:03Z", "2025-03-01T10:00:06Z"}},
		{"@every hours", "@every 6h", nil, "2025-03-01T10:00:00Z",
			[]string{"2025-03-01T12:00:00Z", "2025-03-01T18:00:00Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSchedule(tt.spec, tt.loc)
			if err != nil {
				t.Fatal(err)
			}
			from := at(tt.from)
			for _, w := range tt.wants {
				got := s.Next(from)
				if !got.Equal(at(w)) {
					t.Fatalf("Next(%s) = %s, want %s", from.Format(time.RFC3339Nano), got.UTC().Format(time.RFC3339), w)
				}
				from = got
			}
		})
	}
}

// Workers started at different times must agree on the slots, or each
// would queue a scan of its own.
func TestEverySlotsDoNotDependOnTheStart(t *testing.T) {
	s, err := ParseSchedule("@every 5s", nil)
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	want := s.Next(base)
	for _, start := range []time.Duration{time.Millisecond, 1300 * time.Millisecond, 4999 * time.Millisecond} {
		if got := s.Next(base.Add(start)); !got.Equal(want) {
			t.Errorf("a process asking at +%s gets slot %s, one asking at +0 gets %s", start, got, want)
		}
	}
}

func TestParseScheduleErrors(t *testing.T) {
	tests := []struct{ spec, want string }{
		{"", "empty spec"},
		{"CRON_TZ=UTC 0 3 * * *", "give the time zone apart"},
		{"TZ=UTC 0 3 * * *", "give the time zone apart"},
		{"61 * * * *", "above maximum"},
		{"0 3 * *", "expected 5 to 6 fields"},
		{"0 0 30 2 *", "never fires"},
		{"@sometimes", "unrecognized descriptor"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			_, err := ParseSchedule(tt.spec, time.UTC)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one saying %q", err, tt.want)
			}
		})
	}
}
