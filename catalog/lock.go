package catalog

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

//	wxqr:lock:{id}  string: the token of the one worker making the code

func (k keys) lock(id string) string { return k.prefix + "lock:" + id }

// unlockScript deletes a lock only if it still holds the token of the one
// who took it: a lock that expired and was taken by another stays theirs.
var unlockScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("DEL", KEYS[1])
end
return 0`)

// renewScript extends a lock only if it still holds the holder's token.
var renewScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
return 0`)

// Lock takes the code id for one worker, so that two runs of one task (a
// lease that expired under a slow worker, a task requeued at shutdown while
// its handler still runs) never both call WeChat. ok is false when someone
// else holds it. While held, the lock is renewed every ttl/3; if its holder
// dies, it lapses within ttl. unlock stops the renewal and releases it; it
// is safe to call after the lock lapsed.
func (c *Catalog) Lock(ctx context.Context, id string, ttl time.Duration) (unlock func(), ok bool, err error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, false, fmt.Errorf("catalog: lock %s: %w", id, err)
	}
	token := hex.EncodeToString(b[:])
	key := c.keys.lock(id)
	ok, err = c.rdb.SetNX(ctx, key, token, ttl).Result()
	if err != nil {
		return nil, false, fmt.Errorf("catalog: lock %s: %w", id, err)
	}
	if !ok {
		return nil, false, nil
	}
	if err := c.replicateLock(ctx, key, token, ttl); err != nil {
		return nil, false, fmt.Errorf("catalog: lock %s: %w", id, err)
	}
	// The renewal and the release must happen even when the caller's
	// context is over.
	bg := context.WithoutCancel(ctx)
	stop := make(chan struct{})
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		tick := time.NewTicker(ttl / 3)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				// A failed renewal is retried at the next tick. A lock that
				// lapses meanwhile (Redis away for a whole ttl) lets a second
				// run in; past the staging of a result that costs nothing,
				// before it, a second call to WeChat.
				renewScript.Run(bg, c.rdb, []string{key}, token, ttl.Milliseconds()) //nolint:errcheck
			}
		}
	}()
	return func() {
		close(stop)
		<-renewed
		ctx, cancel := context.WithTimeout(bg, 5*time.Second)
		defer cancel()
		unlockScript.Run(ctx, c.rdb, []string{key}, token) //nolint:errcheck // an unreleased lock lapses
	}, true, nil
}
