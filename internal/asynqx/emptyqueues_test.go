package asynqx

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr/internal/fakeclock"
	"github.com/wxqr/wxqr/internal/testenv"
)

// dequeueCounter is a go-redis hook that counts asynq's dequeues of each
// queue that pass through it. go-redis's first EVALSHA of a script that
// Redis lacks, refused before it ran, is not counted.
type dequeueCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *dequeueCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *dequeueCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (c *dequeueCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if queue, ok := dequeueOf(cmd); ok && !redis.HasErrorPrefix(err, "NOSCRIPT") {
			c.mu.Lock()
			c.n[queue]++
			c.mu.Unlock()
		}
		return err
	}
}

func (c *dequeueCounter) count(queue string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[queue]
}

// TestSkipEmptyQueuesUnderAsynq runs asynq's own server over 40 queues with
// work in one of them. Every task is run; asynq's looks into each empty
// queue reach Redis once while the clock stands still, the others are
// answered by the client; once the wait has passed, a task queued in a
// queue found empty runs. A dequeue of another asynq version that the hook
// no longer recognises fails here (no look is answered by the client).
func TestSkipEmptyQueuesUnderAsynq(t *testing.T) {
	ctx := t.Context()
	opts := testenv.RedisOptions(t)
	clock := fakeclock.New(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	tried, reached := &dequeueCounter{n: map[string]int{}}, &dequeueCounter{n: map[string]int{}}
	rdb := redis.NewClient(opts)
	rdb.AddHook(tried)
	rdb.AddHook(newEmptyQueues(time.Minute, clock.Now))
	rdb.AddHook(reached)

	queues := map[string]int{}
	for i := range 40 {
		queues[fmt.Sprintf("q%02d", i)] = 1
	}
	const busy, tasks = "q17", 20
	// Queued before the server starts: a first look into an empty q17
	// would skip it for as long as the clock stands still.
	client := asynq.NewClient(asynq.RedisClientOpt{Addr: opts.Addr, DB: opts.DB, Password: opts.Password})
	t.Cleanup(func() { _ = client.Close() })
	for range tasks {
		if _, err := client.EnqueueContext(ctx, asynq.NewTask("t", nil), asynq.Queue(busy)); err != nil {
			t.Fatal(err)
		}
	}
	ran := make(chan string, tasks+1)
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Concurrency: 1, // one look for a task at a time
		Queues:      queues,
		LogLevel:    asynq.FatalLevel,
	})
	err := srv.Start(asynq.HandlerFunc(func(ctx context.Context, _ *asynq.Task) error {
		queue, _ := asynq.GetQueueName(ctx)
		ran <- queue
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Shutdown()
		_ = rdb.Close()
	})
	awaitRuns(t, ran, busy, tasks)

	var triedEmpty, reachedEmpty int
	for queue := range queues {
		if queue == busy {
			continue
		}
		if n := reached.count(queue); n > 1 {
			t.Errorf("asynq's looks into empty queue %s reached Redis %d times with the clock still, want at most 1", queue, n)
		}
		triedEmpty += tried.count(queue)
		reachedEmpty += reached.count(queue)
	}
	if reachedEmpty == 0 || triedEmpty <= reachedEmpty {
		t.Fatalf("asynq looked into empty queues %d times, %d of them in Redis: the client answered none of them (does it still recognise asynq's dequeue?)",
			triedEmpty, reachedEmpty)
	}

	var found string // a queue the client remembers as empty
	for queue := range queues {
		if queue != busy && reached.count(queue) == 1 {
			found = queue
			break
		}
	}
	if _, err := client.EnqueueContext(ctx, asynq.NewTask("t", nil), asynq.Queue(found)); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	awaitRuns(t, ran, found, 1)
}

// awaitRuns waits for n runs of tasks of queue.
func awaitRuns(t *testing.T, ran <-chan string, queue string, n int) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for i := range n {
		select {
		case got := <-ran:
			if got != queue {
				t.Fatalf("ran a task of %s, want %s", got, queue)
			}
		case <-timeout:
			t.Fatalf("%d of %d tasks of %s ran in 30 s", i, n, queue)
		}
	}
}

