package regen

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
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
// few codes, a plan reads a page of due codes, not all of them. A Mini
// Program app makes no temporary code: it does not keep the plan reading,
// whether it has a qrcode/create budget left (the default budgets give
// every app one) or none at all, once the planner is told its type.
func TestPlanReadsNoMoreThanTheBudget(t *testing.T) {
	e := newEnv(t)
	const due = 3*scanPage + 10
	for i := range due {
		put(t, e.cat, wxqr.Spec{Kind: wxqr.KindOATemp, AppID: "wxa", SceneStr: fmt.Sprintf("s%d", i)}, "c", 1, time.Duration(i)*time.Second)
	}
	put(t, e.cat, wxqr.Spec{Kind: wxqr.KindWxaQRCode, AppID: "wxm", Path: "pages/a"}, "c", 1, 0)
	reads := &recordReads{}
	e.rdb.AddHook(reads)
	types := map[string]wxqr.AppType{"wxa": wxqr.AppOA, "wxm": wxqr.AppMP}
	oaBudget := tasks.LimitKey("wxa", "qrcode/create")
	for _, tt := range []struct {
		name       string
		budget     budgets
		types      map[string]wxqr.AppType
		wantItems  int
		wantSpent  bool
		wantQueued int
	}{
		{"budget of 10", budgets{oaBudget: 10}, types, scanPage, true, 10},
		{"no budget", budgets{}, types, due, false, due},
		{"mini program app with its budget left", budgets{oaBudget: 10, tasks.LimitKey("wxm", "qrcode/create"): 100000}, types, scanPage, true, 10},
		// Not told the app's type, the planner cannot rule its codes out.
		{"app of unknown type", budgets{oaBudget: 10}, nil, due, false, 10},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPlanner(PlannerConfig{
				Catalog: e.cat, Client: asynq.NewClientFromRedisClient(e.rdb), Budget: tt.budget, AppTypes: tt.types,
				Now: func() time.Time { return now },
			})
			if err != nil {
				t.Fatal(err)
			}
			reads.n.Store(0)
			plan, err := p.Plan(t.Context(), Options{Within: time.Hour})
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
			if _, ok := plan.BudgetLeft["wxm"]; ok {
				t.Errorf("BudgetLeft = %v, want no entry for the app without due codes", plan.BudgetLeft)
			}
		})
	}
}
