package tasks_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/internal/testenv"
	"github.com/wxqr/wxqr/ratelimit"
	"github.com/wxqr/wxqr/storage"
	"github.com/wxqr/wxqr/tasks"
)

// The contract tests run the same cases on each wrapper the generator's
// tests use and on the real implementation it wraps, so that a wrapper
// cannot behave in a way the real one does not (a staged image that reads
// back as nil where Redis gives an empty field, a missing object that is
// not ErrNotFound).

func TestCatalogContract(t *testing.T) {
	impls := []struct {
		name string
		new  func(t *testing.T) (tasks.Catalog, *redis.Client)
	}{
		{"catalog.Catalog", func(t *testing.T) (tasks.Catalog, *redis.Client) {
			rdb := testenv.Redis(t)
			return catalog.New(rdb, ""), rdb
		}},
		{"testCatalog", func(t *testing.T) (tasks.Catalog, *redis.Client) {
			rdb := testenv.Redis(t)
			return &testCatalog{Catalog: catalog.New(rdb, "")}, rdb
		}},
	}
	const id = "code"
	rec := &wxqr.Record{ID: permSpec.ID(), Spec: permSpec, Generation: 1, CreatedAt: genNow}
	// claim takes id's lock and returns what Claim read under it, the lock
	// released again at the end of the test.
	claim := func(t *testing.T, c tasks.Catalog, id string) *catalog.Claim {
		t.Helper()
		cl, err := c.Claim(t.Context(), id, time.Minute, "")
		if err != nil {
			t.Fatalf("Claim: %v", err)
		}
		t.Cleanup(cl.Lease.Release)
		return cl
	}
	cases := []struct {
		name string
		run  func(t *testing.T, c tasks.Catalog, rdb *redis.Client)
	}{
		{"nothing staged", func(t *testing.T, c tasks.Catalog, _ *redis.Client) {
			if cl := claim(t, c, id); cl.Staged != nil || cl.Record != nil || cl.Called != 0 || cl.CampaignRetired {
				t.Errorf("Claim = %+v; want nothing read", cl)
			}
		}},
		{"ticket staged without image", func(t *testing.T, c tasks.Catalog, _ *redis.Client) {
			for _, img := range [][]byte{nil, {}} {
				if err := c.Stage(t.Context(), id, &catalog.Staged{Generation: 1, Ticket: "t", Image: img, CreatedAt: genNow}); err != nil {
					t.Fatal(err)
				}
				cl := claim(t, c, id)
				cl.Lease.Release()
				s := cl.Staged
				if s == nil {
					t.Fatal("Claim read no staged result")
				}
				if len(s.Image) != 0 || s.Ticket != "t" || s.Generation != 1 || !s.CreatedAt.Equal(genNow) {
					t.Errorf("Staged = %+v, want ticket t of generation 1 without image", s)
				}
			}
		}},
		{"image staged", func(t *testing.T, c tasks.Catalog, _ *redis.Client) {
			img := jpegOf(t, "staged")
			if err := c.Stage(t.Context(), id, &catalog.Staged{Generation: 2, Image: img, ContentType: wxqr.ContentTypeJPEG}); err != nil {
				t.Fatal(err)
			}
			if s := claim(t, c, id).Staged; s == nil || !slices.Equal(s.Image, img) || s.ContentType != wxqr.ContentTypeJPEG {
				t.Errorf("Staged = %+v; want the staged image", s)
			}
		}},
		{"call mark goes with the staged result", func(t *testing.T, c tasks.Catalog, _ *redis.Client) {
			ctx := t.Context()
			marker := claim(t, c, id).Lease
			if err := c.MarkCalled(ctx, id, 2, marker); err != nil {
				t.Fatal(err)
			}
			if err := c.Stage(ctx, id, &catalog.Staged{Generation: 2, Ticket: "t"}); err != nil {
				t.Fatal(err)
			}
			marker.Release()
			cl := claim(t, c, id)
			if cl.Called != 2 {
				t.Fatalf("Called = %d, want 2", cl.Called)
			}
			if err := c.DropStaged(ctx, id, cl.Lease); err != nil {
				t.Fatal(err)
			}
			cl.Lease.Release()
			if cl := claim(t, c, id); cl.Called != 0 || cl.Staged != nil {
				t.Errorf("after DropStaged: Called = %d, Staged = %+v; want 0 and nil", cl.Called, cl.Staged)
			}
		}},
		{"drop and refusal fenced by the lock", func(t *testing.T, c tasks.Catalog, rdb *redis.Client) {
			ctx := t.Context()
			if err := c.Stage(ctx, id, &catalog.Staged{Generation: 1, Ticket: "t"}); err != nil {
				t.Fatal(err)
			}
			lost := claim(t, c, id).Lease
			if err := rdb.Set(ctx, lockKey(id), otherWorker, time.Minute).Err(); err != nil {
				t.Fatal(err)
			}
			if err := c.DropStaged(ctx, id, lost); !errors.Is(err, catalog.ErrLockLost) {
				t.Errorf("DropStaged with a lost lock = %v, want ErrLockLost", err)
			}
			if _, err := c.NoteRefused(ctx, id, 1, genNow, lost); !errors.Is(err, catalog.ErrLockLost) {
				t.Errorf("NoteRefused with a lost lock = %v, want ErrLockLost", err)
			}
			if err := rdb.Del(ctx, lockKey(id)).Err(); err != nil {
				t.Fatal(err)
			}
			cl := claim(t, c, id)
			if s := cl.Staged; s == nil || s.Ticket != "t" || !s.RefusedAt.IsZero() {
				t.Fatalf("Staged = %+v; want the result kept, no refusal noted", s)
			}
			for _, at := range []time.Time{genNow, genNow.Add(time.Hour)} {
				if first, err := c.NoteRefused(ctx, id, 1, at, cl.Lease); err != nil || !first.Equal(genNow) {
					t.Errorf("NoteRefused(%s) = %s, %v; want the first refusal %s", at, first, err, genNow)
				}
			}
			if first, err := c.NoteRefused(ctx, id, 2, genNow, cl.Lease); err != nil || !first.IsZero() {
				t.Errorf("NoteRefused of generation 2, not staged = %s, %v; want the zero time", first, err)
			}
			cl.Lease.Release()
			if s := claim(t, c, id).Staged; s == nil || !s.RefusedAt.Equal(genNow) {
				t.Errorf("Staged = %+v; want RefusedAt %s", s, genNow)
			}
		}},
		{"lock", func(t *testing.T, c tasks.Catalog, _ *redis.Client) {
			cl := claim(t, c, id)
			if _, err := c.Claim(t.Context(), id, time.Minute, ""); !errors.Is(err, catalog.ErrLocked) {
				t.Errorf("second Claim = %v, want ErrLocked", err)
			}
			cl.Lease.Release()
			claim(t, c, id)
		}},
		{"finish", func(t *testing.T, c tasks.Catalog, rdb *redis.Client) {
			ctx := t.Context()
			lost := claim(t, c, rec.ID).Lease
			if err := c.MarkCalled(ctx, rec.ID, 1, lost); err != nil {
				t.Fatal(err)
			}
			if err := c.Stage(ctx, rec.ID, &catalog.Staged{Generation: 1, Ticket: "t"}); err != nil {
				t.Fatal(err)
			}
			if err := rdb.Set(ctx, lockKey(rec.ID), otherWorker, time.Minute).Err(); err != nil {
				t.Fatal(err)
			}
			if err := c.MarkCalled(ctx, rec.ID, 2, lost); !errors.Is(err, catalog.ErrLockLost) {
				t.Errorf("MarkCalled with a lost lock = %v, want ErrLockLost", err)
			}
			if err := c.Finish(ctx, rec, lost); !errors.Is(err, catalog.ErrLockLost) {
				t.Errorf("Finish with a lost lock = %v, want ErrLockLost", err)
			}
			if err := rdb.Del(ctx, lockKey(rec.ID)).Err(); err != nil {
				t.Fatal(err)
			}
			cl := claim(t, c, rec.ID)
			if cl.Record != nil || cl.Staged == nil || cl.Called != 1 {
				t.Fatalf("after a Finish that lost its lock: Claim = %+v; want no record, the staged result and the call mark kept", cl)
			}
			if err := c.Finish(ctx, rec, cl.Lease); err != nil {
				t.Fatalf("Finish: %v", err)
			}
			// Finish released the lock: the code can be claimed at once.
			if cl := claim(t, c, rec.ID); cl.Record == nil || cl.Record.Generation != 1 || cl.Staged != nil || cl.Called != 0 {
				t.Errorf("after Finish: Claim = %+v; want generation 1 recorded, nothing staged, no call mark", cl)
			}
		}},
	}
	for _, impl := range impls {
		t.Run(impl.name, func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					c, rdb := impl.new(t)
					tc.run(t, c, rdb)
				})
			}
		})
	}
}

