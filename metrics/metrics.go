// Package metrics exposes what wxqr does to Prometheus: asynq's queue
// metrics, and wxqr's own (WeChat calls, codes generated, rate-limit waits,
// token refreshes, daily budgets, paused queues and scan events).
//
// A Metrics owns its registry; nothing is registered with Prometheus's
// global one, so two Metrics (in tests, say) never collide. Counters and
// histograms are fed by the worker as things happen (Metrics is a
// tasks.Observer); budgets, pauses and scan events live in Redis and are
// read when Prometheus scrapes, so every worker of the fleet reports the
// same values.
//
// # Series
//
//	wxqr_wechat_requests_total{app_id,api,errcode}        counter
//	wxqr_wechat_request_duration_seconds{app_id,api}      histogram
//	wxqr_codes_generated_total{app_id,kind}               counter
//	wxqr_limiter_wait_seconds{app_id,api}                 histogram
//	wxqr_token_refreshes_total{app_id}                    counter
//	wxqr_daily_budget_used{app_id,api}                    gauge, read on scrape
//	wxqr_daily_budget_remaining{app_id,api}               gauge, read on scrape
//	wxqr_queue_paused{queue,app_id,class,reason}          gauge, read on scrape: 1 per paused queue
//	wxqr_scan_events_total{app_id,event,attributed}       counter, read on scrape: the fleet's scan events
//	asynq_*{queue}                                        asynq's queue metrics, read on scrape (see below)
//	go_*, process_*                                       the Go runtime and the process
//
// errcode is "0" for a call that succeeded, WeChat's errcode for a call it
// refused (see ErrcodeLabel for the failures that have none). reason is
// "total_quota" (45029), "daily_quota" (45009), "daily_budget" (wxqr's own
// budget, paused before WeChat said no) or "errcode_<n>" for any other
// recorded errcode. event is "subscribe", "SCAN" or "unsubscribe" (as WeChat
// pushed it) or "launch" (reported by a Mini Program); attributed is "true"
// when the event was traced to a code wxqr made, "false" otherwise (a scene
// wxqr never made, a follow from a search).
//
// # asynq's series
//
// The asynq_* series keep the names, labels and help texts of asynq's own
// collector (github.com/hibiken/asynq/x/metrics), which dashboards rely on:
// asynq_tasks_enqueued_total{queue,state} (a gauge, despite its name),
// asynq_queue_size, asynq_queue_latency_seconds,
// asynq_queue_memory_usage_approx_bytes, asynq_tasks_processed_total,
// asynq_tasks_failed_total and asynq_queue_paused_total (1 when paused).
// Where they differ: they are read in a few pipelined round trips for all
// queues (asynq's collector takes three per queue, seconds at hundreds of
// queues) and one read serves the scrapes of Config.QueueCacheFor; every
// configured queue is reported from the start, at zero; the memory
// estimate weighs one task per queue, not up to 20 per state; and a failed
// read is logged as wxqr's other scrape-time series are, not printed to
// the standard logger.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/ratelimit"
	"github.com/wxqr/wxqr/scans"
	"github.com/wxqr/wxqr/tasks"
)

// BudgetKey names one daily budget: one WeChat API of one app.
type BudgetKey struct {
	AppID string
	API   string // e.g. "qrcode/create"
}

// Config configures a Metrics. The zero value is valid: it reports the
// counters and histograms only.
type Config struct {
	// AsynqRedis is the Redis that asynq keeps its queues in, read for the
	// asynq_* series. Default nil: no asynq series.
	AsynqRedis redis.UniversalClient
	// Queues are the queues whose asynq_* series are reported from the
	// start, at zero until asynq has seen a task in them (the worker's:
	// every app × quota class). Queues that asynq knows are reported too.
	// Default none. Requires AsynqRedis.
	Queues []string
	// QueueCacheFor is how long one read of asynq's queues serves the
	// scrapes that follow: Prometheus servers scraping the same worker
	// share it. Default 5 s; negative: read on every scrape.
	QueueCacheFor time.Duration

	// Pauses lists the queues wxqr paused, with why (tasks.Pauses.List).
	// Default nil: no wxqr_queue_paused series.
	Pauses func(ctx context.Context) ([]tasks.PauseState, error)

	// Budgets lists the daily budgets to report. Default none.
	Budgets []BudgetKey
	// BudgetUsed reads how much of a budget is spent today, and its limit
	// (ratelimit.Budget.Used under the key the worker spends it with). A
	// budget that reports ratelimit.ErrNoBudget is left out. Required when
	// Budgets is not empty.
	BudgetUsed func(ctx context.Context, appID, api string) (used, limit int64, err error)

	// ScanEvents reads the fleet's scan event totals
	// (scans.Store.EventTotals). Default nil: no wxqr_scan_events_total
	// series.
	ScanEvents func(ctx context.Context) ([]scans.EventTotal, error)

	// ScrapeTimeout bounds the Redis reads of one scrape. Default 5 s.
	ScrapeTimeout time.Duration

	// Logger receives the errors met while serving a scrape. Default: a
	// logger that discards everything.
	Logger zerolog.Logger
}

