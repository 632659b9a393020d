package main

import (
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/wxqr/wxqr/internal/config"
)

// showProgress reports the progress of what ("queueing", "verifying"): done
// codes of total, until the returned function is called. It shows a progress
// bar when stderr is a terminal, else a log line every logEvery. done is
// called from another goroutine.
func (c *cli) showProgress(what string, done func() int64, total int64) (stop func()) {
	var report func(final bool)
	interval := logEvery
	if config.IsTerminal(c.stderr) {
		bar := progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(c.stderr),
			progressbar.OptionSetDescription(what),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("codes"),
			progressbar.OptionFullWidth(),
		)
		interval = 100 * time.Millisecond
		report = func(final bool) {
			_ = bar.Set64(done())
			if final {
				_ = bar.Finish()
				c.stderr.Write([]byte("\n"))
			}
		}
	} else {
		report = func(final bool) {
			if !final {
				c.log.Info().Int64("done", done()).Int64("total", total).Msg(what)
			}
		}
	}

	ticker := time.NewTicker(interval)
	quit, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		for {
			select {
			case <-ticker.C:
				report(false)
			case <-quit:
				ticker.Stop()
				report(true)
				return
			}
		}
	}()
	return func() {
		close(quit)
		<-finished
	}
}
