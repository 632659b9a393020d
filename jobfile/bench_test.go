package jobfile_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/wxqr/wxqr/jobfile"
	"github.com/wxqr/wxqr/jobfile/jobfiletest"
)

// writeJobs writes a jobs file of n oa_temp codes and returns its path.
func writeJobs(tb testing.TB, n int) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "jobs.csv")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "kind,app_id,scene_str,expire_seconds,campaign")
	for i := range n {
		fmt.Fprintf(w, "oa_temp,wxoa,coupon-%08d,604800,spring-2025\n", i)
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return path
}

// BenchmarkValidate measures the first pass over a jobs file. B/op is what
// the pass allocates in all (garbage, mostly); live-B/row is what it still
// holds at the end, per row: the in-file duplicate check's one 16-byte id
// per distinct code, with the 4-byte index of its app and kind for the
// pre-flight, plus map overhead. Rows themselves are never kept, so live
// memory does not follow the size of the rows.
//
// On the reference machine (2 cores), 100,000 rows (a 5 MB file): about
// 150 ms/op, 48 MB/op, 1.1M allocs/op, 28 live-B/row (2.8 MB live).
func BenchmarkValidate(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("rows=%d", n), func(b *testing.B) {
			src := jobfile.CSVFile{Path: writeJobs(b, n), Display: "jobs.csv"}
			chk := testChecker(jobfile.Defaults{})
			b.ReportAllocs()
			var live float64
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				plan, err := jobfile.Validate(b.Context(), src, chk, nil)
				if err != nil {
					b.Fatal(err)
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				if plan.Unique() != n {
					b.Fatalf("%d codes, want %d", plan.Unique(), n)
				}
				live = float64(after.HeapAlloc-min(before.HeapAlloc, after.HeapAlloc)) / float64(n)
				runtime.KeepAlive(plan)
			}
			b.ReportMetric(live, "live-B/row")
		})
	}
}

// TestValidateMemoryDoesNotFollowRowSize checks that what the first pass
// keeps is per code, not per byte of input: rows ten times longer cost no
// more memory.
func TestValidateMemoryDoesNotFollowRowSize(t *testing.T) {
	const n = 20_000
	liveAfter := func(padding int) uint64 {
		path := writePaddedJobs(t, n, padding)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		plan, err := jobfile.Validate(t.Context(), jobfile.CSVFile{Path: path, Display: "jobs.csv"}, testChecker(jobfile.Defaults{}), nil)
		if err != nil {
			t.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(plan)
		return after.HeapAlloc - min(before.HeapAlloc, after.HeapAlloc)
	}
	short, long := liveAfter(10), liveAfter(1000) // files of ~0.7 MB and ~20 MB
	if long > short+short/2 || long > 5<<20 {
		t.Errorf("live memory after the first pass: %d B for short rows, %d B for rows 100x longer; want about the same", short, long)
	}
}

// writePaddedJobs writes a jobs file of n codes whose campaign is padding
// bytes long.
func writePaddedJobs(t *testing.T, n, padding int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "jobs.csv")
	var b strings.Builder
	b.WriteString("kind,app_id,scene_str,campaign\n")
	for i := range n {
		fmt.Fprintf(&b, "oa_temp,wxoa,c-%08d,%s\n", i, strings.Repeat("x", padding))
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeWorkbookJobs writes a workbook of n oa_temp codes, each named, with
// excelize's StreamWriter, and returns its path.
func writeWorkbookJobs(tb testing.TB, n int) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "jobs.xlsx")
	jobfiletest.WriteWorkbook(tb, path, jobfiletest.Sheet{Name: "Codes", Rows: func(yield func(int, []any) bool) {
		if !yield(1, []any{"kind", "app_id", "scene_str", "expire_seconds", "campaign", "name"}) {
			return
		}
		for i := range n {
			if !yield(i+2, []any{"oa_temp", "wxoa", fmt.Sprintf("coupon-%08d", i), 604800, "spring-2025", fmt.Sprintf("Store %d - entrance", i)}) {
				return
			}
		}
	}})
	return path
}

// peakHeap runs fn and returns by how much the heap in use grew at most
// while it ran, sampled every sampleEvery rows through the sample function
// fn calls on each row.
func peakHeap(fn func(sample func(row int))) uint64 {
	const sampleEvery = 1000
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapInuse, ms.HeapInuse
	fn(func(row int) {
		if row%sampleEvery != 0 {
			return
		}
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapInuse)
	})
	return peak - base
}

// BenchmarkXLSXRows streams a workbook of 10,000 and of 100,000 rows
// through the XLSX source (opening it included), as each pass of enqueue
// does. peak-heap-MB is the most the heap in use grew while it ran: flat,
// as the sheet is read from a temporary file a row at a time. B/op is what
// the pass allocates in all, garbage mostly, and grows with the rows.
//
// On the reference machine (2 cores): 10,000 rows, 0.2 s/op, 3.5
// peak-heap-MB, 75 MB/op; 100,000 rows, 1.8 s/op, 3.3 peak-heap-MB,
// 750 MB/op. With excelize's default of 16 MB of a part in memory, the
// 10,000-row sheet peaked at 12.9 MB.
func BenchmarkXLSXRows(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("rows=%d", n), func(b *testing.B) {
			path := writeWorkbookJobs(b, n)
			b.ReportAllocs()
			var peak uint64
			for b.Loop() {
				peak = max(peak, peakHeap(func(sample func(int)) {
					src, err := jobfile.OpenWorkbook(path, "jobs.xlsx", "", jobfile.HeaderRules{})
					if err != nil {
						b.Fatal(err)
					}
					defer src.Close()
					rows := 0
					err = src.Each(b.Context(), func(line int, r *jobfile.Row) error {
						rows++
						sample(line)
						return nil
					})
					if err != nil || rows != n {
						b.Fatalf("each read %d rows (%v), want %d", rows, err, n)
					}
				}))
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
		})
	}
}
