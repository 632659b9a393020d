package catalog

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrNotReplicated is returned (wrapped) by Lock, Stage and Put when fewer
// than Config.MinReplicas replicas acknowledged the write within
// Config.ReplicaTimeout. The write may be on the master only, and a failover
// now would discard it: a lock that vanishes lets a second worker pay for the
// same code, a staged result that vanishes is paid for again.
var ErrNotReplicated = errors.New("catalog: write not acknowledged by enough replicas")

// DefaultReplicaTimeout is how long a write waits for its replicas when
// Config.ReplicaTimeout is zero.
const DefaultReplicaTimeout = time.Second

// The writes that guard the quota (a code's lock, a staged result, the
// record that says the code is done) are acknowledged by MinReplicas
// replicas before the caller goes on: Redis replicates asynchronously, and
// when Sentinel promotes a replica, what the old master had not yet sent is
// gone. WAIT blocks until the replicas have everything that its own
// connection wrote, so each write and its WAIT share one connection: a WAIT
// on another connection would confirm nothing, and after a failover could
// even confirm, on the new master, a write that went to the old one.

// replicated runs fn's writes and waits for the replicas to acknowledge
// them. key is a key fn writes: go-redis hands out a connection of one's own
// only with a watch (fn's writes and the WAIT must share it), and a cluster
// client needs the key to find the node. With no replica required, fn runs
// on the pool and nothing waits.
func (c *Catalog) replicated(ctx context.Context, key string, fn func(redis.Cmdable) error) error {
	if c.minReplicas == 0 {
		return fn(c.rdb)
	}
	return c.rdb.Watch(ctx, func(tx *redis.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return c.awaitReplicas(ctx, tx)
	}, key)
}

// replicateLock makes sure that the lock key, just taken with token, reached
// the replicas. Its SET went out on whichever connection the pool gave, so on
// a connection of its own it renews the lock (a write that also proves the
// lock is on this master, which after a failover it may not be) and waits for
// that. If the replicas do not acknowledge, it releases the lock: the caller
// must not go on.
func (c *Catalog) replicateLock(ctx context.Context, key, token string, ttl time.Duration) error {
	if c.minReplicas == 0 {
		return nil
	}
	err := c.replicated(ctx, key, func(r redis.Cmdable) error {
		held, err := renewScript.Run(ctx, r, []string{key}, token, ttl.Milliseconds()).Int()
		if err != nil {
			return err
		}
		if held == 0 {
			return fmt.Errorf("%w: the lock was lost (a failover?)", ErrNotReplicated)
		}
		return nil
	})
	if err != nil {
		unlockScript.Run(context.WithoutCancel(ctx), c.rdb, []string{key}, token) //nolint:errcheck // an unreleased lock lapses
	}
	return err
}

// awaitReplicas waits until MinReplicas replicas have every write made on
// tx's connection, or fails with ErrNotReplicated after ReplicaTimeout.
func (c *Catalog) awaitReplicas(ctx context.Context, tx *redis.Tx) error {
	if c.minReplicas == 0 {
		return nil
	}
	n, err := tx.Wait(ctx, c.minReplicas, c.replicaTimeout).Result()
	if err != nil {
		return fmt.Errorf("wait for replicas: %w", err)
	}
	if n < int64(c.minReplicas) {
		return fmt.Errorf("%w: %d of %d within %s", ErrNotReplicated, n, c.minReplicas, c.replicaTimeout)
	}
	return nil
}