// Defaults of Config.
const (
	DefaultScrapeTimeout = 5 * time.Second
	DefaultQueueCacheFor = 5 * time.Second
)

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.ScrapeTimeout == 0 {
		c.ScrapeTimeout = DefaultScrapeTimeout
	}
	if c.QueueCacheFor == 0 {
		c.QueueCacheFor = DefaultQueueCacheFor
	}
	return c
}

func (c Config) validate() error {
	if c.ScrapeTimeout < 0 {
		return fmt.Errorf("metrics: ScrapeTimeout must not be negative, got %s", c.ScrapeTimeout)
	}
	if len(c.Queues) > 0 && c.AsynqRedis == nil {
		return errors.New("metrics: AsynqRedis is required to report Queues")
	}
	if len(c.Budgets) > 0 && c.BudgetUsed == nil {
		return errors.New("metrics: BudgetUsed is required to report Budgets")
	}
	return nil
}

// Metrics is wxqr's Prometheus registry and the instruments that feed it.
// It is safe for concurrent use.
type Metrics struct {
	registry       *prometheus.Registry
	logger         zerolog.Logger
	requests       *prometheus.CounterVec
	requestSeconds *prometheus.HistogramVec
	generated      *prometheus.CounterVec
	limiterWait    *prometheus.HistogramVec
	tokenRefreshes *prometheus.CounterVec
}

var _ tasks.Observer = (*Metrics)(nil)

// New returns a Metrics with its own registry, configured by cfg after
// applying its defaults. It fails if cfg is invalid.
func New(cfg Config) (*Metrics, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		logger:   cfg.Logger,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wxqr_wechat_requests_total",
			Help: `WeChat API calls by app, API and outcome: errcode "0" is a success, another number WeChat's errcode; "http_404", "http_5xx", "transport", "canceled" and "other" are failures without one.`,
		}, []string{"app_id", "api", "errcode"}),
		requestSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "wxqr_wechat_request_duration_seconds",
			Help:    "How long WeChat API calls took, failed ones included, by app and API.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"app_id", "api"}),
		generated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wxqr_codes_generated_total",
			Help: "Codes generated (first generations and regenerations), stored and recorded, by app and kind.",
		}, []string{"app_id", "kind"}),
		limiterWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "wxqr_limiter_wait_seconds",
			Help: "How long calls waited for the cluster-wide rate limiter, by app and API.",
			// From "no wait" to the longest a limiter holds a task before
			// sending it back to its queue.
			Buckets: []float64{0, .01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"app_id", "api"}),
		tokenRefreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wxqr_token_refreshes_total",
			Help: "Access tokens fetched from WeChat by this process, by app.",
		}, []string{"app_id"}),
	}
	m.registry.MustRegister(
		m.requests, m.requestSeconds, m.generated, m.limiterWait, m.tokenRefreshes,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	if cfg.AsynqRedis != nil {
		m.registry.MustRegister(&queueCollector{
			rdb: cfg.AsynqRedis, configured: cfg.Queues,
			cacheFor: cfg.QueueCacheFor, timeout: cfg.ScrapeTimeout, now: time.Now,
		})
	}
	if cfg.Pauses != nil {
		m.registry.MustRegister(&pauseCollector{list: cfg.Pauses, timeout: cfg.ScrapeTimeout})
	}
	if len(cfg.Budgets) > 0 {
		m.registry.MustRegister(&budgetCollector{keys: cfg.Budgets, used: cfg.BudgetUsed, timeout: cfg.ScrapeTimeout})
	}
	if cfg.ScanEvents != nil {
		m.registry.MustRegister(&scanEventCollector{totals: cfg.ScanEvents, timeout: cfg.ScrapeTimeout})
	}
	return m, nil
}

// Registry returns the registry that holds every series, for a caller that
// wants to add its own.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// Handler serves the registry in Prometheus's exposition format. A series
// that cannot be read (Redis down) is left out of the scrape and logged;
// the rest is served.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{
		ErrorLog:      promLogger{m.logger},
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      m.registry, // counts the handler's own errors
	})
}

// WeChatCall counts one WeChat API call and its duration. err is what the
// client returned; see ErrcodeLabel.
func (m *Metrics) WeChatCall(appID, api string, err error, d time.Duration) {
	m.requests.WithLabelValues(appID, api, ErrcodeLabel(err)).Inc()
	m.requestSeconds.WithLabelValues(appID, api).Observe(d.Seconds())
}

