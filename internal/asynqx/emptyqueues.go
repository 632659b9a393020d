package asynqx

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// emptyQueueWait is how long a server's client answers asynq's tries of a
// queue where asynq found no task, before it asks Redis again: the shortest
// wait asynq itself adds when every queue is empty (half its
// TaskCheckInterval, whose default the worker keeps). An idle worker thus
// finds a new task as soon as asynq alone would; a busy one, at most that
// much later.
const emptyQueueWait = 500 * time.Millisecond

// SkipEmptyQueues returns opt with one change to the clients it makes: an
// asynq server's look for a task skips, for half a second, each queue where
// its last look found none.
//
// asynq's processor looks for a task by trying its queues one by one, in
// random order, until one gives a task (rdb.Dequeue): one Redis round trip
// and one Lua call per queue tried. A worker serves every queue of every
// app it makes codes for (200 apps × 4 quota classes = 800 queues), and
// work is in a few of them at a time, so a task cost hundreds of round
// trips, most of the worker's CPU and most of Redis's. The client remembers
// where the dequeue script found nothing (an empty queue, or a paused one)
// and gives asynq the script's empty reply for that queue itself, without a
// round trip, until emptyQueueWait has passed. Skipping a look never takes
// or loses a task: the task stays in Redis for the next look.
func SkipEmptyQueues(opt asynq.RedisConnOpt) asynq.RedisConnOpt {
	return skipEmpty{RedisConnOpt: opt, now: time.Now}
}

type skipEmpty struct {
	asynq.RedisConnOpt
	now func() time.Time
}

// MakeRedisClient implements asynq.RedisConnOpt.
func (s skipEmpty) MakeRedisClient() any {
	c := s.RedisConnOpt.MakeRedisClient()
	if rdb, ok := c.(redis.UniversalClient); ok {
		rdb.AddHook(newEmptyQueues(emptyQueueWait, s.now))
	}
	return c
}

// emptyQueues is the go-redis hook of SkipEmptyQueues.
type emptyQueues struct {
	wait time.Duration
	now  func() time.Time

	mu    sync.Mutex
	until map[string]time.Time // queue -> when to look there again
}

func newEmptyQueues(wait time.Duration, now func() time.Time) *emptyQueues {
	return &emptyQueues{wait: wait, now: now, until: map[string]time.Time{}}
}

func (e *emptyQueues) DialHook(next redis.DialHook) redis.DialHook { return next }

func (e *emptyQueues) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (e *emptyQueues) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		queue, ok := dequeueOf(cmd)
		if !ok {
			return next(ctx, cmd)
		}
		if e.skips(queue) {
			cmd.SetErr(redis.Nil)
			return redis.Nil
		}
		err := next(ctx, cmd)
		if errors.Is(err, redis.Nil) {
			e.remember(queue)
		}
		return err
	}
}

// skips reports whether queue was found empty less than wait ago.
func (e *emptyQueues) skips(queue string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	until, ok := e.until[queue]
	if ok && !e.now().Before(until) {
		delete(e.until, queue)
		return false
	}
	return ok
}

func (e *emptyQueues) remember(queue string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.until[queue] = e.now().Add(e.wait)
}

// dequeueOf returns the queue that cmd is asynq's dequeue script for
// (v0.26.0: rdb.Dequeue, run with go-redis's Script.Run as EVALSHA, or EVAL
// when Redis lacks the script): its keys are the queue's pending, paused,
// active and lease keys, its arguments the lease's end and the prefix of
// the queue's task keys. No other command has that shape.
func dequeueOf(cmd redis.Cmder) (string, bool) {
	if name := cmd.Name(); name != "evalsha" && name != "eval" {
		return "", false
	}
	args := cmd.Args()
	if len(args) != 9 {
		return "", false
	}
	if n, ok := args[2].(int); !ok || n != 4 {
		return "", false
	}
	pending, _ := args[3].(string)
	queue, ok := strings.CutPrefix(pending, "asynq:{")
	if !ok {
		return "", false
	}
	if queue, ok = strings.CutSuffix(queue, "}:pending"); !ok {
		return "", false
	}
	for i, suffix := range []string{"paused", "active", "lease"} {
		if args[4+i] != queueKey(queue, suffix) {
			return "", false
		}
	}
	if args[8] != queueKey(queue, "t:") {
		return "", false
	}
	return queue, true
}
