package asynqx

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// asynq's keys that the queue reader reads (v0.26.0: internal/base/base.go).
// Every key of a queue but the set of queues carries the queue's name in a
// hash tag, so one queue's keys share a Redis Cluster slot.
const allQueuesKey = "asynq:queues" // SET of every queue asynq has seen (base.AllQueues)

func queueKey(queue, suffix string) string { return "asynq:{" + queue + "}:" + suffix }

// taskKey is the hash of one task (base.TaskKey).
func taskKey(queue, id string) string { return queueKey(queue, "t:"+id) }

// The states a task waits in, each a key of its queue: lists for pending
// and active (base.PendingKey, base.ActiveKey), sorted sets for the rest.
var states = [...]struct {
	suffix string
	list   bool
}{
	{"pending", true}, {"active", true},
	{"scheduled", false}, {"retry", false}, {"archived", false}, {"completed", false},
}

const (
	statePending = iota
	stateActive
	stateScheduled
	stateRetry
	stateArchived
	stateCompleted
)

// QueueStats is what asynq's Inspector.GetQueueInfo says of a queue, read
// by ReadQueues at a fraction of the cost. A queue asynq has never seen
// reads as empty and running.
type QueueStats struct {
	Queue string

	// Tasks in each state.
	Pending, Active, Scheduled, Retry, Archived, Completed int

	// ProcessedTotal and FailedTotal count the tasks processed (succeeded
	// or failed) and failed since the queue was created (asynq's counters,
	// which survive restarts).
	ProcessedTotal, FailedTotal int

	// Paused reports whether asynq's pause flag is set.
	Paused bool

	// Latency is how long the oldest pending task has waited; 0 when none
	// is pending.
	Latency time.Duration

	// MemoryUsage approximates the bytes the queue takes in Redis: its
	// state keys plus its task count times the size of one task it holds.
	// asynq samples up to 20 tasks of each state instead; wxqr's tasks of
	// one queue are alike, so one sample estimates nearly as well for far
	// fewer commands.
	MemoryUsage int64
}

// Size is the number of tasks in the queue, in every state, as asynq's
// QueueInfo.Size counts them (wxqr uses no task groups, so none is
// aggregating).
func (s QueueStats) Size() int {
	return s.Pending + s.Active + s.Scheduled + s.Retry + s.Archived + s.Completed
}

func (s *QueueStats) setState(state, n int) {
	switch state {
	case statePending:
		s.Pending = n
	case stateActive:
		s.Active = n
	case stateScheduled:
		s.Scheduled = n
	case stateRetry:
		s.Retry = n
	case stateArchived:
		s.Archived = n
	case stateCompleted:
		s.Completed = n
	}
}

// Queues returns the queues asynq knows: those that ever held a task.
func Queues(ctx context.Context, rdb redis.UniversalClient) ([]string, error) {
	queues, err := rdb.SMembers(ctx, allQueuesKey).Result()
	if err != nil {
		return nil, fmt.Errorf("list asynq's queues: %w", err)
	}
	return queues, nil
}

// ReadQueues reads the stats of queues, in their order, at time now (which
// latencies are measured to). asynq's Inspector.GetQueueInfo costs three
// round trips and two scripts per queue, one of which weighs up to 120
// tasks; ReadQueues takes at most three pipelined round trips for all the
// queues, whatever their number: the counts of every queue, then the key
// sizes and one sampled task of each queue that holds any, then a sample
// for a queue that holds no pending task. Its commands each name one
// queue's keys, so it runs on Redis Cluster too.
//
// The counts of one queue are read together but not atomically: a task
// moving between states while they are read may count in both or neither,
// as a scrape's snapshot allows.
func ReadQueues(ctx context.Context, rdb redis.UniversalClient, queues []string, now time.Time) ([]QueueStats, error) {
	stats := make([]QueueStats, len(queues))
	for i, q := range queues {
		stats[i].Queue = q
	}
	if len(queues) == 0 {
		return stats, nil
	}
	oldest, err := readCounts(ctx, rdb, stats)
	if err != nil {
		return nil, err
	}
	samples, err := readSizes(ctx, rdb, stats, oldest, now)
	if err != nil {
		return nil, err
	}
	if err := readSamples(ctx, rdb, stats, samples); err != nil {
		return nil, err
	}
	return stats, nil
}

// countCmds are the commands of one queue in readCounts' round trip.
type countCmds struct {
	states            [len(states)]*redis.IntCmd
	processed, failed *redis.StringCmd
	paused            *redis.IntCmd
	oldestPending     *redis.StringCmd
}

