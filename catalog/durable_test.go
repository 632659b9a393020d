package catalog_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/internal/testenv"
)

// onSentinel is a catalog on the master of the test Sentinel set.
type onSentinel struct {
	c       *catalog.Catalog
	master  *redis.Client // the catalog's client
	replica *redis.Client
	sent    *commandLog // the commands the catalog's client sent
}

func sentinelCatalog(t *testing.T, cfg catalog.Config) onSentinel {
	t.Helper()
	opts := testenv.Sentinel(t)
	rdb := redis.NewFailoverClient(opts)
	t.Cleanup(func() { rdb.Close() })
	sent := &commandLog{}
	rdb.AddHook(sent)
	c, err := catalog.NewWithConfig(rdb, cfg)
	if err != nil {
		t.Fatalf("NewWithConfig: %v", err)
	}

	sentinel := redis.NewSentinelClient(&redis.Options{Addr: opts.SentinelAddrs[0]})
	t.Cleanup(func() { sentinel.Close() })
	replicas, err := sentinel.Replicas(t.Context(), opts.MasterName).Result()
	if err != nil {
		t.Fatalf("SENTINEL REPLICAS: %v", err)
	}
	for _, r := range replicas {
		if !strings.Contains(r["flags"], "down") && !strings.Contains(r["flags"], "disconnected") {
			replica := redis.NewClient(&redis.Options{Addr: r["ip"] + ":" + r["port"], DB: opts.DB})
			t.Cleanup(func() { replica.Close() })
			return onSentinel{c: c, master: rdb, replica: replica, sent: sent}
		}
	}
	t.Fatalf("the Sentinel set has no replica up: %v", replicas)
	return onSentinel{}
}

// pause stops the replica from applying (and so acknowledging) what the
// master sends, until the test ends.
func pause(t *testing.T, replica *redis.Client) {
	t.Helper()
	if err := replica.Do(t.Context(), "CLIENT", "PAUSE", 30_000, "WRITE").Err(); err != nil {
		t.Fatalf("CLIENT PAUSE on the replica: %v", err)
	}
	t.Cleanup(func() {
		if err := replica.Do(context.Background(), "CLIENT", "UNPAUSE").Err(); err != nil {
			t.Errorf("CLIENT UNPAUSE on the replica: %v", err)
		}
	})
}

// commandLog records the name of every command a client sends.
type commandLog struct {
	mu    sync.Mutex
	names []string
}

func (l *commandLog) DialHook(next redis.DialHook) redis.DialHook { return next }

func (l *commandLog) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		l.add(cmd)
		return next(ctx, cmd)
	}
}

func (l *commandLog) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			l.add(cmd)
		}
		return next(ctx, cmds)
	}
}

func (l *commandLog) add(cmd redis.Cmder) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.names = append(l.names, strings.ToLower(cmd.Name()))
}

func (l *commandLog) count(name string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, got := range l.names {
		if got == name {
			n++
		}
	}
	return n
}