// TestSkipEmptyQueuesClient checks the clients SkipEmptyQueues makes, on
// one Redis and on a Redis Cluster: a script with the keys and arguments of
// asynq's dequeue that finds nothing runs once, and again only once
// emptyQueueWait has passed; one that finds something runs every time, as
// does a script with the same keys and other arguments.
func TestSkipEmptyQueuesClient(t *testing.T) {
	t.Run("redis", func(t *testing.T) {
		opts := testenv.RedisOptions(t)
		testSkipEmptyQueuesClient(t, asynq.RedisClientOpt{Addr: opts.Addr, DB: opts.DB, Password: opts.Password}, "")
	})
	t.Run("cluster", func(t *testing.T) {
		env := testenv.Cluster(t)
		// asynq's keys lie outside the test's prefix: the queues' names
		// carry a mark of the test's own, and their keys go with it.
		mark := strings.Trim(env.KeyPrefix, "{}:")
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := testenv.DeleteClusterKeys(ctx, env.Client, "asynq:{"+mark+"*"); err != nil {
				t.Error(err)
			}
		})
		testSkipEmptyQueuesClient(t, asynq.RedisClusterClientOpt{Addrs: env.Addrs}, mark)
	})
}

func testSkipEmptyQueuesClient(t *testing.T, opt asynq.RedisConnOpt, mark string) {
	ctx := t.Context()
	clock := fakeclock.New(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	rdb := skipEmpty{RedisConnOpt: opt, now: clock.Now}.MakeRedisClient().(redis.UniversalClient)
	t.Cleanup(func() { _ = rdb.Close() })
	empty, full, other := mark+"empty", mark+"full", mark+"other"

	// Counts its runs in the active key, and finds a task when the pending
	// key holds one, as asynq's dequeue would.
	look := redis.NewScript(`
redis.call("INCR", KEYS[3])
return redis.call("GET", KEYS[1])`)
	keys := func(queue string) []string {
		return []string{queueKey(queue, "pending"), queueKey(queue, "paused"), queueKey(queue, "active"), queueKey(queue, "lease")}
	}
	lookInto := func(queue string, args ...any) {
		t.Helper()
		if len(args) == 0 {
			args = []any{1764579600, queueKey(queue, "t:")} // asynq's
		}
		if err := look.Run(ctx, rdb, keys(queue), args...).Err(); err != nil && err != redis.Nil {
			t.Fatal(err)
		}
	}
	runs := func(queue string) int {
		t.Helper()
		n, err := rdb.Get(ctx, queueKey(queue, "active")).Int()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	if err := rdb.Set(ctx, queueKey(full, "pending"), "task", 0).Err(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		lookInto(empty)
		lookInto(full)
		lookInto(other, 1) // the keys of a dequeue, not its arguments
	}
	if got := runs(empty); got != 1 {
		t.Errorf("the look into the empty queue ran %d times in Redis, want 1", got)
	}
	if got := runs(full); got != 3 {
		t.Errorf("the look into the queue with a task ran %d times in Redis, want 3", got)
	}
	if got := runs(other); got != 3 {
		t.Errorf("a script that is not asynq's dequeue ran %d times, want 3", got)
	}
	clock.Advance(emptyQueueWait - time.Millisecond)
	lookInto(empty)
	if got := runs(empty); got != 1 {
		t.Errorf("the look into the empty queue ran %d times in Redis before the wait was over, want 1", got)
	}
	clock.Advance(time.Millisecond)
	lookInto(empty)
	if got := runs(empty); got != 2 {
		t.Errorf("the look into the empty queue ran %d times in Redis once the wait was over, want 2", got)
	}
}

// TestEmptyQueuesWait checks that a queue found empty is skipped until the
// wait has passed, and then asked again.
func TestEmptyQueuesWait(t *testing.T) {
	clock := fakeclock.New(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	e := newEmptyQueues(time.Second, clock.Now)
	if e.skips("q") {
		t.Fatal("skips a queue never looked into")
	}
	e.remember("q")
	clock.Advance(999 * time.Millisecond)
	if !e.skips("q") {
		t.Fatal("does not skip a queue found empty 999 ms ago")
	}
	clock.Advance(time.Millisecond)
	if e.skips("q") {
		t.Fatal("skips a queue found empty a second ago")
	}
}
