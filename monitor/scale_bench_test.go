package monitor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/internal/testenv"
	"github.com/wxqr/wxqr/regen"
	"github.com/wxqr/wxqr/scans"
	"github.com/wxqr/wxqr/storage"
	"github.com/wxqr/wxqr/tasks"
)

// replyBytes counts the commands a client sends and the bytes of their
// arguments and replies (as go-redis prints them: close to the RESP size).
type replyBytes struct{ cmds, bytes int64 }

func (h *replyBytes) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *replyBytes) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		h.add(cmd)
		return err
	}
}
func (h *replyBytes) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, cmd := range cmds {
			h.add(cmd)
		}
		return err
	}
}
func (h *replyBytes) add(cmd redis.Cmder) {
	switch cmd.Name() {
	case "hello", "select", "client", "auth":
		return
	}
	h.cmds++
	h.bytes += int64(len(cmd.String()))
}

// fillCatalog writes n temporary codes in 10 campaigns into the indexes Put
// keeps, pipelined a thousand at a time, then has Recount count them: the
// catalog's own counting, without Put's transaction per code. The records
// are JSON and the index members hex ids, as a catalog written before the
// compact form holds them: they read the same, a little larger.
func fillCatalog(b *testing.B, rdb *redis.Client, cat *catalog.Catalog, n int) {
	b.Helper()
	ctx := b.Context()
	now := time.Now().UTC().Truncate(time.Second)
	p := rdb.Pipeline()
	for i := range n {
		spec := wxqr.Spec{Kind: wxqr.KindOATemp, AppID: "wxbench", SceneStr: "s" + strconv.Itoa(i)}.Normalize()
		rec := wxqr.Record{
			ID: spec.ID(), Spec: spec, Campaign: "c" + strconv.Itoa(i%10), Generation: 1,
			ExpireSeconds: 2592000, CreatedAt: now, ExpiresAt: now.Add(time.Duration(i%(30*24)) * time.Hour),
			Bucket: "codes", ObjectKey: spec.Key(), ContentType: "image/jpeg", Size: 30000,
		}
		data, err := json.Marshal(rec)
		if err != nil {
			b.Fatal(err)
		}
		p.Set(ctx, "wxqr:code:"+rec.ID, data, 0)
		p.ZAdd(ctx, "wxqr:campaign:"+rec.Campaign, redis.Z{Member: rec.ID})
		p.ZAdd(ctx, "wxqr:expiry", redis.Z{Score: float64(rec.ExpiresAt.Unix()), Member: rec.ID})
		if p.Len() >= 4000 || i == n-1 {
			if _, err := p.Exec(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	for c := range 10 {
		name := "c" + strconv.Itoa(c)
		if err := rdb.SAdd(ctx, "wxqr:campaigns", name).Err(); err != nil {
			b.Fatal(err)
		}
		if err := cat.Recount(ctx, name); err != nil {
			b.Fatal(err)
		}
	}
	if err := rdb.SAdd(ctx, "wxqr:apps", "wxbench").Err(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkCatalogScale measures, at 10,000 codes and at
// WXQR_BENCH_CODES (default 100,000), what a /campaigns view, the campaign
// part of enqueue status, a page deep in a campaign and a nightly scan plan
// (budget 300) cost in Redis commands, bytes and time. The costs must not
// grow with the catalog: compare the two sizes' figures.
func BenchmarkCatalogScale(b *testing.B) {
	large := 100_000
	if s := os.Getenv("WXQR_BENCH_CODES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatalf("WXQR_BENCH_CODES: %v", err)
		}
		large = n
	}
	for _, n := range []int{10_000, large} {
		b.Run(fmt.Sprintf("codes=%d", n), func(b *testing.B) {
			opts := testenv.RedisOptions(b)
			rdb := redis.NewClient(opts)
			b.Cleanup(func() { _ = rdb.Close() })
			cat := catalog.New(rdb, "")
			start := time.Now()
			fillCatalog(b, rdb, cat, n)
			b.Logf("filled %d codes in %s", n, time.Since(start).Round(time.Millisecond))
			store, err := storage.NewDir(b.TempDir(), "")
			if err != nil {
				b.Fatal(err)
			}
			sc, err := scans.New(b.Context(), rdb, cat, scans.Config{OpenIDKey: []byte("a key for the benchmark")})
			if err != nil {
				b.Fatal(err)
			}
			srv, err := New(Config{
				RedisConnOpt: asynq.RedisClientOpt{Addr: opts.Addr, DB: opts.DB, Username: opts.Username, Password: opts.Password},
				Redis:        rdb, Store: store, Catalog: cat, Scans: sc, Pauses: tasks.NewPauses(rdb, nil),
			})
			if err != nil {
				b.Fatal(err)
			}
			hs := httptest.NewServer(srv.Handler())
			b.Cleanup(hs.Close)
			deep, err := rdb.ZRangeArgs(b.Context(), redis.ZRangeArgs{Key: "wxqr:campaign:c3", Start: n/10 - 300, Stop: n/10 - 300}).Result()
			if err != nil || len(deep) != 1 {
				b.Fatalf("a code deep in c3: %v %v", deep, err)
			}
			planner, err := regen.NewPlanner(regen.PlannerConfig{
				Catalog: cat, Client: asynq.NewClientFromRedisClient(rdb),
				Budget: fixedBudget{tasks.LimitKey("wxbench", "qrcode/create"): 300},
			})
			if err != nil {
				b.Fatal(err)
			}
			get := func(path string) func(b *testing.B) {
				return func(b *testing.B) {
					resp, err := http.Get(hs.URL + path)
					if err != nil {
						b.Fatal(err)
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Fatalf("GET %s: %d", path, resp.StatusCode)
					}
				}
			}
			for _, op := range []struct {
				name string
				run  func(b *testing.B)
			}{
				{"campaigns-page", get("/campaigns")},
				{"campaign-page-deep", get("/campaigns/c3?after=" + deep[0])},
				{"status-campaigns", func(b *testing.B) {
					names, err := cat.Campaigns(b.Context())
					if err == nil {
						_, err = cat.CampaignStatsOf(b.Context(), append(names, ""), time.Now(), 24*time.Hour)
					}
					if err != nil {
						b.Fatal(err)
					}
				}},
				{"scan-plan", func(b *testing.B) {
					if _, err := planner.Plan(b.Context(), regen.Options{Within: 48 * time.Hour}); err != nil {
						b.Fatal(err)
					}
				}},
			} {
				b.Run(op.name, func(b *testing.B) {
					h := &replyBytes{}
					rdb.AddHook(h)
					ops := 0
					for b.Loop() {
						op.run(b)
						ops++
					}
					b.ReportMetric(float64(h.cmds)/float64(ops), "redis-cmds/op")
					b.ReportMetric(float64(h.bytes)/float64(ops), "redis-bytes/op")
				})
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(ctx)
		})
	}
}

// fixedBudget is a regen.Budget with fixed amounts left.
type fixedBudget map[string]int64

func (f fixedBudget) Remaining(_ context.Context, key string) (int64, error) {
	return f[key], nil
}
