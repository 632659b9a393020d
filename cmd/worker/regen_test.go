package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/internal/testenv"
	"github.com/wxqr/wxqr/ratelimit"
	"github.com/wxqr/wxqr/regen"
	"github.com/wxqr/wxqr/tasks"
)

func TestParseRegen(t *testing.T) {
	from := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name        string
		env         map[string]string
		wantNext    time.Time // zero: the schedule is off
		wantHorizon time.Duration
	}{
		{"defaults: 03:00 in Shanghai, 48 h", nil, time.Date(2025, 3, 1, 19, 0, 0, 0, time.UTC), 48 * time.Hour},
		{"schedule, zone and horizon", map[string]string{
			envRegenSchedule: "30 4 * * *", envRegenZone: "UTC", envRegenHorizon: "3d",
		}, time.Date(2025, 3, 1, 4, 30, 0, 0, time.UTC), 72 * time.Hour},
		{"seconds for tests", map[string]string{
			envRegenSchedule: "@every 3s", envRegenHorizon: "90s",
		}, from.Add(3 * time.Second), 90 * time.Second},
		{"off", map[string]string{envRegenSchedule: "off", envRegenHorizon: "36h"}, time.Time{}, 36 * time.Hour},
		{"OFF", map[string]string{envRegenSchedule: " OFF "}, time.Time{}, 48 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := parseRegen(func(k string) string { return tt.env[k] })
			if err != nil {
				t.Fatal(err)
			}
			if rs.horizon != tt.wantHorizon {
				t.Errorf("horizon %s, want %s", rs.horizon, tt.wantHorizon)
			}
			switch {
			case tt.wantNext.IsZero() && rs.schedule != nil:
				t.Errorf("schedule %v, want off", rs.schedule)
			case !tt.wantNext.IsZero() && rs.schedule == nil:
				t.Errorf("schedule off, want one")
			case !tt.wantNext.IsZero():
				if got := rs.schedule.Next(from); !got.Equal(tt.wantNext) {
					t.Errorf("first slot after %s: %s, want %s", from, got.UTC(), tt.wantNext)
				}
			}
		})
	}
}

func TestParseRegenErrors(t *testing.T) {
	tests := []struct {
		name, key, value string
	}{
		{"zone", envRegenZone, "Mars/Olympus_Mons"},
		{"horizon", envRegenHorizon, "soon"},
		{"negative horizon", envRegenHorizon, "-2h"},
		{"schedule", envRegenSchedule, "every night"},
		{"zone in the schedule", envRegenSchedule, "CRON_TZ=UTC 0 3 * * *"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseRegen(func(k string) string {
				if k == tt.key {
					return tt.value
				}
				return ""
			})
			if err == nil || !strings.HasPrefix(err.Error(), tt.key+": ") {
				t.Errorf("error %v, want one naming %s", err, tt.key)
			}
		})
	}
}

// TestStartRegen runs the worker's part of regeneration against a real
// Redis: the schedule queues a scan each second, the worker's asynq server
// runs it, and the scan queues the due codes.
func TestStartRegen(t *testing.T) {
	tests := []struct {
		name     string
		schedule string
	}{
		{"scheduled", "@every 1s"},
		// Off: this worker queues no scan but runs the ones others queue.
		{"off", "off"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := testenv.RedisOptions(t)
			rdb := redis.NewClient(opts)
			t.Cleanup(func() { rdb.Close() })
			cat := catalog.New(rdb, "")
			due := putTemporary(t, cat, 1, time.Hour)
			putTemporary(t, cat, 2, 3*time.Hour) // beyond the horizon

			rs, err := parseRegen(func(k string) string {
				return map[string]string{envRegenSchedule: tt.schedule, envRegenHorizon: "2h"}[k]
			})
			if err != nil {
				t.Fatal(err)
			}
			mux := asynq.NewServeMux()
			stop, err := startRegen(t.Context(), rs, mux, rdb, cat, ratelimit.NewBudget(rdb, ratelimit.BudgetConfig{}), nil, time.Now, zerolog.Nop())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(stop)
			srv := asynq.NewServer(asynq.RedisClientOpt{Addr: opts.Addr, DB: opts.DB, Username: opts.Username, Password: opts.Password},
				asynq.Config{Concurrency: 1, Queues: map[string]int{regen.QueueName: 1}, LogLevel: asynq.FatalLevel})
			if err := srv.Start(mux); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(srv.Shutdown)
			if rs.schedule == nil {
				// Another worker queues the slot.
				if _, err := regen.EnqueueScan(t.Context(), asynq.NewClientFromRedisClient(rdb), time.Now(), time.Hour); err != nil {
					t.Fatal(err)
				}
			}

			report := waitReport(t, rdb)
			if tot := report.Total(); tot.Due != 1 || tot.Queued+tot.AlreadyQueued != 1 {
				t.Errorf("scan report %+v, want the one code due within 2 h queued", tot)
			}
			inspector := asynq.NewInspectorFromRedisClient(rdb)
			infos, err := inspector.ListPendingTasks(tasks.QueueName("wxoa", wxqr.ClassOATemp))
			if err != nil {
				t.Fatal(err)
			}
			if want := due.ID + ":g2"; len(infos) != 1 || infos[0].ID != want {
				t.Errorf("queued %d tasks (%v), want one: %s", len(infos), infos, want)
			}
		})
	}
}

// putTemporary records a temporary code of app wxoa, expiring in expiresIn.
func putTemporary(t *testing.T, cat *catalog.Catalog, scene int64, expiresIn time.Duration) *wxqr.Record {
	t.Helper()
	spec := wxqr.Spec{Kind: wxqr.KindOATemp, AppID: "wxoa", SceneID: scene}
	now := time.Now().UTC()
	rec := &wxqr.Record{
		ID: spec.ID(), Spec: spec, Ticket: "t", URL: "http://weixin.qq.com/q/x",
		ExpireSeconds: 86400, ExpiresAt: now.Add(expiresIn), CreatedAt: now, Generation: 1,
		Bucket: "codes", ObjectKey: spec.Key(), ContentType: "image/jpeg", Size: 1, SHA256: strings.Repeat("0", 64),
	}
	if err := cat.Put(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	return rec
}

// waitReport waits for the first scan's report.
func waitReport(t *testing.T, rdb redis.UniversalClient) *regen.Report {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		r, err := regen.LastReport(t.Context(), rdb)
		if err == nil {
			return r
		}
		if !errors.Is(err, regen.ErrNoReport) {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("no scan ran within 30 s")
		}
		select {
		case <-t.Context().Done():
			t.Fatal(t.Context().Err())
		case <-tick.C:
		}
	}
}
