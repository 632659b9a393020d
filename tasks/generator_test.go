package tasks_test

import (
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/wxqr/wxqr/tasks"
)

// TestNewGeneratorRejectsMissing: a generator without one of its required
// dependencies is refused when it is made, not found out inside a task.
func TestNewGeneratorRejectsMissing(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name   string
		change func(*tasks.GeneratorConfig)
		want   string
	}{
		{"no clients", func(c *tasks.GeneratorConfig) { c.Clients = nil }, "Clients"},
		{"nil client", func(c *tasks.GeneratorConfig) { c.Clients = map[string]tasks.WeChat{oaApp: nil} }, "app " + oaApp},
		{"no catalog", func(c *tasks.GeneratorConfig) { c.Catalog = nil }, "Catalog"},
		{"no store", func(c *tasks.GeneratorConfig) { c.Store = nil }, "Store"},
		{"no limiter", func(c *tasks.GeneratorConfig) { c.Limiter = nil }, "Limiter"},
		{"no pauses", func(c *tasks.GeneratorConfig) { c.Pauses = nil }, "Pauses"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := h.cfg
			tt.change(&cfg)
			gen, err := tasks.NewGenerator(cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewGenerator = %v, %v; want an error naming %s", gen, err, tt.want)
			}
		})
	}
	// The optional ones may all be left out.
	cfg := h.cfg
	cfg.Budget, cfg.Observer, cfg.Breaker, cfg.StorageHealth = nil, nil, nil, nil
	if _, err := tasks.NewGenerator(cfg); err != nil {
		t.Errorf("NewGenerator without optional dependencies: %v", err)
	}
}

// TestNewGeneratorDefaults: unset, the clock is time.Now, a task waiting on
// a held lock looks again in 5 s, and the logger logs nothing.
func TestNewGeneratorDefaults(t *testing.T) {
	h := newHarness(t)
	h.configure(t, func(c *tasks.GeneratorConfig) {
		c.Now, c.PausedRetry, c.Logger = nil, 0, zerolog.Logger{}
	})
	task := generateTask(t, tasks.GeneratePayload{Spec: permSpec})

	h.takeLock(t, permSpec.ID())
	if later := wantRetryLater(t, h.run(t, task)); later.After != 5*time.Second {
		t.Errorf("a held lock: retry in %v, want the default 5s", later.After)
	}
	if err := h.rdb.Del(t.Context(), lockKey(permSpec.ID())).Err(); err != nil {
		t.Fatal(err)
	}

	before := time.Now()
	if err := h.run(t, task); err != nil {
		t.Fatal(err)
	}
	rec, ok := h.record(t, permSpec.ID())
	if !ok {
		t.Fatal("the code was not recorded")
	}
	if rec.CreatedAt.Before(before.Truncate(time.Second)) || rec.CreatedAt.After(time.Now()) {
		t.Errorf("code made at %s, want the time of the run (%s) by the default clock", rec.CreatedAt, before)
	}
}
