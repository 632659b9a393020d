package config

import (
	"encoding/json"
	"strings"
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
