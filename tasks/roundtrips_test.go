package tasks_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/internal/testenv"
	"github.com/wxqr/wxqr/ratelimit"
	"github.com/wxqr/wxqr/tasks"
)

// roundTrips is a go-redis hook that counts round trips: one per command
// sent alone, one per pipeline or transaction.
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.n.Add(1)
		return next(ctx, cmd)
	}
}

func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		r.n.Add(1)
		return next(ctx, cmds)
	}
}

// TestGenerateRoundTrips counts the Redis round trips of making one code
// with every Redis-backed part a worker has (catalog, pauses, daily budget,
// rate limiter, circuit breaker, storage watch) on one counted client, and
// holds each kind of code to its maximum: a count, not a time, so that a
// change that adds a round trip per code is seen. asynq's own commands (the
// inspector that Pauses asks) go on a client of their own and are not
// counted, nor are the syncs with the fleet of the circuit breaker (the
// count of the successes it holds, the check that it is open: one of each
// per app × API and SyncEvery) and of the storage watch (the run of failed
// puts and the staged bytes: per SyncEvery), however many codes.
func TestGenerateRoundTrips(t *testing.T) {
	tests := []struct {
		name string
		spec func(n int) wxqr.Spec
		// max is the round trips per code: Claim 1, pause 1, budget 1,
		// limiter 1, call mark with its lock check 1, stage 1, then for an
		// Official Account code showqrcode (no lock check: it spends no
		// quota; the breaker holds its success as it does create's); lock
		// check 1, Finish 1 (on what Claim read). The storage watch sends
		// nothing for a successful put while no put has failed.
		max int64
	}{
		{"oa_temp", func(n int) wxqr.Spec {
			return wxqr.Spec{Kind: wxqr.KindOATemp, AppID: oaApp, SceneID: int64(n + 1)}
		}, 8},
		{"oa_perm", func(n int) wxqr.Spec {
			return wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: oaApp, SceneID: int64(n + 1)}
		}, 8},
		{"wxa_qrcode", func(n int) wxqr.Spec {
			return wxqr.Spec{Kind: wxqr.KindWxaQRCode, AppID: mpApp, Path: fmt.Sprintf("pages/index?n=%d", n)}
		}, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			gen, count := newCountedGenerator(t)
			run := func(p tasks.GeneratePayload) int64 {
				t.Helper()
				task := generateTask(t, p)
				before := count.n.Load()
				if err := gen.ProcessTask(ctx, task); err != nil {
					t.Fatalf("code %s: %v", p.Spec.Scene(), err)
				}
				return count.n.Load() - before
			}
			// The first code loads the scripts (EVALSHA, then EVAL).
			run(tasks.GeneratePayload{Spec: tt.spec(0)})
			for n := 1; n <= 5; n++ {
				if got := run(tasks.GeneratePayload{Spec: tt.spec(n)}); got > tt.max {
					t.Errorf("code %d: %d Redis round trips, want at most %d", n, got, tt.max)
				}
			}
			// A regeneration names no campaign, and the code keeps its own.
			if spec := tt.spec(100); spec.Kind.Temporary() {
				run(tasks.GeneratePayload{Spec: spec, Campaign: "spring"})
				if got := run(tasks.GeneratePayload{Spec: spec, Generation: 2}); got > tt.max {
					t.Errorf("regeneration: %d Redis round trips, want at most %d", got, tt.max)
				}
			}
		})
	}
}

// newCountedGenerator returns a Generator whose Redis-backed parts share
// one client whose round trips are counted.
func newCountedGenerator(t *testing.T) (*tasks.Generator, *roundTrips) {
	t.Helper()
	opts := testenv.RedisOptions(t)
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	count := &roundTrips{}
	rdb.AddHook(count)
	inspector := asynq.NewInspector(asynq.RedisClientOpt{Addr: opts.Addr, DB: opts.DB, Password: opts.Password})
	t.Cleanup(func() { inspector.Close() })

	cat := catalog.New(rdb, "")
	// One sync with the fleet for the whole test: the syncs are not per
	// code.
	breaker := newBreakerOn(t, rdb, tasks.BreakerConfig{SyncEvery: time.Hour})
	health, err := tasks.NewStorageHealth(rdb, cat.StagedBytes, tasks.StorageHealthConfig{SyncEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	wechat := newFakeWeChat(t)
	gen, err := tasks.NewGenerator(tasks.GeneratorConfig{
		Clients: map[string]tasks.WeChat{oaApp: wechat, mpApp: wechat},
		Catalog: cat,
		Store:   newTestStore(t),
		Limiter: ratelimit.NewLimiter(rdb, ratelimit.Config{Limits: func(string) []ratelimit.Limit {
			return []ratelimit.Limit{{Rate: 1000, Per: time.Second, Burst: 1000}}
		}}),
		Budget: ratelimit.NewBudget(rdb, ratelimit.BudgetConfig{
			Limits: func(string) (int64, bool) { return 1000, true },
		}),
		Pauses:        tasks.NewPauses(rdb, inspector),
		Breaker:       breaker,
		StorageHealth: health,
		Logger:        zerolog.Nop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return gen, count
}
