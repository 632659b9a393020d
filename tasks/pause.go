package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr"
)

// PauseState says why a queue (one quota class of one app) is paused. The
// queue itself is paused in asynq, for the whole fleet; the state is what
// asynq cannot hold: the reason, and when the pause ends by itself.
type PauseState struct {
	Queue    string          `json:"queue"`
	AppID    string          `json:"app_id"`
	Class    wxqr.QuotaClass `json:"class"`
	Errcode  int             `json:"errcode,omitempty"` // 45029, 45009; 0 when wxqr paused before WeChat said no
	Reason   string          `json:"reason"`            // for people; or ReasonStorage, ReasonWeChatUnavailable: see SelfHealing
	PausedAt time.Time       `json:"paused_at"`
	// ResumeAt is when the queue resumes by itself (the next daily quota
	// reset, the end of a breaker's pause, or the end of a storage pause
	// unless a failing probe extends it); zero means an operator must
	// resume it.
	ResumeAt time.Time `json:"resume_at,omitzero"`
}

// Pauses pauses and resumes queues across the fleet, and remembers why.
type Pauses struct {
	rdb       redis.UniversalClient
	inspector *asynq.Inspector
	prefix    string
}

// NewPauses returns Pauses keeping its states in rdb under "wxqr:pause:" and
// pausing queues through inspector.
func NewPauses(rdb redis.UniversalClient, inspector *asynq.Inspector) *Pauses {
	return &Pauses{rdb: rdb, inspector: inspector, prefix: "wxqr:pause:"}
}

func (p *Pauses) stateKey(queue string) string { return p.prefix + "queue:" + queue }
func (p *Pauses) indexKey() string             { return p.prefix + "queues" }

// pauseScript pauses a queue for the fleet and records why, in one step, so
// that concurrent pauses cannot overwrite each other out of order. KEYS:
// the state, asynq's pause flag, the index of paused queues. ARGV: the
// state, the time (asynq stores it in the flag), "1" when the pause is for
// good, the queue. It returns 1 when it recorded the state:
//   - the queue was running: whatever is recorded is stale (it was resumed in
//     the web UI), so the state is written;
//   - it was paused by hand (nothing recorded): only a pause for good is
//     recorded, as a timed one would end the operator's pause at the reset;
//   - a pause for good replaces a timed one (a 45029 outranks a daily
//     quota), never the reverse.
var pauseScript = redis.NewScript(`
local was_running = redis.call("SETNX", KEYS[2], ARGV[2]) == 1
local old = redis.call("GET", KEYS[1])
local write
if was_running then
	write = true
elseif not old then
	write = ARGV[3] == "1"
else
	write = ARGV[3] == "1" and cjson.decode(old).resume_at ~= nil
end
if write then
	redis.call("SET", KEYS[1], ARGV[1])
	redis.call("SADD", KEYS[3], ARGV[4])
	return 1
end
return 0`)

