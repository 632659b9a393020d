package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// report prints the medians over the rounds as a Markdown table, the
// ratios being medians of each round's ratio (a round's runs share the
// machine's mood), then what each kind of Redis key cost in the last round.
func report(w io.Writer, o *options, rounds []round) {
	n := o.codes
	med := func(f func(round) float64) float64 {
		vs := make([]float64, len(rounds))
		for i, r := range rounds {
			vs[i] = f(r)
		}
		slices.Sort(vs)
		if len(vs)%2 == 1 {
			return vs[len(vs)/2]
		}
		return (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2
	}
	ms := func(d time.Duration, codes int) float64 { return d.Seconds() * 1000 / float64(max(codes, 1)) }
	ratio := func(a, b float64) string {
		if b == 0 {
			return "—"
		}
		return fmt.Sprintf("%.2f", a/b)
	}
	// Each row is measured for some of the ways of making the codes: wxqr,
	// the naive loop, the naive loop on asynq.
	type row struct {
		name   string
		of     func(measured) float64
		in     [3]bool
		format string
	}
	all, queues := [3]bool{true, true, true}, [3]bool{true, false, true}
	eachCode := func(f func(measured) float64) func(measured) float64 {
		return func(m measured) float64 { return f(m) / float64(max(m.codes, 1)) }
	}
	msOf := func(d func(measured) time.Duration) func(measured) float64 {
		return func(m measured) float64 { return ms(d(m), m.codes) }
	}
	rows := []row{
		{"codes/s", func(m measured) float64 { return perSecond(m.codes, m.elapsed) }, all, "%.0f"},
		{"CPU per code, the process making codes", msOf(func(m measured) time.Duration { return m.cpu }), all, "%.2f ms"},
		{"MinIO CPU per code", msOf(func(m measured) time.Duration { return m.minioCPU }), all, "%.2f ms"},
		{"Redis CPU per code", msOf(func(m measured) time.Duration { return m.redisCPU }), queues, "%.2f ms"},
		{"Redis commands per code (the process's and bench's polling)",
			eachCode(func(m measured) float64 { return float64(m.redis.commands) }), queues, "%.1f"},
		{"Redis traffic per code, in and out", eachCode(func(m measured) float64 { return float64(m.redis.bytes) / 1024 }), queues, "%.1f KB"},
		{"Redis bytes per finished code", eachCode(func(m measured) float64 { return float64(m.redisBytes) }), [3]bool{true}, "%.0f B"},
		{"new connections to the simulator", func(m measured) float64 { return float64(m.conns) }, all, "%.0f"},
	}
	ways := func(r round) [3]measured { return [3]measured{r.wxqr, r.naive, r.queued} }
	fmt.Fprintf(w, "%d codes at concurrency %d, simulator latency %v, median of %d rounds (raw PUTs, naive, naive on asynq, wxqr, ...)",
		n, o.concurrency, o.latency, len(rounds))
	if o.idleApps > 0 {
		fmt.Fprintf(w, "; the worker also serves %d apps with empty queues", o.idleApps)
	}
	fmt.Fprint(w, "\n\n")
	fmt.Fprintln(w, "| measure | wxqr | naive loop | naive loop on asynq | wxqr / naive | wxqr / naive on asynq |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, r := range rows {
		cells := []string{r.name}
		for i := range 3 {
			cell := "—"
			if r.in[i] {
				cell = fmt.Sprintf(r.format, med(func(x round) float64 { return r.of(ways(x)[i]) }))
			}
			cells = append(cells, cell)
		}
		for i := 1; i < 3; i++ {
			cell := "—"
			if r.in[i] {
				cell = fmt.Sprintf("%.2f", med(func(x round) float64 {
					if v := r.of(ways(x)[i]); v != 0 {
						return r.of(x.wxqr) / v
					}
					return 0
				}))
			}
			cells = append(cells, cell)
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
	}
	puts := med(func(r round) float64 { return perSecond(r.puts.n, r.puts.elapsed) })
	fmt.Fprintf(w, "\nraw S3 PUTs: %.0f/s, MinIO CPU %.2f ms per PUT; naive loop at %s of it, wxqr at %s\n",
		puts, med(func(r round) float64 { return ms(r.puts.minioCPU, r.puts.n) }),
		ratio(med(func(r round) float64 { return perSecond(r.naive.codes, r.naive.elapsed) }), puts),
		ratio(med(func(r round) float64 { return perSecond(r.wxqr.codes, r.wxqr.elapsed) }), puts))

	last := rounds[len(rounds)-1]
	codes := float64(max(last.wxqr.codes, 1))
	fmt.Fprintf(w, "\nRedis keys after the last wxqr run (MEMORY USAGE of up to %d keys of each kind, times the keys):\n\n", keySample)
	fmt.Fprintln(w, "| key | keys | bytes | per code | expires in |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	var passing int64
	for _, k := range last.keys {
		expires := "never"
		if k.ttl >= 0 {
			expires = k.ttl.Round(time.Second).String()
		}
		if k.ttl >= 0 && k.ttl <= transient {
			passing += k.bytes
		}
		fmt.Fprintf(w, "| `%s` | %d | %d | %.0f B | %s |\n", k.pattern, k.keys, k.bytes, float64(k.bytes)/codes, expires)
	}
	fmt.Fprintf(w, "\nOf the Redis bytes per code, %.0f B are in keys that expire within %v of the run.\n", float64(passing)/codes, transient)
}

// transient is how soon a key must expire to count as the run's passing
// state (the circuit breaker's window of calls), not the codes' cost.
const transient = time.Minute
