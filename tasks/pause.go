package tasks

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/internal/asynqx"
	"github.com/wxqr/wxqr/ratelimit"
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
	// Flag is the value Pause wrote into asynq's pause flag
	// (asynqx.PausedKey); Pause sets it. The state holds only while the flag
	// still holds this value: once the queue was resumed by other means and
	// paused again by hand, the flag holds asynq's own value and the state
	// is stale, so it can never end the operator's pause.
	Flag string `json:"flag,omitempty"`
}

// Pauses pauses and resumes queues across the fleet, and remembers why. It
// writes asynq's pause flag itself (asynqx.PausedKey), with a value of its
// own (see PauseState.Flag), and changes flag and state together in one
// script.
//
// The index of paused queues is one set for the whole fleet, so on a Redis
// Cluster it lies in another slot than the queues' flags and states: it is
// kept outside the scripts, as a superset of the queues with a state (see
// index and unindex), and readers skip a queue without one.
type Pauses struct {
	rdb       redis.UniversalClient
	inspector *asynq.Inspector
	prefix    string
	// tagged: the state of a queue is named with the queue's hash tag,
	// "{<queue>}", as asynq names its keys, so that on a cluster a script
	// finds the state and asynq's flag in one slot.
	tagged bool
}

// NewPauses returns Pauses keeping its states in rdb under "wxqr:pause:" and
// counting the tasks a pause holds back through inspector. On a Redis
// Cluster (rdb a *redis.ClusterClient) the state of queue q is
// "wxqr:pause:queue:{q}", in the slot of asynq's "asynq:{q}:paused";
// elsewhere it keeps its name of old, "wxqr:pause:queue:q".
func NewPauses(rdb redis.UniversalClient, inspector *asynq.Inspector) *Pauses {
	_, cluster := rdb.(*redis.ClusterClient)
	return &Pauses{rdb: rdb, inspector: inspector, prefix: "wxqr:pause:", tagged: cluster}
}

func (p *Pauses) stateKey(queue string) string {
	if p.tagged {
		return p.prefix + "queue:{" + queue + "}"
	}
	return p.prefix + "queue:" + queue
}

func (p *Pauses) indexKey() string { return p.prefix + "queues" }

// index adds queue to the index of paused queues. Pause and Hold call it
// before their script, so that a state is never without its entry should
// the worker die, and again after it when the script wrote a state, in case
// an unindex ran in between.
func (p *Pauses) index(ctx context.Context, queue string) error {
	if err := p.rdb.SAdd(ctx, p.indexKey(), queue).Err(); err != nil {
		return fmt.Errorf("index pause of %s: %w", queue, err)
	}
	return nil
}

// unindex takes queue out of the index once a script deleted its state,
// and puts it back if a state is there again: a pause written between the
// script and the removal keeps its entry.
func (p *Pauses) unindex(ctx context.Context, queue string) error {
	if err := p.rdb.SRem(ctx, p.indexKey(), queue).Err(); err != nil {
		return fmt.Errorf("forget pause of %s: %w", queue, err)
	}
	n, err := p.rdb.Exists(ctx, p.stateKey(queue)).Result()
	if err != nil {
		return fmt.Errorf("forget pause of %s: %w", queue, err)
	}
	if n > 0 {
		return p.index(ctx, queue)
	}
	return nil
}

// pauseScript pauses a queue for the fleet and records why, in one step, so
// that concurrent pauses cannot overwrite each other out of order. KEYS:
// the state, asynq's pause flag. ARGV: the state, its flag value, "1" when
// the pause is for good. It
// returns 1 when it recorded the state:
//   - the queue was running: whatever is recorded is stale, so the state is
//     written;
//   - it was paused by hand (no state, or one whose flag is not the one in
//     place): only a pause for good is recorded, as a timed one would end
//     the operator's pause at the reset;
//   - a pause for good replaces a timed one (a 45029 outranks a daily
//     quota), never the reverse.
//
// When it records the state it writes the state's value into the flag: the
// queue stays paused, and the state now holds.
var pauseScript = redis.NewScript(`
local flag = redis.call("GET", KEYS[2])
local old = redis.call("GET", KEYS[1])
local held = nil
if flag and old then
	local s = cjson.decode(old)
	if s.flag == flag then held = s end
end
local write
if not flag then
	write = true
elseif not held then
	write = ARGV[3] == "1"
else
	write = ARGV[3] == "1" and held.resume_at ~= nil
end
if write then
	redis.call("SET", KEYS[2], ARGV[2])
	redis.call("SET", KEYS[1], ARGV[1])
	return 1
end
return 0`)

