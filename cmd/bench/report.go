package main

import (
	"fmt"
	"io"
	"slices"
	"time"
)

// report prints the medians over the rounds as a Markdown table, the
// ratios being medians of each round's ratio (a round's two runs share the
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
	type row struct {
		name        string
		wxqr, naive func(round) float64
		format      string
	}
	rows := []row{
		{"codes/s", func(r round) float64 { return perSecond(r.wxqr.codes, r.wxqr.elapsed) },
			func(r round) float64 { return perSecond(r.naive.codes, r.naive.elapsed) }, "%.0f"},
		{"CPU per code, the process making codes", func(r round) float64 { return ms(r.wxqr.cpu, r.wxqr.codes) },
			func(r round) float64 { return ms(r.naive.cpu, r.naive.codes) }, "%.2f ms"},
		{"MinIO CPU per code", func(r round) float64 { return ms(r.wxqr.minioCPU, r.wxqr.codes) },
			func(r round) float64 { return ms(r.naive.minioCPU, r.naive.codes) }, "%.2f ms"},
		{"Redis CPU per code", func(r round) float64 { return ms(r.wxqr.redisCPU, r.wxqr.codes) },
			nil, "%.2f ms"},
		{"Redis commands per code (the worker's and bench's polling)", func(r round) float64 { return float64(r.wxqr.redis.commands) / float64(max(r.wxqr.codes, 1)) },
			nil, "%.1f"},
		{"Redis traffic per code, in and out", func(r round) float64 { return float64(r.wxqr.redis.bytes) / 1024 / float64(max(r.wxqr.codes, 1)) },
			nil, "%.1f KB"},
		{"Redis bytes per finished code", func(r round) float64 { return float64(r.redisBytes) / float64(max(r.wxqr.codes, 1)) },
			nil, "%.0f B"},
		{"new connections to the simulator", func(r round) float64 { return float64(r.wxqr.conns) },
			func(r round) float64 { return float64(r.naive.conns) }, "%.0f"},
	}
	fmt.Fprintf(w, "%d codes at concurrency %d, simulator latency %v, median of %d rounds (raw PUTs, naive, wxqr, ...)\n\n",
		n, o.concurrency, o.latency, len(rounds))
	fmt.Fprintln(w, "| measure | wxqr | naive loop | wxqr / naive |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, r := range rows {
		naive, rat := "—", "—"
		if r.naive != nil {
			naive = fmt.Sprintf(r.format, med(r.naive))
			rat = fmt.Sprintf("%.2f", med(func(x round) float64 {
				if v := r.naive(x); v != 0 {
					return r.wxqr(x) / v
				}
				return 0
			}))
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", r.name, fmt.Sprintf(r.format, med(r.wxqr)), naive, rat)
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