func TestStoreContract(t *testing.T) {
	impls := []struct {
		name string
		new  func(t *testing.T) storage.Store
	}{
		{"storage.DirStore", func(t *testing.T) storage.Store {
			dir, err := storage.NewDir(t.TempDir(), "codes")
			if err != nil {
				t.Fatal(err)
			}
			return dir
		}},
		{"testStore", func(t *testing.T) storage.Store { return newTestStore(t) }},
	}
	cases := []struct {
		name string
		run  func(t *testing.T, s storage.Store)
	}{
		{"missing", func(t *testing.T, s storage.Store) {
			if obj, err := s.Get(t.Context(), "wxoa/oa_perm/i-1.jpg"); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("Get of a missing key = %+v, %v; want ErrNotFound", obj, err)
			}
		}},
		{"0 bytes", func(t *testing.T, s storage.Store) {
			mustStorePut(t, s, "a.jpg", []byte{}, wxqr.ContentTypeJPEG, nil)
			obj, err := s.Get(t.Context(), "a.jpg")
			if err != nil || len(obj.Body) != 0 {
				t.Errorf("Get of a 0-byte object = %+v, %v; want it empty", obj, err)
			}
		}},
		{"round trip", func(t *testing.T, s storage.Store) {
			body := jpegOf(t, "round trip")
			meta := map[string]string{"wxqr-id": "abc", "wxqr-generation": "2"}
			mustStorePut(t, s, "a/b.jpg", body, wxqr.ContentTypeJPEG, meta)
			obj, err := s.Get(t.Context(), "a/b.jpg")
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(obj.Body, body) || obj.ContentType != wxqr.ContentTypeJPEG || !maps.Equal(obj.Meta, meta) {
				t.Errorf("Get = %d bytes, %q, %v; want %d bytes, %q, %v",
					len(obj.Body), obj.ContentType, obj.Meta, len(body), wxqr.ContentTypeJPEG, meta)
			}
		}},
		{"location", func(t *testing.T, s storage.Store) {
			if _, key := s.Location("a/b.jpg"); key != "codes/a/b.jpg" {
				t.Errorf("Location key = %q, want codes/a/b.jpg", key)
			}
		}},
	}
	for _, impl := range impls {
		t.Run(impl.name, func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, impl.new(t)) })
			}
		})
	}
}