// LimiterWait records how long a call waited for the rate limiter of an app
// and API.
func (m *Metrics) LimiterWait(appID, api string, d time.Duration) {
	m.limiterWait.WithLabelValues(appID, api).Observe(d.Seconds())
}

// CodeGenerated counts one generated code.
func (m *Metrics) CodeGenerated(appID string, kind wxqr.Kind) {
	m.generated.WithLabelValues(appID, string(kind)).Inc()
}

// TokenRefreshed counts one access token fetched from WeChat for an app.
func (m *Metrics) TokenRefreshed(appID string) {
	m.tokenRefreshes.WithLabelValues(appID).Inc()
}

// pauseCollector reports the paused queues, read when Prometheus scrapes.
type pauseCollector struct {
	list    func(ctx context.Context) ([]tasks.PauseState, error)
	timeout time.Duration
}

var pausedDesc = prometheus.NewDesc("wxqr_queue_paused",
	`1 for each queue (one quota class of one app) that wxqr paused, with why: "total_quota" (45029), "daily_quota" (45009), "daily_budget" (wxqr's own daily budget) or "errcode_<n>".`,
	[]string{"queue", "app_id", "class", "reason"}, nil)

func (c *pauseCollector) Describe(ch chan<- *prometheus.Desc) { ch <- pausedDesc }

func (c *pauseCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	states, err := c.list(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(pausedDesc, fmt.Errorf("list paused queues: %w", err))
		return
	}
	for _, s := range states {
		ch <- prometheus.MustNewConstMetric(pausedDesc, prometheus.GaugeValue, 1,
			s.Queue, s.AppID, string(s.Class), pauseReason(s))
	}
}

// pauseReason is a short, stable label for why a queue is paused; the
// state's Reason is prose for people.
func pauseReason(s tasks.PauseState) string {
	switch s.Errcode {
	case 45029:
		return "total_quota"
	case 45009:
		return "daily_quota"
	case 0:
		return "daily_budget"
	default:
		return "errcode_" + strconv.Itoa(s.Errcode)
	}
}

// budgetCollector reports the daily budgets, read when Prometheus scrapes.
type budgetCollector struct {
	keys    []BudgetKey
	used    func(ctx context.Context, appID, api string) (used, limit int64, err error)
	timeout time.Duration
}

var (
	budgetUsedDesc = prometheus.NewDesc("wxqr_daily_budget_used",
		"Calls spent today from wxqr's daily budget, by app and API (the day ends at 00:00 Asia/Shanghai).",
		[]string{"app_id", "api"}, nil)
	budgetRemainingDesc = prometheus.NewDesc("wxqr_daily_budget_remaining",
		"Calls left today in wxqr's daily budget, by app and API.",
		[]string{"app_id", "api"}, nil)
)

func (c *budgetCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- budgetUsedDesc
	ch <- budgetRemainingDesc
}

func (c *budgetCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	for _, k := range c.keys {
		used, limit, err := c.used(ctx, k.AppID, k.API)
		if errors.Is(err, ratelimit.ErrNoBudget) {
			continue
		}
		if err != nil {
			ch <- prometheus.NewInvalidMetric(budgetUsedDesc, fmt.Errorf("read daily budget of %s %s: %w", k.AppID, k.API, err))
			continue
		}
		ch <- prometheus.MustNewConstMetric(budgetUsedDesc, prometheus.GaugeValue, float64(used), k.AppID, k.API)
		ch <- prometheus.MustNewConstMetric(budgetRemainingDesc, prometheus.GaugeValue, float64(max(limit-used, 0)), k.AppID, k.API)
	}
}

// scanEventCollector reports the scan events the fleet counted, read when
// Prometheus scrapes: the counts live in Redis, shared by every callback
// server, so every worker reports the same totals.
type scanEventCollector struct {
	totals  func(ctx context.Context) ([]scans.EventTotal, error)
	timeout time.Duration
}

var scanEventsDesc = prometheus.NewDesc("wxqr_scan_events_total",
	`Scan events counted (WeChat's retries once), by app, event ("subscribe", "SCAN", "unsubscribe", "launch") and whether a code wxqr made was found for it.`,
	[]string{"app_id", "event", "attributed"}, nil)

func (c *scanEventCollector) Describe(ch chan<- *prometheus.Desc) { ch <- scanEventsDesc }

func (c *scanEventCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	totals, err := c.totals(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(scanEventsDesc, fmt.Errorf("read scan event totals: %w", err))
		return
	}
	for _, t := range totals {
		ch <- prometheus.MustNewConstMetric(scanEventsDesc, prometheus.CounterValue, float64(t.N),
			t.AppID, string(t.Event), strconv.FormatBool(t.Attributed))
	}
}

// promLogger sends promhttp's errors to zerolog.
type promLogger struct{ log zerolog.Logger }

func (l promLogger) Println(v ...any) { l.log.Error().Msg(fmt.Sprint(v...)) }
