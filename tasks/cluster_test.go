package tasks_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/internal/asynqx"
	"github.com/wxqr/wxqr/internal/testenv"
	"github.com/wxqr/wxqr/tasks"
)

// TestScriptsOnCluster runs every script of Pauses and Breaker on a Redis
// Cluster: each must find its keys in one slot (a script whose keys do not
// fails with CROSSSLOT), the pauses' next to asynq's flag of their queue.
func TestScriptsOnCluster(t *testing.T) {
	cluster := testenv.Cluster(t)
	ctx := t.Context()
	rdb := cluster.Client
	// Names of this test's own, outside its key prefix (the keys of pauses
	// and breakers have fixed prefixes): deleted when it ends.
	run := strings.Trim(cluster.KeyPrefix, "{}:")
	queue, other := run+".oa_perm", run+".oa_temp"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, pattern := range []string{"*" + run + "*"} {
			if err := testenv.DeleteClusterKeys(ctx, rdb, pattern); err != nil {
				t.Error(err)
			}
		}
		if err := rdb.SRem(ctx, "wxqr:pause:queues", queue, other).Err(); err != nil {
			t.Error(err)
		}
	})
	inspector := asynq.NewInspectorFromRedisClient(rdb)
	p := tasks.NewPauses(rdb, inspector)
	at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)

	t.Run("pause, list, resume due", func(t *testing.T) {
		daily := tasks.PauseState{Queue: queue, AppID: run, Class: wxqr.ClassOAPerm, Errcode: 45009,
			Reason: "daily quota", PausedAt: at, ResumeAt: at.Add(time.Hour)}
		if first, err := p.Pause(ctx, daily); err != nil || !first {
			t.Fatalf("Pause = %v, %v; want the first pause", first, err)
		}
		if n, err := rdb.Exists(ctx, asynqx.PausedKey(queue)).Result(); err != nil || n != 1 {
			t.Fatalf("asynq's pause flag: %d keys (%v), want it set", n, err)
		}
		list, err := p.List(ctx)
		if err != nil || len(list) != 1 || list[0].Queue != queue {
			t.Fatalf("List = %+v, %v; want the pause of %s", list, err, queue)
		}
		resumed, err := p.ResumeDue(ctx, daily.ResumeAt)
		if err != nil || len(resumed) != 1 {
			t.Fatalf("ResumeDue = %+v, %v; want the daily pause resumed", resumed, err)
		}
		if n, _ := rdb.Exists(ctx, asynqx.PausedKey(queue)).Result(); n != 0 {
			t.Error("asynq's pause flag outlived ResumeDue")
		}
		if list, err := p.List(ctx); err != nil || len(list) != 0 {
			t.Errorf("List after ResumeDue = %+v, %v; want none", list, err)
		}
	})
	t.Run("pause for good, resume", func(t *testing.T) {
		total := tasks.PauseState{Queue: queue, AppID: run, Class: wxqr.ClassOAPerm, Errcode: 45029,
			Reason: "lifetime quota", PausedAt: at}
		if first, err := p.Pause(ctx, total); err != nil || !first {
			t.Fatalf("Pause = %v, %v; want the first pause", first, err)
		}
		if err := p.Resume(ctx, queue); err != nil {
			t.Fatalf("Resume: %v", err)
		}
		if s, err := p.Paused(ctx, queue); err != nil || s != nil {
			t.Errorf("Paused after Resume = %+v, %v; want nil", s, err)
		}
		if members, _ := rdb.SMembers(ctx, "wxqr:pause:queues").Result(); containsString(members, queue) {
			t.Errorf("the index still holds %s after Resume", queue)
		}
	})
	t.Run("hold, extend, release", func(t *testing.T) {
		hold := tasks.PauseState{Queue: other, AppID: run, Class: wxqr.ClassOATemp, Reason: tasks.ReasonStorage,
			PausedAt: at, ResumeAt: at.Add(time.Minute)}
		if first, err := p.Hold(ctx, hold); err != nil || !first {
			t.Fatalf("Hold = %v, %v; want the first hold", first, err)
		}
		hold.ResumeAt = at.Add(2 * time.Minute)
		if first, err := p.Hold(ctx, hold); err != nil || first {
			t.Fatalf("second Hold = %v, %v; want it to extend the first", first, err)
		}
		if s, err := p.Paused(ctx, other); err != nil || s == nil || !s.ResumeAt.Equal(hold.ResumeAt) {
			t.Fatalf("Paused = %+v, %v; want the hold until %v", s, err, hold.ResumeAt)
		}
		if released, err := p.Release(ctx, other, tasks.ReasonStorage); err != nil || !released {
			t.Fatalf("Release = %v, %v; want the hold released", released, err)
		}
		if n, _ := rdb.Exists(ctx, asynqx.PausedKey(other)).Result(); n != 0 {
			t.Error("asynq's pause flag outlived Release")
		}
	})
	t.Run("breaker", func(t *testing.T) {
		b, err := tasks.NewBreaker(rdb, tasks.BreakerConfig{Failures: 3, Ratio: 0.5, Window: time.Minute,
			Pause: time.Minute, MaxPause: time.Minute, ProbeFailures: 2, ProbationFor: time.Minute}, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		key := run + ":qrcode/create"
		opened := false
		for range 3 {
			v, err := b.Record(ctx, key, true)
			if err != nil {
				t.Fatalf("Record: %v", err)
			}
			opened = opened || v.Opened
		}
		if !opened {
			t.Fatal("three failures did not open the breaker")
		}
		if wait, err := b.Open(ctx, key); err != nil || wait <= 0 {
			t.Errorf("Open = %v, %v; want the breaker open", wait, err)
		}
	})
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