// readCounts fills in the state counts, totals and pause flags of stats
// and returns, per queue, the id of its oldest pending task ("" when none).
func readCounts(ctx context.Context, rdb redis.UniversalClient, stats []QueueStats) ([]string, error) {
	cmds := make([]countCmds, len(stats))
	pipe := rdb.Pipeline()
	for i := range stats {
		q, c := stats[i].Queue, &cmds[i]
		for s, st := range states {
			if st.list {
				c.states[s] = pipe.LLen(ctx, queueKey(q, st.suffix))
			} else {
				c.states[s] = pipe.ZCard(ctx, queueKey(q, st.suffix))
			}
		}
		c.processed = pipe.Get(ctx, queueKey(q, "processed"))
		c.failed = pipe.Get(ctx, queueKey(q, "failed"))
		c.paused = pipe.Exists(ctx, PausedKey(q))
		// asynq pushes on the left: the oldest pending task is the last.
		c.oldestPending = pipe.LIndex(ctx, queueKey(q, "pending"), -1)
	}
	if err := execPipe(ctx, pipe); err != nil {
		return nil, fmt.Errorf("read asynq's queue counts: %w", err)
	}
	oldest := make([]string, len(stats))
	for i := range stats {
		s, c := &stats[i], &cmds[i]
		for st, cmd := range c.states {
			s.setState(st, int(cmd.Val()))
		}
		var err error
		if s.ProcessedTotal, err = counter(c.processed); err != nil {
			return nil, fmt.Errorf("read asynq's processed total of %s: %w", s.Queue, err)
		}
		if s.FailedTotal, err = counter(c.failed); err != nil {
			return nil, fmt.Errorf("read asynq's failed total of %s: %w", s.Queue, err)
		}
		s.Paused = c.paused.Val() == 1
		oldest[i] = c.oldestPending.Val()
	}
	return oldest, nil
}

// sample is a task picked to weigh a queue's tasks: its id, or the command
// that reads one.
type sample struct {
	id    string
	read  redis.Cmder // LINDEX or ZRANGE of the queue's first non-empty state
	state int
}

// readSizes adds the memory of each non-empty queue's state keys, weighs
// the oldest pending task (whose enqueue time is also the queue's latency)
// and, for a queue with none pending, reads the id of a task to weigh.
func readSizes(ctx context.Context, rdb redis.UniversalClient, stats []QueueStats, oldest []string, now time.Time) ([]sample, error) {
	type sizeCmds struct {
		keys         []*redis.IntCmd
		pendingSince *redis.StringCmd
		oldestWeight *redis.IntCmd
	}
	cmds := make([]sizeCmds, len(stats))
	samples := make([]sample, len(stats))
	pipe := rdb.Pipeline()
	for i := range stats {
		s, c := &stats[i], &cmds[i]
		if s.Size() == 0 {
			continue
		}
		counts := [len(states)]int{s.Pending, s.Active, s.Scheduled, s.Retry, s.Archived, s.Completed}
		for st, n := range counts {
			if n > 0 {
				c.keys = append(c.keys, pipe.MemoryUsage(ctx, queueKey(s.Queue, states[st].suffix)))
			}
		}
		if oldest[i] != "" {
			key := taskKey(s.Queue, oldest[i])
			c.pendingSince = pipe.HGet(ctx, key, "pending_since")
			c.oldestWeight = pipe.MemoryUsage(ctx, key)
			continue
		}
		for st, n := range counts {
			if n == 0 {
				continue
			}
			key := queueKey(s.Queue, states[st].suffix)
			if states[st].list {
				samples[i] = sample{read: pipe.LIndex(ctx, key, 0), state: st}
			} else {
				samples[i] = sample{read: pipe.ZRange(ctx, key, 0, 0), state: st}
			}
			break
		}
	}
	if err := execPipe(ctx, pipe); err != nil {
		return nil, fmt.Errorf("read the memory of asynq's queues: %w", err)
	}
	for i := range stats {
		s, c := &stats[i], &cmds[i]
		for _, cmd := range c.keys {
			s.MemoryUsage += cmd.Val()
		}
		if c.oldestWeight != nil {
			s.MemoryUsage += int64(s.Size()) * c.oldestWeight.Val()
			// The task may have left the queue since: no latency then.
			if ns, err := strconv.ParseInt(c.pendingSince.Val(), 10, 64); err == nil {
				s.Latency = now.Sub(time.Unix(0, ns))
			}
		}
		switch read := samples[i].read.(type) {
		case *redis.StringCmd:
			samples[i].id = read.Val()
		case *redis.StringSliceCmd:
			if ids := read.Val(); len(ids) > 0 {
				samples[i].id = ids[0]
			}
		}
	}
	return samples, nil
}

// readSamples weighs the tasks readSizes picked and adds their share to
// the memory of their queues.
func readSamples(ctx context.Context, rdb redis.UniversalClient, stats []QueueStats, samples []sample) error {
	weights := make([]*redis.IntCmd, len(stats))
	pipe := rdb.Pipeline()
	for i, smp := range samples {
		if smp.id != "" {
			weights[i] = pipe.MemoryUsage(ctx, taskKey(stats[i].Queue, smp.id))
		}
	}
	if pipe.Len() == 0 {
		return nil
	}
	if err := execPipe(ctx, pipe); err != nil {
		return fmt.Errorf("weigh asynq's tasks: %w", err)
	}
	for i, w := range weights {
		if w != nil {
			stats[i].MemoryUsage += int64(stats[i].Size()) * w.Val()
		}
	}
	return nil
}

// execPipe runs a pipeline. A key that does not exist (a counter never
// incremented, a task gone since it was listed) is not a failure: its
// command reads as zero.
func execPipe(ctx context.Context, pipe redis.Pipeliner) error {
	cmds, err := pipe.Exec(ctx)
	if err == nil || errors.Is(err, redis.Nil) {
		for _, cmd := range cmds {
			if err := cmd.Err(); err != nil && !errors.Is(err, redis.Nil) {
				return err
			}
		}
		return nil
	}
	return err
}

// counter parses one of asynq's counters; a missing one is zero.
func counter(cmd *redis.StringCmd) (int, error) {
	v, err := cmd.Result()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(v)
}