// Pause pauses the queue of s for the fleet and records why. It reports
// whether this call recorded the pause (false when another worker got there
// first with the same or a stronger reason), so that one worker reports
// each pause. s.Flag is ignored: Pause makes a value of its own.
func (p *Pauses) Pause(ctx context.Context, s PauseState) (first bool, err error) {
	s.Flag = newFlag(s.PausedAt)
	data, err := json.Marshal(s)
	if err != nil {
		return false, fmt.Errorf("pause %s: %w", s.Queue, err)
	}
	if err := p.index(ctx, s.Queue); err != nil {
		return false, err
	}
	written, err := pauseScript.Run(ctx, p.rdb,
		[]string{p.stateKey(s.Queue), asynqx.PausedKey(s.Queue)},
		data, s.Flag, flag(s.ResumeAt.IsZero())).Int()
	if err != nil {
		return false, fmt.Errorf("pause %s: %w", s.Queue, err)
	}
	if written != 1 {
		return false, nil
	}
	// The entry added before the script is there, unless a removal raced
	// with it: adding it again covers that race. Failing now would turn a
	// recorded pause into the task's failure, so the error is not returned.
	_ = p.index(ctx, s.Queue)
	return true, nil
}

// newFlag returns a value for asynq's pause flag that no one else writes:
// the pause time, as asynq writes it, then a random mark, so that a pause by
// hand, even in the same second, never matches it.
func newFlag(at time.Time) string {
	return strconv.FormatInt(at.Unix(), 10) + ":wxqr:" + rand.Text()
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// Paused returns the pause state of queue, or nil when it runs or was
// paused by hand. The state holds only while asynq's flag holds the value
// it records.
func (p *Pauses) Paused(ctx context.Context, queue string) (*PauseState, error) {
	s, _, held, err := p.read(ctx, queue)
	if err != nil || !held {
		return nil, err
	}
	return s, nil
}

// read returns the state of queue as stored (raw, for a later
// compare-and-delete), decoded, and whether it holds.
func (p *Pauses) read(ctx context.Context, queue string) (s *PauseState, raw string, held bool, err error) {
	pipe := p.rdb.Pipeline()
	stateCmd := pipe.Get(ctx, p.stateKey(queue))
	flagCmd := pipe.Get(ctx, asynqx.PausedKey(queue))
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, "", false, fmt.Errorf("read pause state of %s: %w", queue, err)
	}
	raw, err = stateCmd.Result()
	if errors.Is(err, redis.Nil) {
		return nil, "", false, nil
	}
	s = &PauseState{}
	if err := json.Unmarshal([]byte(raw), s); err != nil {
		return nil, "", false, fmt.Errorf("decode pause state of %s: %w", queue, err)
	}
	if s.Flag == "" {
		// Recorded before states named their flag, when the flag held the
		// pause time.
		s.Flag = strconv.FormatInt(s.PausedAt.Unix(), 10)
	}
	value, err := flagCmd.Result()
	return s, raw, err == nil && value == s.Flag, nil
}

// List returns every pause that holds, ordered by queue name.
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

// resumeScript resumes a queue and forgets why it was paused, in one step.
// KEYS: asynq's pause flag, the state.
var resumeScript = redis.NewScript(`
redis.call("DEL", KEYS[1], KEYS[2])
return 0`)

