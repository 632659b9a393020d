package monitor

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wxqr/wxqr/scans"
)

func TestYScale(t *testing.T) {
	tests := []struct {
		peak, top, step int64
	}{
		{0, 1, 1},
		{1, 1, 1},
		{5, 5, 1},
		{6, 6, 2},
		{9, 10, 2},
		{11, 15, 5},
		{100, 100, 20},
		{101, 150, 50},
		{12345, 15000, 5000},
	}
	for _, tt := range tests {
		t.Run(strconv.FormatInt(tt.peak, 10), func(t *testing.T) {
			top, step := yScale(tt.peak)
			if top != tt.top || step != tt.step {
				t.Errorf("yScale(%d) = %d, %d; want %d, %d", tt.peak, top, step, tt.top, tt.step)
			}
		})
	}
}

// chartTestDays returns n days ending on Mar 30, 2025 (Shanghai), with the
// counts of day i made by counts(i).
func chartTestDays(n int, counts func(i int) scans.Counts) []scans.Day {
	shanghai := time.FixedZone("CST", 8*3600)
	last := time.Date(2025, 3, 30, 0, 0, 0, 0, shanghai)
	days := make([]scans.Day, n)
	for i := range days {
		days[i] = scans.Day{Date: last.AddDate(0, 0, i+1-n), Counts: counts(i)}
	}
	return days
}

func TestNewChart(t *testing.T) {
	// Scans grow by one a day up to 30; one new follow every third day;
	// launches on the last day only.
	days := chartTestDays(chartDays, func(i int) scans.Counts {
		c := scans.Counts{Scans: int64(i + 1)}
		if i%3 == 0 {
			c.NewFollows = 1
		}
		if i == chartDays-1 {
			c.Launches = 4
		}
		return c
	})
	c := newChart(days)

	t.Run("axes", func(t *testing.T) {
		var labels []string
		for _, tick := range c.YTicks {
			labels = append(labels, tick.Label)
		}
		if got := strings.Join(labels, " "); got != "0 10 20 30" {
			t.Errorf("y labels %q, want 0 10 20 30", got)
		}
		if first, last := c.YTicks[0], c.YTicks[len(c.YTicks)-1]; first.Pos != plotBottom || last.Pos != plotTop {
			t.Errorf("y axis from %v to %v, want %d to %d", first.Pos, last.Pos, plotBottom, plotTop)
		}
		labels = nil
		for _, tick := range c.XTicks {
			labels = append(labels, tick.Label)
		}
		if got := strings.Join(labels, ", "); got != "Mar 30, Mar 23, Mar 16, Mar 9, Mar 2" {
			t.Errorf("x labels %q, want every week back from the last day", got)
		}
	})

	t.Run("lines", func(t *testing.T) {
		want := map[string]int64{"Scans": 465, "New follows": 10, "Launches": 4}
		for _, s := range c.Series {
			if s.Total != want[s.Name] {
				t.Errorf("%s total %d, want %d", s.Name, s.Total, want[s.Name])
			}
			points := strings.Fields(s.Points)
			if len(points) != chartDays {
				t.Fatalf("%s: %d points, want %d", s.Name, len(points), chartDays)
			}
			if !strings.HasPrefix(points[0], strconv.Itoa(plotLeft)+".0,") || !strings.HasPrefix(points[chartDays-1], strconv.Itoa(plotRight)+".0,") {
				t.Errorf("%s runs from %s to %s, want the plot's width", s.Name, points[0], points[chartDays-1])
			}
		}
		// The last day's 30 scans reach the top of the axis.
		top := strconv.Itoa(plotRight) + ".0," + strconv.Itoa(plotTop) + ".0"
		if last := strings.Fields(c.Series[0].Points)[chartDays-1]; last != top {
			t.Errorf("last scans point %s, want %s", last, top)
		}
	})

	t.Run("day strips tile the plot", func(t *testing.T) {
		edge := coord(plotLeft)
		for _, d := range c.Days {
			if math.Abs(float64(d.X-edge)) > 1e-9 {
				t.Fatalf("%s starts at %v, want %v", d.Date, d.X, edge)
			}
			edge += d.Width
		}
		if math.Abs(float64(edge-plotRight)) > 1e-9 {
			t.Errorf("strips end at %v, want %d", edge, plotRight)
		}
		if d := c.Days[chartDays-1]; d.Date != "Mar 30" || d.Scans != 30 || d.Launches != 4 {
			t.Errorf("last day %+v", d)
		}
	})

	want := "From Mar 1 to Mar 30: scans 465, new follows 10, launches 4. Most scans on Mar 30 (30)."
	if c.Summary != want {
		t.Errorf("summary %q, want %q", c.Summary, want)
	}
}

func TestNewChartQuiet(t *testing.T) {
	c := newChart(chartTestDays(chartDays, func(int) scans.Counts { return scans.Counts{} }))
	if len(c.YTicks) != 2 || c.YTicks[1].Label != "1" {
		t.Errorf("y ticks %+v, want 0 and 1", c.YTicks)
	}
	for _, s := range c.Series {
		for _, p := range strings.Fields(s.Points) {
			if !strings.HasSuffix(p, ","+strconv.Itoa(plotBottom)+".0") {
				t.Errorf("%s point %s is off the axis", s.Name, p)
			}
		}
	}
	if want := "From Mar 1 to Mar 30: scans 0, new follows 0, launches 0."; c.Summary != want {
		t.Errorf("summary %q, want %q", c.Summary, want)
	}
}
