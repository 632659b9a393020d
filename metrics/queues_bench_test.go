package metrics

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	asynqmetrics "github.com/hibiken/asynq/x/metrics"
	"github.com/hibiken/asynqmon"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr/internal/redisinfo"
	"github.com/wxqr/wxqr/internal/testenv"
)

// BenchmarkQueues measures what reading hundreds of queues costs, at 8, 80
// and 800 queues (200 apps × 4 quota classes) holding three tasks each (two
// pending, one scheduled), on the real Redis:
//
//	asynq    one scrape with asynq's collector (x/metrics), GetQueueInfo per queue
//	wxqr     one scrape with wxqr's (asynqx.ReadQueues), its cache off
//	asynqmon one GET /monitoring/api/queues of the asynq web UI (asynqmon
//	         v0.7.2), which reads every queue as asynq's collector does
//
// Besides the time per operation it reports cmds/op, the commands the
// client sent (a pipeline's count, a script one), round-trips/op (a
// pipeline is one: on a network each costs its latency), server-calls/op, the
// commands Redis ran (INFO commandstats, scripts' own calls included; the
// server's, so other clients of the same Redis inflate it), and, at 80 and
// 800 queues, x8-time, the time as a multiple of the same measure at 8
// queues in this run. Run it with
//
//	go test -run '^$' -bench BenchmarkQueues -benchtime 5x ./metrics/
func BenchmarkQueues(b *testing.B) {
	opts := testenv.RedisOptions(b)
	admin := redis.NewClient(opts)
	b.Cleanup(func() { _ = admin.Close() })
	filler := asynq.NewClientFromRedisClient(admin)
	b.Cleanup(func() { _ = filler.Close() })

	baseline := map[string]float64{} // ns/op at 8 queues, by measure
	var queues []string
	for _, n := range []int{8, 80, 800} {
		for i := len(queues); i < n; i++ {
			q := fmt.Sprintf("wxbench%03d.oa_temp", i)
			queues = append(queues, q)
			for _, opt := range []asynq.Option{nil, nil, asynq.ProcessIn(time.Hour)} {
				o := []asynq.Option{asynq.Queue(q)}
				if opt != nil {
					o = append(o, opt)
				}
				if _, err := filler.EnqueueContext(b.Context(), asynq.NewTask("bench", []byte(`{"spec":{"kind":"oa_temp"}}`)), o...); err != nil {
					b.Fatal(err)
				}
			}
		}
		for _, measure := range []string{"asynq", "wxqr", "asynqmon"} {
			b.Run(fmt.Sprintf("queues=%d/%s", n, measure), func(b *testing.B) {
				counter := &commandCounter{}
				rdb := redis.NewClient(opts)
				rdb.AddHook(counter)
				op := queueMeasure(b, measure, rdb, queues)
				op() // connect, load scripts
				counter.n.Store(0)
				counter.trips.Store(0)
				before := serverCalls(b, admin)
				start := time.Now()
				for b.Loop() {
					op()
				}
				elapsed := time.Since(start)
				b.StopTimer()
				calls := serverCalls(b, admin) - before - 1 // the INFO itself
				perOp := float64(elapsed.Nanoseconds()) / float64(b.N)
				b.ReportMetric(float64(counter.n.Load())/float64(b.N), "cmds/op")
				b.ReportMetric(float64(counter.trips.Load())/float64(b.N), "round-trips/op")
				b.ReportMetric(float64(calls)/float64(b.N), "server-calls/op")
				if n == 8 {
					baseline[measure] = perOp
				} else if base := baseline[measure]; base > 0 {
					b.ReportMetric(perOp/base, "x8-time")
				}
			})
		}
	}
}

// queueMeasure returns one operation of a measure over rdb, which it
// closes when b ends.
func queueMeasure(b *testing.B, measure string, rdb *redis.Client, queues []string) func() {
	b.Helper()
	switch measure {
	case "asynq":
		inspector := asynq.NewInspectorFromRedisClient(rdb)
		b.Cleanup(func() { _ = inspector.Close(); _ = rdb.Close() })
		return gatherer(b, asynqmetrics.NewQueueMetricsCollector(inspector))
	case "wxqr":
		b.Cleanup(func() { _ = rdb.Close() })
		return gatherer(b, &queueCollector{rdb: rdb, configured: queues, cacheFor: -1, timeout: time.Minute, now: time.Now})
	case "asynqmon":
		ui := asynqmon.New(asynqmon.Options{RootPath: "/monitoring", RedisConnOpt: clientOpt{rdb}})
		b.Cleanup(func() { _ = ui.Close() }) // closes rdb too
		srv := httptest.NewServer(ui)
		b.Cleanup(srv.Close)
		return func() {
			resp, err := http.Get(srv.URL + "/monitoring/api/queues")
			if err != nil {
				b.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("GET /monitoring/api/queues: HTTP %d", resp.StatusCode)
			}
		}
	}
	b.Fatalf("no measure %q", measure)
	return nil
}

// gatherer returns a scrape of c alone.
func gatherer(b *testing.B, c prometheus.Collector) func() {
	b.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	return func() {
		mfs, err := reg.Gather()
		if err != nil {
			b.Fatal(err)
		}
		if len(mfs) == 0 {
			b.Fatal("the scrape is empty")
		}
	}
}

// clientOpt hands asynqmon a client of ours, whose commands are counted.
type clientOpt struct{ rdb *redis.Client }

func (o clientOpt) MakeRedisClient() any { return o.rdb }

// serverCalls is the number of commands Redis has run since its start.
func serverCalls(b *testing.B, rdb *redis.Client) int64 {
	b.Helper()
	info, err := rdb.Info(b.Context(), "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	var total int64
	for name, stats := range redisinfo.Parse(info) {
		calls, ok := strings.CutPrefix(stats, "calls=")
		if !strings.HasPrefix(name, "cmdstat_") || !ok {
			continue
		}
		calls, _, _ = strings.Cut(calls, ",")
		n, err := strconv.ParseInt(calls, 10, 64)
		if err != nil {
			b.Fatalf("INFO commandstats %s: %q: %v", name, stats, err)
		}
		total += n
	}
	return total
}