// Resume unpauses queue, however it was paused, and forgets why, in one
// atomic step: no worker can see the queue running with the old state, nor
// the state gone with the queue still paused. Resuming a running queue is
// a no-op. `enqueue resume` and the web UI's resume button both call it.
func (p *Pauses) Resume(ctx context.Context, queue string) error {
	if err := resumeScript.Run(ctx, p.rdb, []string{asynqx.PausedKey(queue), p.stateKey(queue)}).Err(); err != nil {
		return fmt.Errorf("resume %s: %w", queue, err)
	}
	return p.unindex(ctx, queue)
}

// settleScript ends one timed pause that is due, or drops a state that no
// longer holds, provided the state is still the one the caller read. KEYS:
// asynq's pause flag, the state. ARGV: the state as read, its flag value,
// "1" when the pause is due. It returns 1 when it resumed the queue, 2 when
// it dropped a stale state, 0 otherwise.
var settleScript = redis.NewScript(`
if redis.call("GET", KEYS[2]) ~= ARGV[1] then
	return 0
end
if redis.call("GET", KEYS[1]) == ARGV[2] then
	if ARGV[3] ~= "1" then
		return 0
	end
	redis.call("DEL", KEYS[1], KEYS[2])
	return 1
end
redis.call("DEL", KEYS[2])
return 2`)

// ResumeDue resumes every queue whose timed pause ends at or before now,
// and returns them; it also drops the states that no longer hold. A queue
// whose flag is no longer the one its state recorded (paused by hand since)
// stays paused. Every worker calls it now and then; two calls at once
// resume each queue once.
func (p *Pauses) ResumeDue(ctx context.Context, now time.Time) ([]PauseState, error) {
	queues, err := p.rdb.SMembers(ctx, p.indexKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("list pauses: %w", err)
	}
	sort.Strings(queues)
	var resumed []PauseState
	for _, q := range queues {
		s, raw, held, err := p.read(ctx, q)
		if err != nil {
			return resumed, err
		}
		if s == nil {
			if err := p.unindex(ctx, q); err != nil {
				return resumed, err
			}
			continue
		}
		due := !s.ResumeAt.IsZero() && !s.ResumeAt.After(now)
		if held && !due {
			continue
		}
		n, err := settleScript.Run(ctx, p.rdb, []string{asynqx.PausedKey(q), p.stateKey(q)},
			raw, s.Flag, flag(due)).Int()
		if err != nil {
			return resumed, fmt.Errorf("resume %s: %w", q, err)
		}
		if n != 0 {
			if err := p.unindex(ctx, q); err != nil {
				return resumed, err
			}
		}
		if n == 1 {
			resumed = append(resumed, *s)
		}
	}
	return resumed, nil
}

// WeChat's daily quotas reset at midnight in Asia/Shanghai, but WeChat's
// own reset may lag the fleet's clock: a 45009 seen just after midnight
// most likely still counts yesterday's calls, and a pause until the next
// midnight would idle the queue for a whole day.
const (
	// dailyResetLag is how long after midnight a 45009 is taken for
	// WeChat's lag.
	dailyResetLag = 15 * time.Minute
	// dailyResetRetry is how soon a pause for such a 45009 ends.
	dailyResetRetry = 5 * time.Minute
)

// dailyPauseEnd returns when a pause on a daily quota made at now ends: at
// the next midnight in loc, or, when WeChat said so (45009) within
// dailyResetLag of the last midnight, dailyResetRetry from now. A daily
// budget of wxqr's own is counted on the fleet's clock and never lags.
func dailyPauseEnd(now time.Time, loc *time.Location, fromWeChat bool) time.Time {
	y, m, d := now.In(loc).Date()
	if fromWeChat && now.Sub(time.Date(y, m, d, 0, 0, 0, 0, loc)) < dailyResetLag {
		return now.Add(dailyResetRetry)
	}
	return ratelimit.NextReset(now, loc)
}

// Waiting returns how many tasks queue holds that have not finished: what a
// pause holds back.
func (p *Pauses) Waiting(ctx context.Context, queue string) (int, error) {
	info, err := p.inspector.GetQueueInfo(queue)
	if err != nil {
		return 0, fmt.Errorf("inspect %s: %w", queue, err)
	}
	return info.Pending + info.Active + info.Scheduled + info.Retry, nil
}
