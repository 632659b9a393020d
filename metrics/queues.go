package metrics

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr/internal/asynqx"
)

// queueCollector reports asynq's queue series under the names, labels and
// help texts of asynq's own collector (github.com/hibiken/asynq/x/metrics),
// which dashboards rely on, but reads them cheaply: asynq's collector calls
// Inspector.GetQueueInfo per queue per scrape (three round trips and two
// scripts each, one of which weighs up to 120 tasks), which takes seconds
// at hundreds of queues. This one reads every queue in a few pipelined
// round trips (asynqx.ReadQueues) and serves one read to every scrape for
// cacheFor.
//
// It reports the configured queues from the start, at zero before asynq
// has seen a task in them, so that an alert on a missing series does not
// fire for a queue that is merely unused; queues asynq knows that are not
// configured (an app since removed) are reported too.
type queueCollector struct {
	rdb        redis.UniversalClient
	configured []string
	cacheFor   time.Duration
	timeout    time.Duration
	now        func() time.Time

	// mu serializes reads, so that concurrent scrapes wait for the one
	// read under way rather than each starting its own.
	mu     sync.Mutex
	readAt time.Time
	stats  []asynqx.QueueStats
}

// asynq's collector's descriptors, word for word.
var (
	tasksQueuedDesc = prometheus.NewDesc("asynq_tasks_enqueued_total",
		"Number of tasks enqueued; broken down by queue and state.",
		[]string{"queue", "state"}, nil)
	queueSizeDesc = prometheus.NewDesc("asynq_queue_size",
		"Number of tasks in a queue",
		[]string{"queue"}, nil)
	queueLatencyDesc = prometheus.NewDesc("asynq_queue_latency_seconds",
		"Number of seconds the oldest pending task is waiting in pending state to be processed.",
		[]string{"queue"}, nil)
	queueMemUsgDesc = prometheus.NewDesc("asynq_queue_memory_usage_approx_bytes",
		"Number of memory used by a given queue (approximated number by sampling).",
		[]string{"queue"}, nil)
	tasksProcessedTotalDesc = prometheus.NewDesc("asynq_tasks_processed_total",
		"Number of tasks processed (both succeeded and failed); broken down by queue",
		[]string{"queue"}, nil)
	tasksFailedTotalDesc = prometheus.NewDesc("asynq_tasks_failed_total",
		"Number of tasks failed; broken down by queue",
		[]string{"queue"}, nil)
	pausedQueuesDesc = prometheus.NewDesc("asynq_queue_paused_total",
		"Number of queues paused",
		[]string{"queue"}, nil)
)

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		tasksQueuedDesc, queueSizeDesc, queueLatencyDesc, queueMemUsgDesc,
		tasksProcessedTotalDesc, tasksFailedTotalDesc, pausedQueuesDesc,
	} {
		ch <- d
	}
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	stats, err := c.read()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(queueSizeDesc, err)
		return
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, s := range stats {
		q := s.Queue
		gauge(tasksQueuedDesc, float64(s.Active), q, "active")
		gauge(tasksQueuedDesc, float64(s.Pending), q, "pending")
		gauge(tasksQueuedDesc, float64(s.Scheduled), q, "scheduled")
		gauge(tasksQueuedDesc, float64(s.Retry), q, "retry")
		gauge(tasksQueuedDesc, float64(s.Archived), q, "archived")
		gauge(tasksQueuedDesc, float64(s.Completed), q, "completed")
		gauge(queueSizeDesc, float64(s.Size()), q)
		gauge(queueLatencyDesc, s.Latency.Seconds(), q)
		gauge(queueMemUsgDesc, float64(s.MemoryUsage), q)
		ch <- prometheus.MustNewConstMetric(tasksProcessedTotalDesc, prometheus.CounterValue, float64(s.ProcessedTotal), q)
		ch <- prometheus.MustNewConstMetric(tasksFailedTotalDesc, prometheus.CounterValue, float64(s.FailedTotal), q)
		paused := 0.0
		if s.Paused {
			paused = 1
		}
		gauge(pausedQueuesDesc, paused, q)
	}
}

// read returns the stats of the configured queues and of every other queue
// asynq knows, from the last read if it is younger than cacheFor. A failed
// read is not kept: the next scrape tries again.
func (c *queueCollector) read() ([]asynqx.QueueStats, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.stats != nil && now.Sub(c.readAt) < c.cacheFor {
		return c.stats, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	known, err := asynqx.Queues(ctx, c.rdb)
	if err != nil {
		return nil, err
	}
	queues := slices.Clone(c.configured)
	configured := make(map[string]bool, len(queues))
	for _, q := range queues {
		configured[q] = true
	}
	slices.Sort(known)
	for _, q := range known {
		if !configured[q] {
			queues = append(queues, q)
		}
	}
	stats, err := asynqx.ReadQueues(ctx, c.rdb, queues, now)
	if err != nil {
		return nil, fmt.Errorf("read asynq's queues: %w", err)
	}
	c.stats, c.readAt = stats, now
	return stats, nil
}