func TestReplicatedWrites(t *testing.T) {
	const timeout = 300 * time.Millisecond
	cfg := catalog.Config{MinReplicas: 1, ReplicaTimeout: timeout}
	rec := permRecord("wxa1b2c3", wxqr.KindOAPerm, 1, "spring")
	staged := &catalog.Staged{Generation: 1, Ticket: "t1", URL: "http://weixin.qq.com/q/1", CreatedAt: base}

	// locked returns a catalog on the sentinel set and its lease of rec's
	// lock, released at the end of the test.
	locked := func(t *testing.T) (onSentinel, *catalog.Lease) {
		t.Helper()
		s := sentinelCatalog(t, cfg)
		lease, err := s.c.Lock(t.Context(), rec.ID, time.Minute)
		if err != nil {
			t.Fatalf("Lock() = %v; want a lease", err)
		}
		t.Cleanup(lease.Release)
		return s, lease
	}

	t.Run("acknowledged", func(t *testing.T) {
		s, lease := locked(t)
		c, ctx := s.c, t.Context()
		if err := c.MarkCalled(ctx, rec.ID, 1, lease); err != nil {
			t.Fatalf("MarkCalled: %v", err)
		}
		if err := c.Stage(ctx, rec.ID, staged); err != nil {
			t.Fatalf("Stage: %v", err)
		}
		if err := c.Put(ctx, rec); err != nil {
			t.Fatalf("Put: %v", err)
		}
		// Acknowledged means the replica has it now, not eventually.
		for _, key := range []string{"wxqr:lock:" + rec.ID, "wxqr:called:" + rec.ID, "wxqr:staged:" + rec.ID, "wxqr:code:" + rec.ID} {
			if n, err := s.replica.Exists(ctx, key).Result(); err != nil || n != 1 {
				t.Errorf("EXISTS %s on the replica = %d, %v; want 1", key, n, err)
			}
		}
		if n := s.sent.count("wait"); n != 4 {
			t.Errorf("%d WAITs sent, want 4 (lock, call mark, stage, put)", n)
		}
	})

	t.Run("replica paused", func(t *testing.T) {
		s := sentinelCatalog(t, cfg)
		c, ctx := s.c, t.Context()
		pause(t, s.replica)

		start := time.Now()
		if lease, err := c.Lock(ctx, rec.ID, time.Minute); lease != nil || !errors.Is(err, catalog.ErrNotReplicated) {
			t.Errorf("Lock() = %v, %v; want no lease, ErrNotReplicated", lease, err)
		}
		if err := c.Stage(ctx, rec.ID, staged); !errors.Is(err, catalog.ErrNotReplicated) {
			t.Errorf("Stage() = %v, want ErrNotReplicated", err)
		}
		if err := c.Put(ctx, rec); !errors.Is(err, catalog.ErrNotReplicated) {
			t.Errorf("Put() = %v, want ErrNotReplicated", err)
		}
		if d := time.Since(start); d > 10*timeout {
			t.Errorf("three refused writes took %s, want about 3 × %s", d, timeout)
		}

		// A refused lock is released at once, not left to lapse: the next
		// attempt (once the replica answers) gets it.
		if n, err := s.master.Exists(ctx, "wxqr:lock:"+rec.ID).Result(); err != nil || n != 0 {
			t.Errorf("EXISTS of the refused lock = %d, %v; want 0", n, err)
		}
	})

	// A call mark refused for a lost lock wrote nothing and waits for
	// nothing: the replica's silence must not hide why it was refused.
	t.Run("lost lock, replica paused", func(t *testing.T) {
		s, lease := locked(t)
		c, ctx := s.c, t.Context()
		if err := s.master.Set(ctx, "wxqr:lock:"+rec.ID, "another worker", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		pause(t, s.replica)
		waits := s.sent.count("wait")
		if err := c.MarkCalled(ctx, rec.ID, 1, lease); !errors.Is(err, catalog.ErrLockLost) {
			t.Errorf("MarkCalled() = %v, want ErrLockLost", err)
		}
		if n := s.sent.count("wait") - waits; n != 0 {
			t.Errorf("%d WAITs sent for the refused mark, want none", n)
		}
	})

	t.Run("no replica required", func(t *testing.T) {
		s := sentinelCatalog(t, catalog.Config{})
		c, ctx := s.c, t.Context()
		pause(t, s.replica)
		lease, err := c.Lock(ctx, rec.ID, time.Minute)
		if err != nil {
			t.Fatalf("Lock() = %v; want a lease", err)
		}
		defer lease.Release()
		if err := c.Stage(ctx, rec.ID, staged); err != nil {
			t.Errorf("Stage: %v", err)
		}
		if err := c.Put(ctx, rec); err != nil {
			t.Errorf("Put: %v", err)
		}
		if n := s.sent.count("wait"); n != 0 {
			t.Errorf("%d WAITs sent, want none", n)
		}
		if n := s.sent.count("watch"); n != 0 {
			t.Errorf("%d WATCHes sent, want none (Put commits in one script)", n)
		}
	})
}
