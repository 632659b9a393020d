package config

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/term"
)

// Log formats.
const (
	LogJSON    = "json"
	LogConsole = "console"
)

// Log configures the logger.
type Log struct {
	// Level is the minimum level logged. LOG_LEVEL; default info.
	Level zerolog.Level
	// Format is LogJSON (one JSON object per line) or LogConsole (for
	// people). LOG_FORMAT; default "": JSON, or console when the log goes
	// to a terminal.
	Format string
}

// LoadLog reads LOG_LEVEL and LOG_FORMAT through getenv.
func LoadLog(getenv func(string) string) (Log, error) {
	l := Log{Level: zerolog.InfoLevel}
	if v := getenv(EnvLogLevel); v != "" {
		level, err := zerolog.ParseLevel(v)
		if err != nil || level == zerolog.NoLevel {
			return Log{}, fmt.Errorf("%s: want trace, debug, info, warn, error, fatal, panic or disabled, got %q", EnvLogLevel, v)
		}
		l.Level = level
	}
	switch v := getenv(EnvLogFormat); v {
	case "":
	case LogJSON, LogConsole:
		l.Format = v
	default:
		return Log{}, fmt.Errorf("%s: want json or console, got %q", EnvLogFormat, v)
	}
	return l, nil
}

// New returns a logger writing to w at l's level and in l's format, with a
// timestamp on every event. Console output is coloured only when w is a
// terminal.
//
// The logger is safe for concurrent use whatever w is: handlers log from
// many goroutines, and a caller may pass a writer that is not (a
// bytes.Buffer in tests), so every event is written under one lock, the
// console formatting included.
func (l Log) New(w io.Writer) zerolog.Logger {
	if l.Format == LogConsole || l.Format == "" && IsTerminal(w) {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339, NoColor: !IsTerminal(w)}
	}
	return zerolog.New(zerolog.SyncWriter(w)).Level(l.Level).With().Timestamp().Logger()
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
