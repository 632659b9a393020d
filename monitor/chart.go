package monitor

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/wxqr/wxqr/scans"
)

// chartDays is how many days a campaign's chart shows, today included.
const chartDays = 30

// The chart's geometry, in its own units: the SVG scales to the page.
const (
	chartWidth, chartHeight = 960, 250
	plotLeft, plotRight     = 52, 926 // room for the y labels, and half a date past the last day
	plotTop, plotBottom     = 10, 220 // room for the dates below
)

// chart is a campaign's scans, new follows and launches per day, laid out
// on the server: the page draws it as inline SVG, with no script and
// nothing loaded from elsewhere.
type chart struct {
	Width, Height            int
	Left, Right, Top, Bottom int // the plot area
	PlotHeight               int
	YTicks, XTicks           []chartTick
	Series                   []chartSeries
	Days                     []chartDay
	// Summary says in words what the chart shows, for those who cannot
	// see it (the SVG's <desc>).
	Summary string
}

// chartTick is a labelled position on an axis.
type chartTick struct {
	Pos   coord
	Label string
}

// coord is a position or length in the chart, written to a tenth of a
// unit: finer is invisible and only makes the page longer.
type coord float64

func (c coord) String() string { return strconv.FormatFloat(float64(c), 'f', 1, 64) }

// chartSeries is one line of the chart. Lines differ by dash as well as
// by colour, for readers who do not tell the colours apart.
type chartSeries struct {
	Name   string
	Color  string
	Dash   string // stroke-dasharray; "" for a solid line
	Points string // the polyline's points
	Total  int64
}

// chartDay is one day: its numbers, and the strip of the plot that shows
// its numbers when hovered.
type chartDay struct {
	Date                        string
	Scans, NewFollows, Launches int64
	X, Width                    coord
}

// chartLines are the series drawn, with what each reads from a day.
var chartLines = []struct {
	name, color, dash string
	value             func(scans.Counts) int64
}{
	{"Scans", "#0b6bcb", "", func(c scans.Counts) int64 { return c.Scans }},
	{"New follows", "#12805c", "6 4", func(c scans.Counts) int64 { return c.NewFollows }},
	{"Launches", "#c4320a", "2 3", func(c scans.Counts) int64 { return c.Launches }},
}

// newChart lays out days (oldest first, one per day, at least one).
func newChart(days []scans.Day) chart {
	c := chart{
		Width: chartWidth, Height: chartHeight,
		Left: plotLeft, Right: plotRight, Top: plotTop, Bottom: plotBottom, PlotHeight: plotBottom - plotTop,
	}
	var peak int64
	for _, line := range chartLines {
		for _, d := range days {
			peak = max(peak, line.value(d.Counts))
		}
	}
	top, step := yScale(peak)
	y := func(v int64) coord { return plotBottom - coord(v)/coord(top)*(plotBottom-plotTop) }
	for v := int64(0); v <= top; v += step {
		c.YTicks = append(c.YTicks, chartTick{Pos: y(v), Label: formatCount(v)})
	}
	stride := coord(plotRight-plotLeft) / coord(max(len(days)-1, 1))
	x := func(i int) coord { return plotLeft + coord(i)*stride }
	// Label every week back from today, which is always labelled.
	for i := len(days) - 1; i >= 0; i -= 7 {
		c.XTicks = append(c.XTicks, chartTick{Pos: x(i), Label: days[i].Date.Format("Jan 2")})
	}
	for _, line := range chartLines {
		s := chartSeries{Name: line.name, Color: line.color, Dash: line.dash}
		points := make([]string, len(days))
		for i, d := range days {
			v := line.value(d.Counts)
			points[i] = x(i).String() + "," + y(v).String()
			s.Total += v
		}
		s.Points = strings.Join(points, " ")
		c.Series = append(c.Series, s)
	}
	for i, d := range days {
		// Each day's strip runs halfway to its neighbours, inside the plot.
		left, right := max(x(i)-stride/2, plotLeft), min(x(i)+stride/2, plotRight)
		c.Days = append(c.Days, chartDay{
			Date: d.Date.Format("Jan 2"), Scans: d.Scans, NewFollows: d.NewFollows, Launches: d.Launches,
			X: left, Width: right - left,
		})
	}
	c.Summary = chartSummary(days, c.Series)
	return c
}

// yScale returns the top of the y axis and the step between its ticks: a
// round step (1, 2 or 5 times a power of ten) that covers peak in at most
// five steps, and at least one step.
func yScale(peak int64) (top, step int64) {
	for power := int64(1); ; power *= 10 {
		for _, m := range []int64{1, 2, 5} {
			step = m * power
			if step*5 >= peak {
				steps := max((peak+step-1)/step, 1)
				return steps * step, step
			}
		}
	}
}

// chartSummary says what a chart shows: its days, each line's total and
// the busiest day.
func chartSummary(days []scans.Day, series []chartSeries) string {
	first, last := days[0].Date.Format("Jan 2"), days[len(days)-1].Date.Format("Jan 2")
	var totals []string
	for _, s := range series {
		totals = append(totals, strings.ToLower(s.Name)+" "+formatCount(s.Total))
	}
	text := fmt.Sprintf("From %s to %s: %s.", first, last, strings.Join(totals, ", "))
	busiest := days[0]
	for _, d := range days {
		if d.Scans > busiest.Scans {
			busiest = d
		}
	}
	if busiest.Scans > 0 {
		text += fmt.Sprintf(" Most scans on %s (%s).", busiest.Date.Format("Jan 2"), formatCount(busiest.Scans))
	}
	return text
}