// Pause pauses the queue of s for the fleet and records why. It reports
// whether this call recorded the pause (false when another worker got there
// first with the same or a stronger reason), so that one worker reports
// each pause.
//
// It sets asynq's pause flag itself (the key Paused reads) so that flag and
// state change together.
func (p *Pauses) Pause(ctx context.Context, s PauseState) (first bool, err error) {
	data, err := json.Marshal(s)
	if err != nil {
		return false, fmt.Errorf("pause %s: %w", s.Queue, err)
	}
	written, err := pauseScript.Run(ctx, p.rdb,
		[]string{p.stateKey(s.Queue), asynqPausedKey(s.Queue), p.indexKey()},
		data, s.PausedAt.Unix(), flag(s.ResumeAt.IsZero()), s.Queue).Int()
	if err != nil {
		return false, fmt.Errorf("pause %s: %w", s.Queue, err)
	}
	return written == 1, nil
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// Paused returns the pause state of queue, or nil when it runs. asynq's own
// flag is the truth about whether the queue runs: a state without it is
// stale (resumed in the web UI) and is ignored.
func (p *Pauses) Paused(ctx context.Context, queue string) (*PauseState, error) {
	s, err := p.get(ctx, queue)
	if err != nil || s == nil {
		return nil, err
	}
	running, err := p.asynqRunning(ctx, queue)
	if err != nil || running {
		return nil, err
	}
	return s, nil
}

// asynqPausedKey is asynq's pause flag of queue: a key of asynq's internal
// layout (a test pins it). Reading it costs one EXISTS where the Inspector's
// public GetQueueInfo reads the queue's whole statistics, memory usage
// included; setting it with the state keeps the two in step.
func asynqPausedKey(queue string) string { return "asynq:{" + queue + "}:paused" }

// asynqRunning reads asynq's pause flag for queue.
func (p *Pauses) asynqRunning(ctx context.Context, queue string) (bool, error) {
	n, err := p.rdb.Exists(ctx, asynqPausedKey(queue)).Result()
	if err != nil {
		return false, fmt.Errorf("read pause flag of %s: %w", queue, err)
	}
	return n == 0, nil
}

func (p *Pauses) get(ctx context.Context, queue string) (*PauseState, error) {
	data, err := p.rdb.Get(ctx, p.stateKey(queue)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read pause state of %s: %w", queue, err)
	}
	var s PauseState
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("decode pause state of %s: %w", queue, err)
	}
	return &s, nil
}

// List returns every recorded pause, ordered by queue name.
func (p *Pauses) List(ctx context.Context) ([]PauseState, error) {
	queues, err := p.rdb.SMembers(ctx, p.indexKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("list pauses: %w", err)
	}
	sort.Strings(queues)
	var states []PauseState
	for _, q := range queues {
		s, err := p.Paused(ctx, q)
		if err != nil {
			return nil, err
		}
		if s != nil {
			states = append(states, *s)
		}
	}
	return states, nil
}

// Resume unpauses queue and forgets why it was paused.
func (p *Pauses) Resume(ctx context.Context, queue string) error {
	if err := p.inspector.UnpauseQueue(queue); err != nil && !isNotPaused(err) {
		return fmt.Errorf("resume %s: %w", queue, err)
	}
	return p.forget(ctx, queue)
}

// ResumeDue resumes every queue whose pause ends at or before now, and
// returns them. Every worker calls it now and then; resuming twice is
// harmless.
func (p *Pauses) ResumeDue(ctx context.Context, now time.Time) ([]PauseState, error) {
	states, err := p.List(ctx)
	if err != nil {
		return nil, err
	}
	var resumed []PauseState
	for _, s := range states {
		if s.ResumeAt.IsZero() || s.ResumeAt.After(now) {
			continue
		}
		if err := p.Resume(ctx, s.Queue); err != nil {
			return resumed, err
		}
		resumed = append(resumed, s)
	}
	return resumed, nil
}

func (p *Pauses) forget(ctx context.Context, queue string) error {
	_, err := p.rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.Del(ctx, p.stateKey(queue))
		pipe.SRem(ctx, p.indexKey(), queue)
		return nil
	})
	if err != nil {
		return fmt.Errorf("forget pause of %s: %w", queue, err)
	}
	return nil
}

// isNotPaused recognises asynq's error for resuming a running queue, which
// has no sentinel to match: it is what we wanted.
func isNotPaused(err error) bool { return strings.Contains(err.Error(), "not paused") }

// Waiting returns how many tasks queue holds that have not finished: what a
// pause holds back.
func (p *Pauses) Waiting(ctx context.Context, queue string) (int, error) {
	info, err := p.inspector.GetQueueInfo(queue)
	if err != nil {
		return 0, fmt.Errorf("inspect %s: %w", queue, err)
	}
	return info.Pending + info.Active + info.Scheduled + info.Retry, nil
}
