package regen

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/tasks"
)

// recordReads counts the record keys that commands name.
type recordReads struct{ n atomic.Int64 }

func (h *recordReads) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *recordReads) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.count(cmd)
		return next(ctx, cmd)
	}
}
func (h *recordReads) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			h.count(cmd)
		}
		return next(ctx, cmds)
	}
}
func (h *recordReads) count(cmd redis.Cmder) {
	if cmd.Name() != "mget" && cmd.Name() != "get" {
		return
	}
	for _, arg := range cmd.Args() {
		if s, ok := arg.(string); ok && strings.HasPrefix(s, "wxqr:code:") {
			h.n.Add(1)
		}
	}
}

// TestPlanReadsNoMoreThanTheBudget: with every app's budget spent after a
// few codes, a plan reads a page of due codes, not all of them.
func TestPlanReadsNoMoreThanTheBudget(t *testing.T) {
	e := newEnv(t)
	const due = 3*scanPage + 10
	for i := range due {
		put(t, e.cat, wxqr.Spec{Kind: wxqr.KindOATemp, AppID: "wxa", SceneStr: fmt.Sprintf("s%d", i)}, "c", 1, time.Duration(i)*time.Second)
	}
	reads := &recordReads{}
	e.rdb.AddHook(reads)
	for _, tt := range []struct {
		name       string
		budget     budgets
		wantItems  int
		wantSpent  bool
		wantQueued int
	}{
		{"budget of 10", budgets{tasks.LimitKey("wxa", "qrcode/create"): 10}, scanPage, true, 10},
		{"no budget", budgets{}, due, false, due},
	} {
		t.Run(tt.name, func(t *testing.T) {
			reads.n.Store(0)
			plan, err := e.planner(t, tt.budget).Plan(t.Context(), Options{Within: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			if len(plan.Items) != tt.wantItems || plan.BudgetsSpent != tt.wantSpent {
				t.Errorf("%d items, budgets spent %v; want %d, %v", len(plan.Items), plan.BudgetsSpent, tt.wantItems, tt.wantSpent)
			}
			if got := reads.n.Load(); got != int64(tt.wantItems) {
				t.Errorf("read %d records, want %d", got, tt.wantItems)
			}
			if got := plan.Report().Total().ToQueue; got != tt.wantQueued {
				t.Errorf("%d to queue, want %d", got, tt.wantQueued)
			}
		})
	}
}
