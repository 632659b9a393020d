package monitor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/skip2/go-qrcode"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/internal/testenv"
	"github.com/wxqr/wxqr/scans"
	"github.com/wxqr/wxqr/storage"
	"github.com/wxqr/wxqr/tasks"
)

// fixture is a monitor server on a real Redis database of its own and a
// directory store, served by httptest.
type fixture struct {
	srv      *Server
	url      string
	rdb      *redis.Client
	redisOpt asynq.RedisClientOpt
	catalog  *catalog.Catalog
	scans    *scans.Store
	store    *storage.DirStore
}

// newFixture starts a server; configure may change its Config (the
// dependencies are already set).
func newFixture(t *testing.T, configure func(*Config)) *fixture {
	t.Helper()
	opts := testenv.RedisOptions(t)
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	store, err := storage.NewDir(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{
		rdb:      rdb,
		redisOpt: asynq.RedisClientOpt{Addr: opts.Addr, DB: opts.DB, Username: opts.Username, Password: opts.Password},
		catalog:  catalog.New(rdb, ""),
		store:    store,
	}
	if f.scans, err = scans.New(t.Context(), rdb, f.catalog, scans.Config{OpenIDKey: []byte("a key for the test")}); err != nil {
		t.Fatal(err)
	}
	cfg := Config{RedisConnOpt: f.redisOpt, Redis: rdb, Store: store, Catalog: f.catalog, Scans: f.scans, Pauses: tasks.NewPauses(rdb, nil)}
	if configure != nil {
		configure(&cfg)
	}
	f.srv = newServer(t, cfg)
	hs := httptest.NewServer(f.srv.Handler())
	t.Cleanup(hs.Close)
	f.url = hs.URL
	return f
}

func newServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	srv, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return srv
}

// addCodes records n codes of kind in campaign, each with a real QR image
// in the store, and returns their records in id order.
func (f *fixture) addCodes(t *testing.T, campaign string, n int, kind wxqr.Kind, expiresIn time.Duration) []*wxqr.Record {
	t.Helper()
	ctx := t.Context()
	recs := make([]*wxqr.Record, 0, n)
	for i := range n {
		spec := wxqr.Spec{Kind: kind, AppID: "wx-app-1"}
		scene := campaign + "-" + strconv.Itoa(i)
		switch kind.AppType() {
		case wxqr.AppOA:
			spec.SceneStr = scene
		default:
			spec.Path = "pages/index?c=" + scene
		}
		spec = spec.Normalize()
		png, err := qrcode.Encode("https://example.com/"+scene, qrcode.Medium, 128)
		if err != nil {
			t.Fatal(err)
		}
		key := spec.Key()
		if err := f.store.Put(ctx, key, png, "image/png", nil); err != nil {
			t.Fatal(err)
		}
		bucket, objectKey := f.store.Location(key)
		sum := sha256.Sum256(png)
		rec := &wxqr.Record{
			ID: spec.ID(), Spec: spec, Campaign: campaign,
			CreatedAt: time.Now().UTC().Truncate(time.Second), Generation: 1,
			Bucket: bucket, ObjectKey: objectKey, ContentType: "image/png",
			Size: int64(len(png)), SHA256: hex.EncodeToString(sum[:]),
		}
		if expiresIn != 0 {
			rec.ExpireSeconds = int(expiresIn / time.Second)
			rec.ExpiresAt = time.Now().Add(expiresIn).UTC()
		}
		if err := f.catalog.Put(ctx, rec); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	return recs
}

// get fetches path from the fixture's server.
func (f *fixture) get(t *testing.T, path string) (*http.Response, []byte) {
	t.Helper()
	return do(t, http.MethodGet, f.url+path, nil)
}

// do sends one request; header may be nil.
func do(t *testing.T, method, url string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, values := range header {
		req.Header[name] = values
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return resp, body
}
