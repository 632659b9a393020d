package main

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/wxqr/wxqr/internal/asynqx"
	"github.com/wxqr/wxqr/tasks"
)

// queueTotals adds up what the worker's queues hold.
type queueTotals struct {
	Runnable int // in running queues (or held by a pause that ends by itself): pending, active, scheduled or waiting to retry
	Paused   int // the same, in queues paused until an operator or a quota reset resumes them
	Failed   int // archived: out of retries or refused by WeChat
}

// pauseReader tells why a queue is paused; *tasks.Pauses implements it.
type pauseReader interface {
	Paused(ctx context.Context, queue string) (*tasks.PauseState, error)
}

// inspectQueues reads the totals of queues, all of them in a few round
// trips however many there are (see asynqx.ReadQueues). A queue that never
// held a task counts as empty. A queue whose pause ends by itself (storage
// back, WeChat answering again) still counts as runnable: its work is not
// stuck.
func inspectQueues(ctx context.Context, rdb redis.UniversalClient, pauses pauseReader, queues []string) (queueTotals, error) {
	var t queueTotals
	stats, err := asynqx.ReadQueues(ctx, rdb, queues, time.Now())
	if err != nil {
		return t, fmt.Errorf("read the queues: %w", err)
	}
	for _, info := range stats {
		open := info.Pending + info.Active + info.Scheduled + info.Retry
		if info.Paused {
			s, err := pauses.Paused(ctx, info.Queue)
			if err != nil {
				return t, err
			}
			if s != nil && s.SelfHealing() {
				t.Runnable += open
			} else {
				t.Paused += open
			}
		} else {
			t.Runnable += open
		}
		t.Failed += info.Archived
	}
	return t, nil
}

// idleOutage is how long waitIdle keeps trying while Redis does not answer
// (a restart, a failover): the worker's own tasks survive that, and so must
// its wait for the end of the work.
const idleOutage = 5 * time.Minute

// waitIdle returns once queues hold nothing runnable, as seen by two reads in
// a row a poll interval apart (a task moving between states is never missed
// twice), or when ctx ends. Reads that fail are tried again for up to
// idleOutage.
func waitIdle(ctx context.Context, rdb redis.UniversalClient, pauses pauseReader, queues []string, poll time.Duration, log zerolog.Logger) (queueTotals, error) {
	ticker := time.NewTicker(poll)
	defer ticker.Stop()
	idleReads := 0
	var failingSince time.Time
	for {
		t, err := inspectQueues(ctx, rdb, pauses, queues)
		switch {
		case err != nil && ctx.Err() != nil:
			return t, ctx.Err()
		case err != nil:
			idleReads = 0
			if failingSince.IsZero() {
				failingSince = time.Now()
				log.Warn().Err(err).Msg("cannot read the queues; trying again (is Redis restarting or failing over?)")
			}
			if time.Since(failingSince) > idleOutage {
				return t, err
			}
		default:
			if !failingSince.IsZero() {
				log.Info().Msg("the queues can be read again")
				failingSince = time.Time{}
			}
			if t.Runnable == 0 {
				idleReads++
			} else {
				idleReads = 0
			}
			if idleReads == 2 {
				return t, nil
			}
		}
		select {
		case <-ctx.Done():
			return t, ctx.Err()
		case <-ticker.C:
		}
	}
}
