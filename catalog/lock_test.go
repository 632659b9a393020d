package catalog_test

import (
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
)

// mustLock takes the lock of id for a minute, released when the test ends.
func mustLock(t *testing.T, c *catalog.Catalog, id string) *catalog.Lease {
	t.Helper()
	lease, err := c.Lock(t.Context(), id, time.Minute)
	if err != nil {
		t.Fatalf("Lock(%s): %v", id, err)
	}
	t.Cleanup(lease.Release)
	return lease
}

func TestLock(t *testing.T) {
	c, rdb := newCatalog(t, catalog.Config{})
	ctx := t.Context()
	first := mustLock(t, c, "code1")
	if _, err := c.Lock(ctx, "code1", time.Minute); !errors.Is(err, catalog.ErrLocked) {
		t.Fatalf("second Lock = %v; want ErrLocked while held", err)
	}
	mustLock(t, c, "code2").Release()

	// A lock that expired and was taken by another is not released by the
	// first holder.
	if err := rdb.Del(ctx, "wxqr:lock:code1").Err(); err != nil {
		t.Fatal(err)
	}
	second := mustLock(t, c, "code1")
	first.Release()
	if _, err := c.Lock(ctx, "code1", time.Minute); !errors.Is(err, catalog.ErrLocked) {
		t.Fatalf("Lock after the first holder's Release = %v; want ErrLocked: the second holder's lock was released", err)
	}
	if err := second.Check(ctx); err != nil {
		t.Errorf("Check of the second holder = %v, want nil", err)
	}

	// A held lock is renewed: it outlives its ttl until released.
	renewed, err := c.Lock(ctx, "code3", 300*time.Millisecond)
	if err != nil {
		t.Fatalf("Lock(code3): %v", err)
	}
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		if _, err := c.Lock(ctx, "code3", time.Minute); !errors.Is(err, catalog.ErrLocked) {
			t.Fatalf("Lock of a held code = %v: it lapsed, it was not renewed", err)
		}
		time.Sleep(50 * time.Millisecond) // polling a state over time: the renewal is the subject
	}
	renewed.Release()
	mustLock(t, c, "code3").Release()
}

func TestLeaseCheck(t *testing.T) {
	ctx := t.Context()
	tests := []struct {
		name string
		// lose does to the lock's key what a failover, an outage or a
		// stalled holder does; nil leaves it held.
		lose    func(t *testing.T, rdb *redis.Client, key string)
		wantErr error
	}{
		{name: "held"},
		{
			name: "expired",
			lose: func(t *testing.T, rdb *redis.Client, key string) {
				if err := rdb.PExpire(ctx, key, time.Millisecond).Err(); err != nil {
					t.Fatal(err)
				}
				waitGone(t, rdb, key)
			},
			wantErr: catalog.ErrLockLost,
		},
		{
			name: "taken by another worker",
			lose: func(t *testing.T, rdb *redis.Client, key string) {
				if err := rdb.Set(ctx, key, "another worker's token", time.Minute).Err(); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: catalog.ErrLockLost,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, rdb := newCatalog(t, catalog.Config{})
			lease := mustLock(t, c, "code")
			if tt.lose != nil {
				tt.lose(t, rdb, "wxqr:lock:code")
			}
			err := lease.Check(ctx)
			if tt.wantErr == nil && err != nil {
				t.Fatalf("Check = %v, want nil", err)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Check = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestLeaseReleaseTwice(t *testing.T) {
	c, rdb := newCatalog(t, catalog.Config{})
	ctx := t.Context()
	lease := mustLock(t, c, "code")
	lease.Release()
	lease.Release()
	if n, err := rdb.Exists(ctx, "wxqr:lock:code").Result(); err != nil || n != 0 {
		t.Fatalf("lock key exists = %d (%v) after Release, want gone", n, err)
	}
	if err := lease.Check(ctx); !errors.Is(err, catalog.ErrLockLost) {
		t.Errorf("Check after Release = %v, want ErrLockLost", err)
	}
	// The next holder's lock survives a third Release of the old lease.
	next := mustLock(t, c, "code")
	lease.Release()
	if err := next.Check(ctx); err != nil {
		t.Errorf("Check of the next holder after the old lease's Release = %v, want nil", err)
	}
}

func TestPutHeld(t *testing.T) {
	ctx := t.Context()
	t.Run("held", func(t *testing.T) {
		c, _ := newCatalog(t, catalog.Config{})
		rec := permRecord("wxapp", wxqr.KindOAPerm, 1, "spring")
		if err := c.PutHeld(ctx, rec, mustLock(t, c, rec.ID)); err != nil {
			t.Fatalf("PutHeld: %v", err)
		}
		if got := mustGet(t, c, rec.ID); got.Generation != 1 || got.Campaign != "spring" {
			t.Errorf("Get = %+v, want the record put", got)
		}
	})
	t.Run("no lease", func(t *testing.T) {
		c, _ := newCatalog(t, catalog.Config{})
		rec := permRecord("wxapp", wxqr.KindOAPerm, 1, "spring")
		if err := c.PutHeld(ctx, rec, nil); err == nil {
			t.Fatal("PutHeld without a lease succeeded, want an error")
		}
		if _, err := c.Get(ctx, rec.ID); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("Get after a refused PutHeld = %v, want ErrNotFound", err)
		}
	})
	for _, lost := range []struct {
		name string
		lose func(t *testing.T, rdb *redis.Client, lease *catalog.Lease, key string)
	}{
		{"released", func(_ *testing.T, _ *redis.Client, lease *catalog.Lease, _ string) { lease.Release() }},
		{"lapsed", func(t *testing.T, rdb *redis.Client, _ *catalog.Lease, key string) {
			if err := rdb.Del(ctx, key).Err(); err != nil {
				t.Fatal(err)
			}
		}},
		{"taken by another worker", func(t *testing.T, rdb *redis.Client, _ *catalog.Lease, key string) {
			if err := rdb.Set(ctx, key, "another worker's token", time.Minute).Err(); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(lost.name, func(t *testing.T) {
			c, rdb := newCatalog(t, catalog.Config{})
			old := permRecord("wxapp", wxqr.KindOAPerm, 1, "spring")
			mustPut(t, c, old)
			lease := mustLock(t, c, old.ID)
			lost.lose(t, rdb, lease, "wxqr:lock:"+old.ID)

			next := permRecord("wxapp", wxqr.KindOAPerm, 1, "autumn")
			next.Generation = 2
			if err := c.PutHeld(ctx, next, lease); !errors.Is(err, catalog.ErrLockLost) {
				t.Fatalf("PutHeld with a lost lease = %v, want ErrLockLost", err)
			}
			if got := mustGet(t, c, old.ID); got.Generation != 1 || got.Campaign != "spring" {
				t.Errorf("record after a fenced PutHeld = generation %d of %q, want generation 1 of spring untouched",
					got.Generation, got.Campaign)
			}
		})
	}
}

// waitGone polls until key is gone from Redis, for up to 5 s.
func waitGone(t *testing.T, rdb *redis.Client, key string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; {
		n, err := rdb.Exists(t.Context(), key).Result()
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still exists after 5 s", key)
		}
		time.Sleep(time.Millisecond)
	}
}
