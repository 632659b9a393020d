package catalog_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
)

// ticketKey is the catalog's ticket index key for ticket, under the default
// prefix, as the package documentation names it.
func ticketKey(ticket string) string {
	sum := sha256.Sum256([]byte(ticket))
	return catalog.DefaultPrefix + "ticket:" + hex.EncodeToString(sum[:16])
}

// expireTime returns key's absolute expiry (EXPIRETIME), or -1 when it has
// none.
func expireTime(t *testing.T, rdb *redis.Client, key string) int64 {
	t.Helper()
	at, err := rdb.Do(t.Context(), "EXPIRETIME", key).Int64()
	if err != nil {
		t.Fatalf("EXPIRETIME %s: %v", key, err)
	}
	return at
}

func TestByTicket(t *testing.T) {
	c, rdb := newCatalog(t, catalog.Config{})
	expires := time.Now().Add(time.Hour).Truncate(time.Second)
	first := tempRecord("spring", "posters", expires)
	first.Ticket = "gQFirstGeneration" + strings.Repeat("A", 80) + "+/="
	mustPut(t, c, first)

	second := *first
	second.Ticket = "gQSecondGeneration" + strings.Repeat("B", 80) + "+/="
	second.Generation = 2
	second.ExpiresAt = expires.Add(wxqr.MaxTempExpire)
	mustPut(t, c, &second)

	perm := permRecord(first.AppID, wxqr.KindOAPerm, 7, "posters")
	perm.Ticket = "gQPermanent" + strings.Repeat("C", 80)
	mustPut(t, c, perm)

	t.Run("both generations find the code", func(t *testing.T) {
		for _, ticket := range []string{first.Ticket, second.Ticket} {
			got, err := c.ByTicket(t.Context(), ticket)
			if err != nil {
				t.Fatalf("ByTicket(generation ticket): %v", err)
			}
			if got.ID != first.ID || got.Generation != 2 {
				t.Errorf("ByTicket() = %s generation %d, want %s generation 2", got.ID, got.Generation, first.ID)
			}
		}
	})
	t.Run("each ticket expires a day after its generation", func(t *testing.T) {
		for ticket, exp := range map[string]time.Time{first.Ticket: first.ExpiresAt, second.Ticket: second.ExpiresAt} {
			want := exp.Add(24 * time.Hour).Unix()
			if got := expireTime(t, rdb, ticketKey(ticket)); got != want {
				t.Errorf("ticket key expires at %d, want %d (expiry + 1 day)", got, want)
			}
		}
	})
	t.Run("a permanent ticket never expires", func(t *testing.T) {
		got, err := c.ByTicket(t.Context(), perm.Ticket)
		if err != nil || got.ID != perm.ID {
			t.Fatalf("ByTicket(permanent) = %v, %v; want %s", got, err, perm.ID)
		}
		if at := expireTime(t, rdb, ticketKey(perm.Ticket)); at != -1 {
			t.Errorf("permanent ticket key expires at %d, want never (-1)", at)
		}
	})
	t.Run("retiring keeps the tickets", func(t *testing.T) {
		mustRetire(t, c, first.ID)
		if _, err := c.ByTicket(t.Context(), first.Ticket); err != nil {
			t.Errorf("ByTicket(retired code's ticket): %v", err)
		}
	})
	t.Run("an unknown ticket is not found, and not named", func(t *testing.T) {
		const unknown = "gQUnknownTicket"
		_, err := c.ByTicket(t.Context(), unknown)
		if !errors.Is(err, catalog.ErrNotFound) {
			t.Fatalf("ByTicket(unknown) error = %v, want ErrNotFound", err)
		}
		if strings.Contains(err.Error(), unknown) {
			t.Errorf("error %q names the ticket", err)
		}
	})
	t.Run("an expired code's ticket is dropped", func(t *testing.T) {
		old := tempRecord("long-gone", "", time.Now().Add(-48*time.Hour))
		old.Ticket = "gQLongGone"
		mustPut(t, c, old)
		if _, err := c.ByTicket(t.Context(), old.Ticket); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("ByTicket(expired two days ago) error = %v, want ErrNotFound", err)
		}
	})
}

func TestByEntry(t *testing.T) {
	c, _ := newCatalog(t, catalog.Config{})
	const app = "wxmini"
	spec := func(kind wxqr.Kind, scene, path string, width int) *wxqr.Record {
		s := wxqr.Spec{Kind: kind, AppID: app, SceneStr: scene, Path: path, Width: width}
		rec := permRecord(app, kind, 1, "stores")
		rec.Spec, rec.ID, rec.ObjectKey = s, s.ID(), s.Key()
		return rec
	}
	unlimited := spec(wxqr.KindWxaUnlimited, "store=12", "pages/store", 0)
	byPath := spec(wxqr.KindWxaCode, "", "pages/item?id=3&from=poster", 0)
	wider := spec(wxqr.KindWxaCode, "", "pages/item?id=3&from=poster", 860)
	qrcode := spec(wxqr.KindWxaQRCode, "", "pages/home", 0)
	mustPut(t, c, unlimited, byPath, qrcode, wider)

	tests := []struct {
		name, app string
		page      string
		query     map[string]string
		want      string // the id; "" for none
	}{
		{"unlimited by scene", app, "pages/store", map[string]string{"scene": "store=12"}, unlimited.ID},
		{"path, query in another order; the width put last wins", app, "pages/item", map[string]string{"from": "poster", "id": "3"}, wider.ID},
		{"path without a query", app, "pages/home", nil, qrcode.ID},
		{"another query", app, "pages/item", map[string]string{"id": "4", "from": "poster"}, ""},
		{"another app", "wxother", "pages/home", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entry := wxqr.LaunchEntryKeys(tt.page, tt.query)[0]
			got, err := c.ByEntry(t.Context(), tt.app, entry)
			if tt.want == "" {
				if !errors.Is(err, catalog.ErrNotFound) {
					t.Errorf("ByEntry(%q) = %v, %v; want ErrNotFound", entry, got, err)
				}
				return
			}
			if err != nil || got.ID != tt.want {
				t.Errorf("ByEntry(%q) = %v, %v; want %s", entry, got, err, tt.want)
			}
		})
	}
}