func mustStorePut(t *testing.T, s storage.Store, key string, body []byte, contentType string, meta map[string]string) {
	t.Helper()
	if err := s.Put(t.Context(), key, body, contentType, meta); err != nil {
		t.Fatal(err)
	}
}

func TestBudgetContract(t *testing.T) {
	newBudget := func(t *testing.T) *ratelimit.Budget {
		return ratelimit.NewBudget(testenv.Redis(t), ratelimit.BudgetConfig{
			Limits: func(string) (int64, bool) { return 2, true },
			Now:    func() time.Time { return genNow },
		})
	}
	// budget is what the generator uses, and what the tests read back.
	type budget interface {
		tasks.Budget
		Used(ctx context.Context, key string) (used, limit int64, err error)
	}
	impls := []struct {
		name string
		new  func(t *testing.T) budget
	}{
		{"ratelimit.Budget", func(t *testing.T) budget { return newBudget(t) }},
		{"countingBudget", func(t *testing.T) budget {
			return &countingBudget{Budget: newBudget(t), spends: map[string]int64{}, refunds: map[string]int64{}}
		}},
	}
	for _, impl := range impls {
		t.Run(impl.name, func(t *testing.T) {
			b := impl.new(t)
			ctx := t.Context()
			spend := func(want bool) {
				t.Helper()
				if ok, err := b.Spend(ctx, "k", 1); ok != want || err != nil {
					t.Fatalf("Spend = %v, %v; want %v", ok, err, want)
				}
			}
			spend(true)
			spend(true)
			spend(false) // the limit is 2
			if err := b.Refund(ctx, "k", 1); err != nil {
				t.Fatal(err)
			}
			spend(true)
			spend(false)
			if used, _, err := b.Used(ctx, "k"); used != 2 || err != nil {
				t.Errorf("Used = %d, %v; want 2", used, err)
			}
		})
	}
}
