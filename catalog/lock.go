package catalog

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrLocked is returned by Lock when another worker holds the code.
var ErrLocked = errors.New("catalog: the code is being made by another worker")

// ErrLockLost is returned (wrapped) by Lease.Check, and by the writes fenced
// by a lease (PutHeld, Finish, MarkCalled, DropStaged, NoteRefused), once the
// lease's lock lapsed or was taken by another worker: its holder must stop
// before it calls WeChat or writes anything.
var ErrLockLost = errors.New("catalog: the per-code lock was lost")

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

// Lease is one worker's hold on a code, taken by Lock. It is renewed in the
// background until Release; if its holder stalls or Redis loses it (a
// failover, an outage longer than the lock's ttl), another worker may take
// the code, and Check says so: the token it holds is the fence.
type Lease struct {
	c       *Catalog
	key     string
	token   string
	stop    chan struct{}
	renewed chan struct{}
	bg      context.Context
	release sync.Once
	// seen is what Claim read that a put under the lease decides on, for
	// the first one (claimed).
	seen atomic.Pointer[putState]
}

// Lock takes the code id for one worker, so that two runs of one task (a
// lease that expired under a slow worker, a task requeued at shutdown while
// its handler still runs) never both call WeChat. It fails with ErrLocked
// when someone else holds it. While held, the lock is renewed every ttl/3;
// if its holder dies, it lapses within ttl.
func (c *Catalog) Lock(ctx context.Context, id string, ttl time.Duration) (*Lease, error) {
	l, err := c.newLease(ctx, id)
	if err != nil {
		return nil, err
	}
	ok, err := c.rdb.SetNX(ctx, l.key, l.token, ttl).Result()
	if err != nil {
		return nil, fmt.Errorf("catalog: lock %s: %w", id, err)
	}
	if !ok {
		return nil, ErrLocked
	}
	if err := c.replicateLock(ctx, l.key, l.token, ttl); err != nil {
		return nil, fmt.Errorf("catalog: lock %s: %w", id, err)
	}
	go l.renew(ttl)
	return l, nil
}

// newLease returns the lease of code id with a fresh token, not yet taken.
func (c *Catalog) newLease(ctx context.Context, id string) (*Lease, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("catalog: lock %s: %w", id, err)
	}
	return &Lease{
		c: c, key: c.keys.lock(id), token: hex.EncodeToString(b[:]),
		stop: make(chan struct{}), renewed: make(chan struct{}),
		// The renewal and the release must happen even when the caller's
		// context is over.
		bg: context.WithoutCancel(ctx),
	}, nil
}

func (l *Lease) renew(ttl time.Duration) {
	defer close(l.renewed)
	tick := time.NewTicker(ttl / 3)
	defer tick.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-tick.C:
			// A failed renewal is retried at the next tick; a lock that
			// lapses meanwhile is caught by Check before the next step.
			renewScript.Run(l.bg, l.c.rdb, []string{l.key}, l.token, ttl.Milliseconds()) //nolint:errcheck
		}
	}
}

// Check reports whether the lease still holds its lock: nil, or an error
// wrapping ErrLockLost (or Redis's error when it cannot tell).
func (l *Lease) Check(ctx context.Context) error {
	got, err := l.c.rdb.Get(ctx, l.key).Result()
	return l.check(got, err)
}

func (l *Lease) check(got string, err error) error {
	switch {
	case errors.Is(err, redis.Nil):
		return fmt.Errorf("%w: %s lapsed", ErrLockLost, l.key)
	case err != nil:
		return fmt.Errorf("catalog: check %s: %w", l.key, err)
	case got != l.token:
		return fmt.Errorf("%w: %s is held by another worker", ErrLockLost, l.key)
	}
	return nil
}

// notHeld is the error of a write that a script fenced by the lease
// refused: the lock no longer holds the lease's token.
func (l *Lease) notHeld() error {
	return fmt.Errorf("%w: %s is not held", ErrLockLost, l.key)
}

// claimed returns, once, what Claim read for a put by c of code id's record
// under l; nil when l is nil or holds another code.
func (l *Lease) claimed(c *Catalog, id string) *putState {
	if l == nil || l.c != c || l.key != c.keys.lock(id) {
		return nil
	}
	return l.seen.Swap(nil)
}

// Release stops the renewal and releases the lock if it is still held. It is
// safe to call after the lock lapsed, and more than once.
func (l *Lease) Release() {
	l.release.Do(func() {
		l.stopRenewal()
		l.unlock()
	})
}

// released ends the lease whose lock a transaction deleted (Finish): the
// renewal stops, and Release does nothing more.
func (l *Lease) released() {
	l.release.Do(l.stopRenewal)
}

// stopRenewal stops the renewal and waits until it has stopped. Only a
// lease whose lock was taken has one running.
func (l *Lease) stopRenewal() {
	close(l.stop)
	<-l.renewed
}

// unlock deletes the lock if it still holds the lease's token.
func (l *Lease) unlock() {
	ctx, cancel := context.WithTimeout(l.bg, 5*time.Second)
	defer cancel()
	unlockScript.Run(ctx, l.c.rdb, []string{l.key}, l.token) //nolint:errcheck // an unreleased lock lapses
}
