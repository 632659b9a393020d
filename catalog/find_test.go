package catalog_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
)

func TestByScan(t *testing.T) {
	c, rdb := newCatalog(t, catalog.Config{})
	expires := time.Now().Add(time.Hour).Truncate(time.Second)
	first := tempRecord("spring", "posters", expires)
	first.Ticket = "gQFirstGeneration" + strings.Repeat("A", 80) + "+/="
	mustPut(t, c, first)

	second := *first
	second.Ticket = "gQSecondGeneration" + strings.Repeat("B", 80) + "+/="
	second.Generation = 2
	second.CreatedAt = expires.Add(-time.Minute)
	second.ExpiresAt = expires.Add(wxqr.MaxTempExpire)
	mustPut(t, c, &second)

	perm := permRecord(first.AppID, wxqr.KindOAPerm, 7, "posters")
	perm.Ticket = "gQPermanent" + strings.Repeat("C", 80)
	mustPut(t, c, perm)
	sameScene := permRecord(first.AppID, wxqr.KindOAPerm, 0, "posters") // a permanent code with the temporary one's scene
	sameScene.Spec = wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: first.AppID, SceneStr: "spring"}
	sameScene.ID, sameScene.ObjectKey, sameScene.Ticket = sameScene.Spec.ID(), sameScene.Spec.Key(), "gQSameScene"
	mustPut(t, c, sameScene)

	scan := func(scene, ticket string, at time.Time) (*wxqr.Record, error) {
		return c.ByScan(t.Context(), catalog.Scan{AppID: first.AppID, Scene: scene, Ticket: ticket, At: at})
	}
	now := time.Now()
	t.Run("both generations' tickets find the code", func(t *testing.T) {
		for _, ticket := range []string{first.Ticket, second.Ticket} {
			got, err := scan("spring", ticket, now)
			if err != nil {
				t.Fatalf("ByScan(a generation's ticket): %v", err)
			}
			if got.ID != first.ID || got.Generation != 2 {
				t.Errorf("ByScan() = %s generation %d, want %s generation 2", got.ID, got.Generation, first.ID)
			}
		}
	})
	t.Run("the ticket tells codes with one scene apart", func(t *testing.T) {
		got, err := scan("spring", sameScene.Ticket, now)
		if err != nil || got.ID != sameScene.ID {
			t.Errorf("ByScan(the permanent code's ticket) = %v, %v; want %s", got, err, sameScene.ID)
		}
		if _, err := scan("spring", "", now); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("ByScan(two codes' scene, no ticket) error = %v, want ErrNotFound", err)
		}
	})
	t.Run("a numeric scene finds a scene_id, without a ticket", func(t *testing.T) {
		got, err := scan("7", "", now)
		if err != nil || got.ID != perm.ID {
			t.Errorf("ByScan(7) = %v, %v; want %s", got, err, perm.ID)
		}
	})
	t.Run("an earlier generation's ticket finds the code until a day after it expired", func(t *testing.T) {
		if _, err := scan("spring", first.Ticket, expires.Add(23*time.Hour)); err != nil {
			t.Errorf("ByScan(first ticket, 23 h after its expiry): %v", err)
		}
		if _, err := scan("spring", first.Ticket, expires.Add(25*time.Hour)); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("ByScan(first ticket, 25 h after its expiry) error = %v, want ErrNotFound", err)
		}
	})
	t.Run("retiring keeps the tickets", func(t *testing.T) {
		mustRetire(t, c, first.ID)
		for _, ticket := range []string{first.Ticket, second.Ticket} {
			if _, err := scan("spring", ticket, now); err != nil {
				t.Errorf("ByScan(retired code's ticket): %v", err)
			}
		}
	})
	t.Run("an unknown ticket is not found, and not named", func(t *testing.T) {
		const unknown = "gQUnknownTicket"
		_, err := scan("spring", unknown, now)
		if !errors.Is(err, catalog.ErrNotFound) {
			t.Fatalf("ByScan(unknown) error = %v, want ErrNotFound", err)
		}
		if strings.Contains(err.Error(), unknown) {
			t.Errorf("error %q names the ticket", err)
		}
	})
	t.Run("another app's ticket is not found", func(t *testing.T) {
		_, err := c.ByScan(t.Context(), catalog.Scan{AppID: "wxother", Scene: "7", Ticket: perm.Ticket, At: now})
		if !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("ByScan(another app) error = %v, want ErrNotFound", err)
		}
	})
	t.Run("the ticket index of an earlier catalog still finds its codes", func(t *testing.T) {
		// A catalog written before records kept their earlier tickets: a
		// regenerated code's first ticket is only in the ticket index.
		old := tempRecord("autumn", "", expires)
		old.Ticket = "gQUpgradedCatalog"
		mustPut(t, c, old)
		sum := sha256.Sum256([]byte("gQBeforeTheUpgrade"))
		legacy := catalog.DefaultPrefix + "ticket:" + hex.EncodeToString(sum[:16])
		if err := rdb.Set(t.Context(), legacy, old.ID, time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
		got, err := scan("autumn", "gQBeforeTheUpgrade", now)
		if err != nil || got.ID != old.ID {
			t.Errorf("ByScan(ticket in the old index) = %v, %v; want %s", got, err, old.ID)
		}
		if _, err := scan("spring", "gQBeforeTheUpgrade", now); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("ByScan(old index's ticket, another scene) error = %v, want ErrNotFound", err)
		}
	})
	t.Run("no ticket index is written", func(t *testing.T) {
		keys, err := rdb.Keys(t.Context(), catalog.DefaultPrefix+"ticket:*").Result()
		if err != nil || len(keys) != 1 {
			t.Errorf("ticket keys: %v, %v; want only the one the test wrote", keys, err)
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

// A record an earlier catalog wrote (JSON) came with a key in its ticket
// index. Once a write replaces the record with one that knows the ticket,
// the key is deleted: a permanent code's would otherwise stay for ever.
func TestLegacyTicketKeyGoesWithItsRecord(t *testing.T) {
	c, rdb := newCatalog(t, catalog.Config{})
	ctx := t.Context()
	// asWritten turns rec's stored record into the earlier catalog's form,
	// with its ticket key, and returns that key.
	asWritten := func(t *testing.T, rec *wxqr.Record, ttl time.Duration) string {
		t.Helper()
		data, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(rec.Ticket))
		ticketKey := catalog.DefaultPrefix + "ticket:" + hex.EncodeToString(sum[:16])
		if err := rdb.Set(ctx, catalog.DefaultPrefix+"code:"+rec.ID, data, 0).Err(); err != nil {
			t.Fatal(err)
		}
		if err := rdb.Set(ctx, ticketKey, rec.ID, ttl).Err(); err != nil {
			t.Fatal(err)
		}
		return ticketKey
	}
	exists := func(t *testing.T, key string) bool {
		t.Helper()
		n, err := rdb.Exists(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	scanFinds := func(t *testing.T, rec *wxqr.Record, at time.Time) {
		t.Helper()
		got, err := c.ByScan(ctx, catalog.Scan{AppID: rec.AppID, Scene: rec.Spec.Scene(), Ticket: rec.Ticket, At: at})
		if err != nil || got.ID != rec.ID {
			t.Errorf("ByScan(its ticket) = %v, %v; want %s", got, err, rec.ID)
		}
	}

	t.Run("put again", func(t *testing.T) {
		perm := permRecord("wxoa", wxqr.KindOAPerm, 11, "posters")
		mustPut(t, c, perm)
		key := asWritten(t, perm, 0)
		mustPut(t, c, perm)
		if exists(t, key) {
			t.Errorf("%s kept after the record was put again", key)
		}
		scanFinds(t, perm, time.Now())
	})
	t.Run("retired", func(t *testing.T) {
		perm := permRecord("wxoa", wxqr.KindOAPerm, 12, "posters")
		mustPut(t, c, perm)
		key := asWritten(t, perm, 0)
		mustRetire(t, c, perm.ID)
		if exists(t, key) {
			t.Errorf("%s kept after the record was retired", key)
		}
		scanFinds(t, perm, time.Now())
	})
	// regenerated puts the first generation of scene's code as the earlier
	// catalog wrote it, expiring at base + 1h, then a second one made at
	// base + after; it returns the first and its ticket key.
	regenerated := func(t *testing.T, scene string, after time.Duration) (*wxqr.Record, string) {
		t.Helper()
		first := tempRecord(scene, "", base.Add(time.Hour))
		first.Ticket = "gQ" + scene + "First"
		mustPut(t, c, first)
		key := asWritten(t, first, time.Hour)
		second := *first
		second.Generation, second.Ticket = 2, first.Ticket+"Second"
		second.CreatedAt, second.ExpiresAt = base.Add(after), base.Add(after+wxqr.MaxTempExpire)
		mustPut(t, c, &second)
		return first, key
	}
	t.Run("regenerated, the old ticket still scannable", func(t *testing.T) {
		first, key := regenerated(t, "winter", 50*time.Minute)
		if exists(t, key) {
			t.Errorf("%s kept, though the new record knows its ticket", key)
		}
		scanFinds(t, first, base.Add(2*time.Hour))
	})
	t.Run("regenerated after the old ticket's grace", func(t *testing.T) {
		_, key := regenerated(t, "spring", 48*time.Hour)
		if !exists(t, key) {
			t.Errorf("%s deleted, though only it knows the old ticket (it expires by itself)", key)
		}
	})
}
