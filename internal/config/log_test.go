package config

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"
)

func TestLogNew(t *testing.T) {
	tests := []struct {
		name      string
		env       map[string]string
		wantLines int
		wantJSON  bool
	}{
		{"default: json at info", nil, 2, true},
		{"debug", map[string]string{EnvLogLevel: "debug"}, 3, true},
		{"warn", map[string]string{EnvLogLevel: "warn"}, 1, true},
		{"console", map[string]string{EnvLogFormat: "console"}, 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := LoadLog(env(tt.env))
			if err != nil {
				t.Fatalf("LoadLog: %v", err)
			}
			var out strings.Builder
			logger := l.New(&out)
			logger.Debug().Msg("debug")
			logger.Info().Str("app_id", "wx1").Msg("info")
			logger.Warn().Msg("warn")

			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if len(lines) != tt.wantLines {
				t.Fatalf("logged %d lines, want %d:\n%s", len(lines), tt.wantLines, out.String())
			}
			var event map[string]any
			isJSON := json.Unmarshal([]byte(lines[0]), &event) == nil
			if isJSON != tt.wantJSON {
				t.Errorf("line %q: JSON = %v, want %v", lines[0], isJSON, tt.wantJSON)
			}
			if isJSON && event["time"] == nil {
				t.Errorf("line %q has no time", lines[0])
			}
			if strings.Contains(out.String(), "\x1b[") {
				t.Errorf("output to a non-terminal is coloured: %q", out.String())
			}
		})
	}
}

func TestLoadLogLevels(t *testing.T) {
	for in, want := range map[string]zerolog.Level{"trace": zerolog.TraceLevel, "error": zerolog.ErrorLevel, "disabled": zerolog.Disabled} {
		l, err := LoadLog(env(map[string]string{EnvLogLevel: in}))
		if err != nil || l.Level != want {
			t.Errorf("LOG_LEVEL=%s: level %v, error %v; want %v", in, l.Level, err, want)
		}
	}
}

// TestLogNewConcurrent logs from many goroutines into a bytes.Buffer, which
// is not safe for concurrent use: under -race, a logger that writes without a
// lock fails here, and one that interleaves writes breaks lines apart.
func TestLogNewConcurrent(t *testing.T) {
	const goroutines, events = 16, 50
	for _, format := range []string{LogJSON, LogConsole} {
		t.Run(format, func(t *testing.T) {
			var out bytes.Buffer
			logger := Log{Level: zerolog.InfoLevel, Format: format}.New(&out)
			var wg sync.WaitGroup
			for g := range goroutines {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range events {
						logger.Info().Int("goroutine", g).Int("event", i).Msg("concurrent")
					}
				}()
			}
			wg.Wait()

			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if len(lines) != goroutines*events {
				t.Fatalf("logged %d lines, want %d", len(lines), goroutines*events)
			}
			for _, line := range lines {
				if format == LogJSON && !json.Valid([]byte(line)) || !strings.Contains(line, "concurrent") {
					t.Fatalf("line %q is not one whole event", line)
				}
			}
		})
	}
}
