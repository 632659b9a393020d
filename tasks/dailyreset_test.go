package tasks_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/wxqr/wxqr/internal/fakeclock"
	"github.com/wxqr/wxqr/ratelimit"
	"github.com/wxqr/wxqr/tasks"
	"github.com/wxqr/wxqr/wechat"
)

// TestDailyPauseJustAfterMidnight: WeChat's reset may lag the fleet's
// midnight, so a 45009 in its first minutes pauses for minutes; later in
// the day it pauses until the next midnight, and so does wxqr's own budget,
// which never lags.
func TestDailyPauseJustAfterMidnight(t *testing.T) {
	shanghai := ratelimit.DefaultLocation()
	midnight := time.Date(2026, 5, 2, 0, 0, 0, 0, shanghai)
	nextMidnight := midnight.AddDate(0, 0, 1)
	tests := []struct {
		name         string
		at           time.Time
		budgetSpent  bool // wxqr's own budget refuses instead of WeChat
		wantResumeAt time.Time
	}{
		{"45009 at 00:00:30", midnight.Add(30 * time.Second), false, midnight.Add(30*time.Second + 5*time.Minute)},
		{"45009 at 00:14:59", midnight.Add(15*time.Minute - time.Second), false, midnight.Add(20*time.Minute - time.Second)},
		{"45009 at 00:15", midnight.Add(15 * time.Minute), false, nextMidnight},
		{"45009 at 13:00", midnight.Add(13 * time.Hour), false, nextMidnight},
		{"own budget at 00:00:30", midnight.Add(30 * time.Second), true, nextMidnight},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			pauses, _, _ := newPauses(t)
			clock := fakeclock.New(tt.at)
			h := newHarness(t)
			h.configure(t, func(cfg *tasks.GeneratorConfig) { cfg.Now, cfg.Pauses = clock.Now, pauses })
			if tt.budgetSpent {
				h.exhaustBudget()
			} else {
				h.wechat.createErr = fmt.Errorf("create code: %w", &wechat.APIError{Op: apiCreate, Code: 45009, Msg: "reach max api daily quota limit"})
			}
			wantRetryLater(t, h.run(t, generateTask(t, tasks.GeneratePayload{Spec: tempSpec, ExpireSeconds: tempSeconds})))

			queue := tasks.QueueName(oaApp, tempSpec.Kind.Class())
			s, err := pauses.Paused(ctx, queue)
			if err != nil || s == nil {
				t.Fatalf("Paused(%s) = %+v, %v; want a daily pause", queue, s, err)
			}
			if !s.ResumeAt.Equal(tt.wantResumeAt) || !s.PausedAt.Equal(tt.at) {
				t.Errorf("paused at %s until %s, want at %s until %s", s.PausedAt, s.ResumeAt, tt.at, tt.wantResumeAt)
			}
			// The fleet's resume loop ends it then, not a second before.
			clock.Set(tt.wantResumeAt.Add(-time.Second))
			if resumed, err := pauses.ResumeDue(ctx, clock.Now()); err != nil || len(resumed) != 0 {
				t.Errorf("ResumeDue a second early = %+v, %v; want nothing", resumed, err)
			}
			clock.Set(tt.wantResumeAt)
			if resumed, err := pauses.ResumeDue(ctx, clock.Now()); err != nil || len(resumed) == 0 {
				t.Errorf("ResumeDue at %s = %+v, %v; want the queue resumed", tt.wantResumeAt, resumed, err)
			}
		})
	}
}
