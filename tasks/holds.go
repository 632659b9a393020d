package tasks

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr/internal/asynqx"
)

// Reasons of the pauses that wxqr makes and ends by itself once their cause
// is gone: PauseState.Reason is one of these words rather than a sentence,
// so that the worker that probes the cause resumes only its own pauses.
const (
	// ReasonStorage: storage does not take the images (puts fail in a row,
	// or the worker's probe fails). Ended by the probe when storage answers.
	ReasonStorage = "storage"
	// ReasonWeChatUnavailable: an API of WeChat fails for many tasks of the
	// app (-1, HTTP 5xx, transport errors): the circuit breaker opened.
	// Ended at ResumeAt, when calls are let through again.
	ReasonWeChatUnavailable = "wechat_unavailable"
)

// SelfHealing reports whether s is a pause that wxqr ends by itself once its
// cause is gone (storage back, WeChat answering): work it holds is not stuck.
func (s PauseState) SelfHealing() bool {
	return s.Reason == ReasonStorage || s.Reason == ReasonWeChatUnavailable
}

// holdScript pauses a queue for a self-healing reason, or extends such a
// pause. KEYS: the state, asynq's pause flag. ARGV: the state, its flag
// value, the reason, the new resume_at as JSON. It returns 1 when it paused a running queue, 0 when it extended
// a pause of its own for the same reason or left alone a pause made by hand
// (a flag that is not the one its state recorded) or for another reason.
var holdScript = redis.NewScript(`
local flag = redis.call("GET", KEYS[2])
if not flag then
	redis.call("SET", KEYS[2], ARGV[2])
	redis.call("SET", KEYS[1], ARGV[1])
	return 1
end
local old = redis.call("GET", KEYS[1])
if old then
	local s = cjson.decode(old)
	if s.flag == flag and s.reason == ARGV[3] then
		s.resume_at = cjson.decode(ARGV[4])
		redis.call("SET", KEYS[1], cjson.encode(s))
	end
end
return 0`)

// Hold pauses the queue of s for the fleet until s.ResumeAt, for one of the
// self-healing reasons (s.Reason); while it lasts, holding again moves
// ResumeAt, so that a probe that keeps failing keeps the queue paused. It
// never touches a pause made by hand or for another reason. It reports
// whether this call paused a running queue.
func (p *Pauses) Hold(ctx context.Context, s PauseState) (first bool, err error) {
	if !s.SelfHealing() || s.ResumeAt.IsZero() {
		return false, fmt.Errorf("hold %s: a hold is a timed pause for reason %q or %q, got %q",
			s.Queue, ReasonStorage, ReasonWeChatUnavailable, s.Reason)
	}
	s.Flag = newFlag(s.PausedAt)
	data, err := json.Marshal(s)
	if err != nil {
		return false, fmt.Errorf("hold %s: %w", s.Queue, err)
	}
	resumeAt, err := json.Marshal(s.ResumeAt)
	if err != nil {
		return false, fmt.Errorf("hold %s: %w", s.Queue, err)
	}
	if err := p.index(ctx, s.Queue); err != nil {
		return false, err
	}
	n, err := holdScript.Run(ctx, p.rdb,
		[]string{p.stateKey(s.Queue), asynqx.PausedKey(s.Queue)},
		data, s.Flag, s.Reason, resumeAt).Int()
	if err != nil {
		return false, fmt.Errorf("hold %s: %w", s.Queue, err)
	}
	if n != 1 {
		return false, nil
	}
	// The entry added before the script is there, unless a removal raced
	// with it: adding it again covers that race. Failing now would turn a
	// recorded hold into the task's failure, so the error is not returned.
	_ = p.index(ctx, s.Queue)
	return true, nil
}

// releaseScript resumes a queue whose recorded pause has the given reason
// and still holds (asynq's flag is the one it wrote); a state that no longer
// holds (the queue was resumed by other means, maybe paused by hand since)
// is forgotten, and the queue left as it is. KEYS: the state, asynq's pause
// flag. ARGV: the reason. It returns 1 when it resumed the queue, 2 when it
// forgot a state that no longer held, 0 otherwise.
var releaseScript = redis.NewScript(`
local old = redis.call("GET", KEYS[1])
if not old then
	return 0
end
local s = cjson.decode(old)
if s.reason ~= ARGV[1] then
	return 0
end
if s.flag ~= redis.call("GET", KEYS[2]) then
	redis.call("DEL", KEYS[1])
	return 2
end
redis.call("DEL", KEYS[1], KEYS[2])
return 1`)

// Release resumes queue if wxqr paused it for reason, and reports whether
// it did; a pause made by hand or for another reason stays.
func (p *Pauses) Release(ctx context.Context, queue, reason string) (bool, error) {
	n, err := releaseScript.Run(ctx, p.rdb,
		[]string{p.stateKey(queue), asynqx.PausedKey(queue)}, reason).Int()
	if err != nil {
		return false, fmt.Errorf("release %s: %w", queue, err)
	}
	if n != 0 {
		if err := p.unindex(ctx, queue); err != nil {
			return false, err
		}
	}
	return n == 1, nil
}
