package main

import (
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/wxqr/wxqr/internal/config"
)

// showProgress reports q's progress towards total until the returned
// function is called: as a progress bar when stderr is a terminal, else as a
// log line every logEvery.
func (c *cli) showProgress(q *queuer, total int64) (stop func()) {
	var report func(final bool)
	interval := logEvery
	if config.IsTerminal(c.stderr) {
		bar := progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(c.stderr),
			progressbar.OptionSetDescription("queueing"),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("codes"),
			progressbar.OptionFullWidth(),
		)
		interval = 100 * time.Millisecond
		report = func(final bool) {
			_ = bar.Set64(q.done())
			if final {
				_ = bar.Finish()
				c.stderr.Write([]byte("\n"))
			}
		}
	} else {
		report = func(final bool) {
			if !final {
				c.log.Info().Int64("done", q.done()).Int64("total", total).Msg("queueing")
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
