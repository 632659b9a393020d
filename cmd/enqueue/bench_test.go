package main

import (
	"fmt"
	"testing"
)

// BenchmarkQueue queues 20,000 new oa_temp codes per op into the real Redis
// and reports codes/s. On the reference machine (2 cores, Redis on the same
// host): 27,000 to 35,000 codes/s with the default 32 goroutines, so 100,000
// codes take 3 to 4 s.
func BenchmarkQueue(b *testing.B) {
	const n = 20_000
	h := newHarness(b)
	first := 1
	for b.Loop() {
		ids := fmt.Sprintf("%d-%d", first, first+n-1)
		first += n
		r := h.mustRun(b, "", "--app", "wxoa", "--kind", "oa_temp", "--scene-ids", ids)
		checkSummary(b, r.stdout, map[string]int{"queued": n})
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "codes/s")
}
