package catalog_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/wxqr/wxqr/catalog"
)

// drop drops the staged result of id as the holder of its lock does.
func drop(t *testing.T, c *catalog.Catalog, id string) error {
	t.Helper()
	lease, err := c.Lock(t.Context(), id, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release()
	return c.DropStaged(t.Context(), id, lease)
}

func TestStaged(t *testing.T) {
	allBytes := make([]byte, 0, 512)
	for i := range 512 {
		allBytes = append(allBytes, byte(i)) // every byte value, NUL and invalid UTF-8 included
	}
	tests := []struct {
		name    string
		cfg     catalog.Config
		s       *catalog.Staged
		wantTTL time.Duration
	}{
		{
			name: "oa code, default ttl",
			s: &catalog.Staged{Generation: 2, Ticket: "gQH47joAAAAAAAAAASxod+/=", URL: "http://weixin.qq.com/q/02abc",
				ExpireSeconds: 2592000, Image: allBytes, ContentType: "image/jpeg", CreatedAt: base, RefusedAt: base.Add(time.Hour)},
			wantTTL: 7 * 24 * time.Hour,
		},
		{
			name:    "mini program code, configured ttl",
			cfg:     catalog.Config{StagedTTL: time.Hour},
			s:       &catalog.Staged{Generation: 1, Image: []byte("\x89PNG\r\n\x1a\n\x00"), ContentType: "image/png", CreatedAt: base.Add(time.Nanosecond)},
			wantTTL: time.Hour,
		},
		{
			name:    "zero values",
			s:       &catalog.Staged{},
			wantTTL: 7 * 24 * time.Hour,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, rdb := newCatalog(t, tt.cfg)
			ctx := t.Context()
			const id = "0123456789abcdef0123456789abcdef"
			if got, err := c.Staged(ctx, id); got != nil || err != nil {
				t.Fatalf("Staged() before Stage = %+v, %v; want nil, nil", got, err)
			}
			// Staging over an earlier result replaces all of it.
			if err := c.Stage(ctx, id, &catalog.Staged{Generation: 9, Ticket: "old", URL: "old", Image: []byte("old"), RefusedAt: base}); err != nil {
				t.Fatal(err)
			}
			if err := c.Stage(ctx, id, tt.s); err != nil {
				t.Fatal(err)
			}
			got, err := c.Staged(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if got == nil {
				t.Fatal("Staged() = nil after Stage")
			}
			if got.Generation != tt.s.Generation || got.Ticket != tt.s.Ticket || got.URL != tt.s.URL ||
				got.ExpireSeconds != tt.s.ExpireSeconds || got.ContentType != tt.s.ContentType || !got.CreatedAt.Equal(tt.s.CreatedAt) ||
				!got.RefusedAt.Equal(tt.s.RefusedAt) {
				t.Errorf("Staged() = %+v\nwant %+v", got, tt.s)
			}
			if !slices.Equal(got.Image, tt.s.Image) {
				t.Errorf("image = %q, want %q", got.Image, tt.s.Image)
			}
			ttl, err := rdb.PTTL(ctx, "wxqr:staged:"+id).Result()
			if err != nil {
				t.Fatal(err)
			}
			if ttl <= tt.wantTTL-time.Minute || ttl > tt.wantTTL {
				t.Errorf("TTL = %s, want just under %s", ttl, tt.wantTTL)
			}
			if err := drop(t, c, id); err != nil {
				t.Fatal(err)
			}
			if got, err := c.Staged(ctx, id); got != nil || err != nil {
				t.Errorf("Staged() after DropStaged = %+v, %v; want nil, nil", got, err)
			}
			if err := drop(t, c, id); err != nil {
				t.Errorf("DropStaged() of nothing = %v, want nil", err)
			}
		})
	}
}

// TestDropStagedIsFenced: a worker whose lock lapsed, or was taken by
// another, drops nothing.
func TestDropStagedIsFenced(t *testing.T) {
	c, rdb := newCatalog(t, catalog.Config{})
	ctx := t.Context()
	const id = "code"
	if err := c.DropStaged(ctx, id, nil); err == nil {
		t.Error("DropStaged without a lease succeeded, want an error")
	}
	lease, err := c.Lock(ctx, id, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release()
	for _, holder := range []string{"another worker", ""} {
		if holder == "" {
			err = rdb.Del(ctx, "wxqr:lock:"+id).Err()
		} else {
			err = rdb.Set(ctx, "wxqr:lock:"+id, holder, time.Minute).Err()
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Stage(ctx, id, &catalog.Staged{Generation: 2, Ticket: "theirs", Image: []byte("12345")}); err != nil {
			t.Fatal(err)
		}
		if err := rdb.Set(ctx, "wxqr:called:"+id, 2, time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
		if err := c.DropStaged(ctx, id, lease); !errors.Is(err, catalog.ErrLockLost) {
			t.Errorf("lock held by %q: DropStaged = %v, want ErrLockLost", holder, err)
		}
		if s, err := c.Staged(ctx, id); err != nil || s == nil || s.Ticket != "theirs" {
			t.Errorf("lock held by %q: Staged = %+v, %v; want the result kept", holder, s, err)
		}
		if gen, err := c.Called(ctx, id); err != nil || gen != 2 {
			t.Errorf("lock held by %q: Called = %d, %v; want the mark kept", holder, gen, err)
		}
		if n, err := c.StagedBytes(ctx); err != nil || n != 5 {
			t.Errorf("lock held by %q: StagedBytes = %d, %v; want 5, still counted", holder, n, err)
		}
	}
}

// TestNoteRefused: the staged result keeps the first refusal, for its
// generation only, written only by the holder of the lock, and a result
// staged anew starts without one.
func TestNoteRefused(t *testing.T) {
	c, rdb := newCatalog(t, catalog.Config{})
	ctx := t.Context()
	const id = "code"
	lease, err := c.Lock(ctx, id, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release()
	note := func(gen int, at time.Time) time.Time {
		t.Helper()
		first, err := c.NoteRefused(ctx, id, gen, at, lease)
		if err != nil {
			t.Fatalf("NoteRefused(%d, %s): %v", gen, at, err)
		}
		return first
	}
	if first := note(1, base); !first.IsZero() {
		t.Errorf("NoteRefused with nothing staged = %s, want the zero time", first)
	}
	if n, err := rdb.Exists(ctx, "wxqr:staged:"+id).Result(); err != nil || n != 0 {
		t.Errorf("NoteRefused with nothing staged wrote the result (%d, %v)", n, err)
	}
	if err := c.Stage(ctx, id, &catalog.Staged{Generation: 1, Ticket: "t", CreatedAt: base}); err != nil {
		t.Fatal(err)
	}
	if first := note(2, base); !first.IsZero() {
		t.Errorf("NoteRefused of another generation = %s, want the zero time", first)
	}
	for _, at := range []time.Time{base.Add(time.Minute), base.Add(time.Hour)} {
		if first := note(1, at); !first.Equal(base.Add(time.Minute)) {
			t.Errorf("NoteRefused(1, %s) = %s, want the first refusal %s", at, first, base.Add(time.Minute))
		}
	}
	if s, err := c.Staged(ctx, id); err != nil || s == nil || !s.RefusedAt.Equal(base.Add(time.Minute)) || s.Ticket != "t" {
		t.Errorf("Staged = %+v, %v; want ticket t refused first at %s", s, err, base.Add(time.Minute))
	}
	// A new result has not been refused.
	if err := c.Stage(ctx, id, &catalog.Staged{Generation: 2, Ticket: "u", CreatedAt: base}); err != nil {
		t.Fatal(err)
	}
	if s, err := c.Staged(ctx, id); err != nil || s == nil || !s.RefusedAt.IsZero() {
		t.Errorf("Staged anew = %+v, %v; want no refusal", s, err)
	}
	if err := rdb.Set(ctx, "wxqr:lock:"+id, "another worker", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.NoteRefused(ctx, id, 2, base, lease); !errors.Is(err, catalog.ErrLockLost) {
		t.Errorf("NoteRefused with the lock taken = %v, want ErrLockLost", err)
	}
	if s, err := c.Staged(ctx, id); err != nil || s == nil || !s.RefusedAt.IsZero() {
		t.Errorf("Staged after a fenced NoteRefused = %+v, %v; want no refusal written", s, err)
	}
	if _, err := c.NoteRefused(ctx, id, 2, base, nil); err == nil {
		t.Error("NoteRefused without a lease succeeded, want an error")
	}
}

// TestStagedWithoutRefusalField: a result staged before the refusal field
// existed reads back as never refused.
func TestStagedWithoutRefusalField(t *testing.T) {
	c, rdb := newCatalog(t, catalog.Config{})
	fields := []any{"generation", "1", "ticket", "t", "url", "", "expire_seconds", "0", "image", "", "content_type", "", "created_at", base.Format(time.RFC3339Nano)}
	if err := rdb.HSet(t.Context(), "wxqr:staged:old", fields...).Err(); err != nil {
		t.Fatal(err)
	}
	if s, err := c.Staged(t.Context(), "old"); err != nil || s == nil || s.Ticket != "t" || !s.RefusedAt.IsZero() {
		t.Errorf("Staged = %+v, %v; want ticket t, never refused", s, err)
	}
}

func TestStagedCorrupt(t *testing.T) {
	c, rdb := newCatalog(t, catalog.Config{})
	tests := []struct {
		name   string
		fields []any
	}{
		{"missing fields", []any{"generation", "1"}},
		{"bad generation", []any{"generation", "x", "ticket", "", "url", "", "expire_seconds", "0", "image", "", "content_type", "", "created_at", ""}},
		{"bad time", []any{"generation", "1", "ticket", "", "url", "", "expire_seconds", "0", "image", "", "content_type", "", "created_at", "yesterday"}},
		{"bad refusal time", []any{"generation", "1", "ticket", "", "url", "", "expire_seconds", "0", "image", "", "content_type", "", "created_at", "", "refused_at", "yesterday"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := tt.name
			if err := rdb.HSet(t.Context(), "wxqr:staged:"+id, tt.fields...).Err(); err != nil {
				t.Fatal(err)
			}
			if got, err := c.Staged(t.Context(), id); err == nil {
				t.Errorf("Staged() = %+v, want an error", got)
			}
		})
	}
}

func TestStageRefusesNothing(t *testing.T) {
	c, _ := newCatalog(t, catalog.Config{})
	if err := c.Stage(t.Context(), "id", nil); err == nil {
		t.Error("Stage(nil) succeeded, want an error")
	}
	if err := c.Stage(t.Context(), "", &catalog.Staged{}); err == nil {
		t.Error("Stage(no id) succeeded, want an error")
	}
}

// TestStagedWithoutImage pins what the generator relies on: a ticket staged
// before its image was fetched reads back with no image, though Redis keeps
// the field and returns it as an empty string.
func TestStagedWithoutImage(t *testing.T) {
	for _, image := range [][]byte{nil, {}} {
		c, rdb := newCatalog(t, catalog.Config{})
		ctx := t.Context()
		const id = "ticket-only"
		s := &catalog.Staged{Generation: 1, Ticket: "gQH47joAAAAAAAAAASx", URL: "http://weixin.qq.com/q/02x", Image: image, CreatedAt: base}
		if err := c.Stage(ctx, id, s); err != nil {
			t.Fatal(err)
		}
		field, err := rdb.HGet(ctx, "wxqr:staged:"+id, "image").Result()
		if err != nil || field != "" {
			t.Fatalf("the image field in Redis = %q, %v; want an empty string", field, err)
		}
		got, err := c.Staged(ctx, id)
		if err != nil || got == nil {
			t.Fatalf("Staged = %+v, %v", got, err)
		}
		if len(got.Image) != 0 || got.Image != nil {
			t.Errorf("staged image = %#v, want nil: no image was staged", got.Image)
		}
		if got.Ticket != s.Ticket {
			t.Errorf("staged ticket = %q, want %q", got.Ticket, s.Ticket)
		}
	}
}

func TestMarkCalled(t *testing.T) {
	c, rdb := newCatalog(t, catalog.Config{StagedTTL: time.Hour})
	ctx := t.Context()
	const id = "code"
	if gen, err := c.Called(ctx, id); err != nil || gen != 0 {
		t.Fatalf("Called before MarkCalled = %d, %v; want 0, nil", gen, err)
	}
	lease, err := c.Lock(ctx, id, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release()
	for _, gen := range []int{1, 3} {
		if err := c.MarkCalled(ctx, id, gen, lease); err != nil {
			t.Fatalf("MarkCalled(%d): %v", gen, err)
		}
		if got, err := c.Called(ctx, id); err != nil || got != gen {
			t.Fatalf("Called after MarkCalled(%d) = %d, %v", gen, got, err)
		}
	}
	ttl, err := rdb.PTTL(ctx, "wxqr:called:"+id).Result()
	if err != nil || ttl <= time.Hour-time.Minute || ttl > time.Hour {
		t.Errorf("TTL of the call mark = %s (%v), want just under the staged TTL of 1h", ttl, err)
	}
	// Another code's mark is its own.
	if gen, err := c.Called(ctx, "other"); err != nil || gen != 0 {
		t.Errorf("Called(other) = %d, %v; want 0", gen, err)
	}
	// A lease whose lock another worker took marks nothing.
	if err := rdb.Set(ctx, "wxqr:lock:"+id, "another worker", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.MarkCalled(ctx, id, 5, lease); !errors.Is(err, catalog.ErrLockLost) {
		t.Errorf("MarkCalled with a lost lock = %v, want ErrLockLost", err)
	}
	if got, err := c.Called(ctx, id); err != nil || got != 3 {
		t.Errorf("Called after a MarkCalled with a lost lock = %d, %v; want 3 kept", got, err)
	}
	lease.Release()
	if err := rdb.Del(ctx, "wxqr:lock:"+id).Err(); err != nil {
		t.Fatal(err)
	}

	// The mark goes with the staged result: the code is recorded.
	if err := c.Stage(ctx, id, &catalog.Staged{Generation: 3, Ticket: "t"}); err != nil {
		t.Fatal(err)
	}
	if err := drop(t, c, id); err != nil {
		t.Fatal(err)
	}
	if gen, err := c.Called(ctx, id); err != nil || gen != 0 {
		t.Errorf("Called after DropStaged = %d, %v; want 0", gen, err)
	}
	if s, err := c.Staged(ctx, id); err != nil || s != nil {
		t.Errorf("Staged after DropStaged = %+v, %v; want nil", s, err)
	}

	if err := rdb.Set(ctx, "wxqr:called:"+id, "not a number", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Called(ctx, id); err == nil {
		t.Error("Called of a corrupt mark succeeded, want an error")
	}
}

func TestStagedBytes(t *testing.T) {
	ctx := t.Context()
	c, rdb := newCatalog(t, catalog.Config{})
	mustBytes := func(want int64) {
		t.Helper()
		got, err := c.StagedBytes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("StagedBytes() = %d, want %d", got, want)
		}
	}
	mustStage := func(id string, image string) {
		t.Helper()
		if err := c.Stage(ctx, id, &catalog.Staged{Generation: 1, Image: []byte(image)}); err != nil {
			t.Fatal(err)
		}
	}
	mustBytes(0)
	mustStage("a", "12345")
	mustStage("b", "123")
	mustBytes(8)
	// Staging again replaces the count of the earlier image.
	mustStage("a", "12")
	mustBytes(5)
	// A ticket staged without its image counts nothing, and keeps no size.
	mustStage("c", "")
	mustBytes(5)
	if n, err := rdb.HLen(ctx, "wxqr:staged_sizes").Result(); err != nil || n != 2 {
		t.Errorf("sizes kept = %d, %v; want 2 (a and b)", n, err)
	}
	// An image staged again as a ticket alone stops counting.
	mustStage("b", "")
	mustBytes(2)
	mustStage("b", "123")
	mustBytes(5)
	if err := drop(t, c, "a"); err != nil {
		t.Fatal(err)
	}
	mustBytes(3)
	// Dropping twice subtracts once.
	if err := drop(t, c, "a"); err != nil {
		t.Fatal(err)
	}
	mustBytes(3)
	if err := drop(t, c, "b"); err != nil {
		t.Fatal(err)
	}
	mustBytes(0)
}

// TestStagedBytesForgetsExpiredResults checks that a staged result whose
// TTL ends before anyone drops it stops counting.
func TestStagedBytesForgetsExpiredResults(t *testing.T) {
	ctx := t.Context()
	c, rdb := newCatalog(t, catalog.Config{StagedTTL: 50 * time.Millisecond})
	if err := c.Stage(ctx, "abandoned", &catalog.Staged{Image: []byte("0123456789")}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for rdb.Exists(ctx, "wxqr:staged:abandoned").Val() == 1 {
		if time.Now().After(deadline) {
			t.Fatal("the staged result never expired")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The next Stage sweeps it.
	if err := c.Stage(ctx, "fresh", &catalog.Staged{Image: []byte("xy")}); err != nil {
		t.Fatal(err)
	}
	if got, err := c.StagedBytes(ctx); err != nil || got != 2 {
		t.Errorf("StagedBytes() = %d, %v; want 2 (the expired result no longer counts)", got, err)
	}
}
