package catalog_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/internal/testenv"
)

// base is the time every test record is made around.
var base = time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)

// newCatalog returns a catalog on a Redis DB of its own, and the client.
func newCatalog(t testing.TB, cfg catalog.Config) (*catalog.Catalog, *redis.Client) {
	t.Helper()
	rdb := testenv.Redis(t)
	c, err := catalog.NewWithConfig(rdb, cfg)
	if err != nil {
		t.Fatalf("NewWithConfig: %v", err)
	}
	return c, rdb
}

// tempRecord returns a generation-1 temporary OA code that expires at
// expiresAt.
func tempRecord(scene, campaign string, expiresAt time.Time) *wxqr.Record {
	spec := wxqr.Spec{Kind: wxqr.KindOATemp, AppID: "wxa1b2c3", SceneStr: scene}
	return &wxqr.Record{
		ID:            spec.ID(),
		Spec:          spec,
		Campaign:      campaign,
		Ticket:        "gQH47joAAAAAAAAAASxodHRwOi8vd2VpeGluLnFxLmNvbS9xLzAy+/=",
		URL:           "http://weixin.qq.com/q/02" + scene,
		ExpireSeconds: int(wxqr.MaxTempExpire / time.Second),
		ExpiresAt:     expiresAt,
		CreatedAt:     expiresAt.Add(-wxqr.MaxTempExpire),
		Generation:    1,
		Bucket:        "codes",
		ObjectKey:     spec.Key(),
		ContentType:   "image/jpeg",
		Size:          2048,
		SHA256:        strings.Repeat("ab", 32),
	}
}

// permRecord returns a code that spends a lifetime quota of app.
func permRecord(app string, kind wxqr.Kind, n int, campaign string) *wxqr.Record {
	spec := wxqr.Spec{Kind: kind, AppID: app}
	ticket := ""
	if kind == wxqr.KindOAPerm {
		spec.SceneID = int64(n)
		ticket = fmt.Sprintf("gQPermanent%dAAAAAAAASxodHRwOi8vd2VpeGluLnFxLmNvbS9xLzAy+/=", n)
	} else {
		spec.Path = fmt.Sprintf("pages/item?id=%d", n)
		spec.Width = 430
	}
	return &wxqr.Record{
		ID:          spec.ID(),
		Spec:        spec,
		Campaign:    campaign,
		Ticket:      ticket,
		CreatedAt:   base,
		Generation:  1,
		Bucket:      "codes",
		ObjectKey:   spec.Key(),
		ContentType: "image/jpeg",
		Size:        4096,
		SHA256:      strings.Repeat("cd", 32),
	}
}

func mustPut(t testing.TB, c *catalog.Catalog, recs ...*wxqr.Record) {
	t.Helper()
	for _, rec := range recs {
		if err := c.Put(t.Context(), rec); err != nil {
			t.Fatalf("Put(%s): %v", rec.ID, err)
		}
	}
}

// putConcurrently puts each sequence of records, in order, in a goroutine
// of its own.
func putConcurrently(t *testing.T, c *catalog.Catalog, sequences [][]*wxqr.Record) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(sequences))
	for _, seq := range sequences {
		wg.Go(func() {
			for _, rec := range seq {
				if err := c.Put(t.Context(), rec); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func mustGet(t testing.TB, c *catalog.Catalog, id string) *wxqr.Record {
	t.Helper()
	rec, err := c.Get(t.Context(), id)
	if err != nil {
		t.Fatalf("Get(%s): %v", id, err)
	}
	return rec
}

func toJSON(t testing.TB, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return string(data)
}

func ids(recs []*wxqr.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}

func eachIDs(t testing.TB, c *catalog.Catalog, campaign string) []string {
	t.Helper()
	var got []string
	if err := c.Each(t.Context(), campaign, func(r *wxqr.Record) error {
		got = append(got, r.ID)
		return nil
	}); err != nil {
		t.Fatalf("Each(%q): %v", campaign, err)
	}
	return got
}

func sorted(s ...string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func TestNewWithConfig(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:0"}) // never dialled
	t.Cleanup(func() { rdb.Close() })
	tests := []struct {
		name    string
		rdb     redis.UniversalClient
		cfg     catalog.Config
		wantErr bool
	}{
		{"defaults", rdb, catalog.Config{}, false},
		{"custom", rdb, catalog.Config{Prefix: "x:", StagedTTL: time.Hour, BatchSize: 10}, false},
		{"no client", nil, catalog.Config{}, true},
		{"negative ttl", rdb, catalog.Config{StagedTTL: -time.Second}, true},
		{"negative batch", rdb, catalog.Config{BatchSize: -1}, true},
		{"replicas", rdb, catalog.Config{MinReplicas: 1, ReplicaTimeout: 50 * time.Millisecond}, false},
		{"negative replicas", rdb, catalog.Config{MinReplicas: -1}, true},
		{"replica timeout under 1ms", rdb, catalog.Config{MinReplicas: 1, ReplicaTimeout: time.Microsecond}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := catalog.NewWithConfig(tt.rdb, tt.cfg)
			if (err != nil) != tt.wantErr {
				t.Errorf("NewWithConfig() error = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

func TestConfigWithDefaults(t *testing.T) {
	got := catalog.Config{}.WithDefaults()
	want := catalog.Config{Prefix: "wxqr:", StagedTTL: 7 * 24 * time.Hour, BatchSize: 500, ReplicaTimeout: time.Second}
	if got != want {
		t.Errorf("WithDefaults() = %+v, want %+v", got, want)
	}
}

func TestPrefix(t *testing.T) {
	rdb := testenv.Redis(t)
	rec := tempRecord("prefixed", "spring", base)
	mustPut(t, catalog.New(rdb, ""), rec)
	mustPut(t, catalog.New(rdb, "{other}:"), rec)
	for _, key := range []string{"wxqr:code:" + rec.ID, "wxqr:campaign:spring", "{other}:code:" + rec.ID, "{other}:expiry"} {
		if n, err := rdb.Exists(t.Context(), key).Result(); err != nil || n != 1 {
			t.Errorf("EXISTS %s = %d, %v; want 1", key, n, err)
		}
	}
}

func TestPutGet(t *testing.T) {
	c, _ := newCatalog(t, catalog.Config{})
	mp := permRecord("wxmini", wxqr.KindWxaQRCode, 1, "")
	mp.Width = 0 // stored normalised
	wantMP := *mp
	wantMP.Width = wxqr.DefaultWidth
	shanghai := time.FixedZone("CST", 8*3600)
	local := tempRecord("local-times", "spring", base.In(shanghai))
	local.CreatedAt = local.CreatedAt.In(shanghai)
	wantLocal := *local
	wantLocal.ExpiresAt, wantLocal.CreatedAt = local.ExpiresAt.UTC(), local.CreatedAt.UTC()
	tests := []struct {
		name string
		put  *wxqr.Record
		want *wxqr.Record
	}{
		{"temporary", tempRecord("a", "spring", base), tempRecord("a", "spring", base)},
		{"permanent", permRecord("wxoa", wxqr.KindOAPerm, 7, "spring"), permRecord("wxoa", wxqr.KindOAPerm, 7, "spring")},
		{"width normalised", mp, &wantMP},
		{"times in UTC", local, &wantLocal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := toJSON(t, tt.put)
			mustPut(t, c, tt.put)
			if got, want := toJSON(t, mustGet(t, c, tt.put.ID)), toJSON(t, tt.want); got != want {
				t.Errorf("Get() =\n%s\nwant\n%s", got, want)
			}
			if after := toJSON(t, tt.put); after != before {
				t.Errorf("Put modified its argument:\n%s\nwas\n%s", after, before)
			}
		})
	}

	t.Run("missing", func(t *testing.T) {
		_, err := c.Get(t.Context(), "nope")
		if !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("Get(missing) error = %v, want ErrNotFound", err)
		}
	})
}

func TestPutRefusesBadRecords(t *testing.T) {
	c, rdb := newCatalog(t, catalog.Config{})
	noID := tempRecord("x", "", base)
	noID.ID = ""
	wrongID := tempRecord("x", "", base)
	wrongID.ID = tempRecord("y", "", base).ID
	tests := []struct {
		name string
		rec  *wxqr.Record
	}{
		{"nil", nil},
		{"no id", noID},
		{"id of another spec", wrongID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := c.Put(t.Context(), tt.rec); err == nil {
				t.Error("Put() succeeded, want an error")
			}
		})
	}
	if n, err := rdb.DBSize(t.Context()).Result(); err != nil || n != 0 {
		t.Errorf("DBSIZE after refused puts = %d, %v; want 0", n, err)
	}
}

func TestPutUpsert(t *testing.T) {
	c, _ := newCatalog(t, catalog.Config{})
	first := tempRecord("upsert", "spring", base)
	second := tempRecord("upsert", "spring", base.Add(24*time.Hour))
	second.Generation = 2
	second.Ticket = "second-ticket"
	mustPut(t, c, first, second)
	if got, want := toJSON(t, mustGet(t, c, first.ID)), toJSON(t, second); got != want {
		t.Errorf("after upsert Get() =\n%s\nwant\n%s", got, want)
	}
	if got := eachIDs(t, c, ""); !slices.Equal(got, []string{first.ID}) {
		t.Errorf("Each(all) = %v, want one id", got)
	}
}

func TestGetMany(t *testing.T) {
	c, _ := newCatalog(t, catalog.Config{BatchSize: 2})
	a, b, d := tempRecord("a", "", base), tempRecord("b", "", base), tempRecord("d", "", base)
	mustPut(t, c, a, b, d)
	tests := []struct {
		name string
		ids  []string
		want []string // "" where nil
	}{
		{"none", nil, nil},
		{"in order", []string{d.ID, a.ID}, []string{d.ID, a.ID}},
		{"missing in the middle of batches", []string{a.ID, "x", b.ID, "y", d.ID}, []string{a.ID, "", b.ID, "", d.ID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := c.GetMany(t.Context(), tt.ids)
			if err != nil {
				t.Fatalf("GetMany: %v", err)
			}
			var got []string
			for _, r := range recs {
				if r == nil {
					got = append(got, "")
				} else {
					got = append(got, r.ID)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("GetMany() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestIndexesFollowUpdates(t *testing.T) {
	ctx := t.Context()

	t.Run("campaign change", func(t *testing.T) {
		c, _ := newCatalog(t, catalog.Config{})
		moving, staying := tempRecord("moving", "spring", base), tempRecord("staying", "spring", base)
		mustPut(t, c, moving, staying)
		moved := *moving
		moved.Campaign = "summer"
		mustPut(t, c, &moved)
		if got := eachIDs(t, c, "spring"); !slices.Equal(got, []string{staying.ID}) {
			t.Errorf("Each(spring) = %v, want [%s]", got, staying.ID)
		}
		if got := eachIDs(t, c, "summer"); !slices.Equal(got, []string{moving.ID}) {
			t.Errorf("Each(summer) = %v, want [%s]", got, moving.ID)
		}
		// The last code leaving a campaign removes its name.
		left := *staying
		left.Campaign = ""
		mustPut(t, c, &left)
		got, err := c.Campaigns(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"summer"}; !slices.Equal(got, want) {
			t.Errorf("Campaigns() = %v, want %v", got, want)
		}
		if got := eachIDs(t, c, ""); !slices.Equal(sorted(got...), sorted(moving.ID, staying.ID)) {
			t.Errorf("Each(all) = %v, want both codes", got)
		}
	})

	t.Run("retire removes from expiry and sticks", func(t *testing.T) {
		c, _ := newCatalog(t, catalog.Config{})
		rec := tempRecord("retire", "spring", base)
		mustPut(t, c, rec)
		expiring := func() []string {
			t.Helper()
			recs, err := c.Expiring(ctx, base.Add(time.Hour), 0)
			if err != nil {
				t.Fatal(err)
			}
			return ids(recs)
		}
		if got := expiring(); !slices.Equal(got, []string{rec.ID}) {
			t.Fatalf("Expiring() before retire = %v", got)
		}
		for i, want := range []int{1, 0} { // retiring twice counts once
			n, err := c.Retire(ctx, rec.ID, rec.ID, "unknown")
			if err != nil || n != want {
				t.Errorf("Retire() #%d = %d, %v; want %d", i+1, n, err, want)
			}
		}
		if got := expiring(); len(got) != 0 {
			t.Errorf("Expiring() after retire = %v, want none", got)
		}
		if !mustGet(t, c, rec.ID).Retired {
			t.Error("record not retired")
		}
		// A regeneration that raced with Retire does not bring it back.
		regen := tempRecord("retire", "spring", base.Add(48*time.Hour))
		regen.Generation = 2
		mustPut(t, c, regen)
		got := mustGet(t, c, rec.ID)
		if !got.Retired || got.Generation != 2 {
			t.Errorf("after regeneration: retired %v generation %d; want true 2", got.Retired, got.Generation)
		}
		if got := expiring(); len(got) != 0 {
			t.Errorf("Expiring() after regeneration of a retired code = %v, want none", got)
		}
		if got := eachIDs(t, c, "spring"); !slices.Equal(got, []string{rec.ID}) {
			t.Errorf("retired code left its campaign: Each(spring) = %v", got)
		}
	})

	t.Run("regeneration moves expiry", func(t *testing.T) {
		c, rdb := newCatalog(t, catalog.Config{})
		rec := tempRecord("regen", "", base)
		mustPut(t, c, rec)
		regen := tempRecord("regen", "", base.Add(30*24*time.Hour))
		regen.Generation = 2
		mustPut(t, c, regen)
		score, err := rdb.ZScore(ctx, "wxqr:expiry", catalog.Member(rec.ID)).Result()
		if err != nil {
			t.Fatal(err)
		}
		if want := float64(regen.ExpiresAt.Unix()); score != want {
			t.Errorf("expiry score = %v, want %v", score, want)
		}
		recs, err := c.Expiring(ctx, base.Add(time.Hour), 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 0 {
			t.Errorf("Expiring(old expiry) = %v, want none", ids(recs))
		}
	})

	t.Run("codes that do not expire stay out of expiry", func(t *testing.T) {
		c, rdb := newCatalog(t, catalog.Config{})
		noExpiry := tempRecord("no-expiry", "", time.Time{})
		retired := tempRecord("born-retired", "", base)
		retired.Retired = true
		mustPut(t, c, permRecord("wxoa", wxqr.KindOAPerm, 1, ""), permRecord("wxmini", wxqr.KindWxaCode, 1, ""), noExpiry, retired)
		if n, err := rdb.ZCard(ctx, "wxqr:expiry").Result(); err != nil || n != 0 {
			t.Errorf("ZCARD expiry = %d, %v; want 0", n, err)
		}
	})
}

// Writers moving codes between campaigns at once must leave the campaign
// indexes exactly as the records say: the transactions, not luck.
func TestConcurrentCampaignMoves(t *testing.T) {
	c, rdb := newCatalog(t, catalog.Config{})
	ctx := t.Context()
	campaigns := []string{"a", "b", "c", ""}
	const writers, codesEach, moves = 4, 2, 60
	sequences := make([][]*wxqr.Record, writers)
	for w := range writers {
		for m := range moves {
			for k := range codesEach {
				campaign := campaigns[(w+k+m)%len(campaigns)]
				sequences[w] = append(sequences[w], tempRecord(fmt.Sprintf("move-%d-%d", w, k), campaign, base))
			}
		}
	}
	putConcurrently(t, c, sequences)

	byCampaign := map[string][]string{}
	if err := c.Each(ctx, "", func(r *wxqr.Record) error {
		if r.Campaign != "" {
			byCampaign[r.Campaign] = append(byCampaign[r.Campaign], r.ID)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	names, err := c.Campaigns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := slices.Sorted(maps.Keys(byCampaign)); !slices.Equal(names, want) {
		t.Errorf("Campaigns() = %v, want the campaigns the records name: %v", names, want)
	}
	for _, name := range campaigns[:3] {
		indexed, err := rdb.ZRange(ctx, "wxqr:campaign:"+name, 0, -1).Result()
		if err != nil {
			t.Fatal(err)
		}
		want := sorted(byCampaign[name]...)
		for i, id := range want {
			want[i] = catalog.Member(id)
		}
		if !slices.Equal(indexed, want) {
			t.Errorf("campaign %s indexes %v, want %v", name, indexed, want)
		}
	}
}

// observer is a redis.Hook that calls observe with every command the
// client sends, alone or in a pipeline, once Redis has answered it.
type observer func(redis.Cmder)

func (o observer) DialHook(next redis.DialHook) redis.DialHook { return next }

func (o observer) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		o(cmd)
		return err
	}
}

func (o observer) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, cmd := range cmds {
			o(cmd)
		}
		return err
	}
}

// Put and Retire read, then write: a write by someone else in between must
// make them retry (Retire WATCHes what it read, Put's commit checks it),
// never be lost.
func TestTransactionsRetryOnConflict(t *testing.T) {
	gen2 := tempRecord("conflict", "a", base.Add(24*time.Hour))
	gen2.Generation = 2
	joining := tempRecord("joining", "a", base)
	// Both writes must count, in whichever order they land.
	retiredGeneration2 := func(t *testing.T, c *catalog.Catalog) {
		if got := mustGet(t, c, gen2.ID); !got.Retired || got.Generation != 2 {
			t.Errorf("retired %v generation %d; want true 2", got.Retired, got.Generation)
		}
	}
	tests := []struct {
		name   string
		after  string // the command after which the other writer writes
		meddle func(t *testing.T, other *catalog.Catalog)
		act    func(t *testing.T, c *catalog.Catalog)
		check  func(t *testing.T, c *catalog.Catalog)
	}{
		{
			name:   "retired while a regeneration is put",
			after:  "get",
			meddle: func(t *testing.T, other *catalog.Catalog) { mustRetire(t, other, gen2.ID) },
			act:    func(t *testing.T, c *catalog.Catalog) { mustPut(t, c, gen2) },
			check:  retiredGeneration2,
		},
		{
			name:   "regenerated while retired",
			after:  "mget",
			meddle: func(t *testing.T, other *catalog.Catalog) { mustPut(t, other, gen2) },
			act:    func(t *testing.T, c *catalog.Catalog) { mustRetire(t, c, gen2.ID) },
			check:  retiredGeneration2,
		},
		{
			// Put read the leaving code as campaign a's only one; whether
			// the move empties a is decided when it writes.
			name:   "a code joins the campaign another one empties",
			after:  "get",
			meddle: func(t *testing.T, other *catalog.Catalog) { mustPut(t, other, joining) },
			act: func(t *testing.T, c *catalog.Catalog) {
				moved := *gen2
				moved.Campaign = "b"
				mustPut(t, c, &moved)
			},
			check: func(t *testing.T, c *catalog.Catalog) {
				got, err := c.Campaigns(t.Context())
				if want := []string{"a", "b"}; err != nil || !slices.Equal(got, want) {
					t.Errorf("Campaigns() = %v, %v; want %v", got, err, want)
				}
				if got := eachIDs(t, c, "a"); !slices.Equal(got, []string{joining.ID}) {
					t.Errorf("Each(a) = %v, want [%s]", got, joining.ID)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, rdb := newCatalog(t, catalog.Config{})
			mustPut(t, c, tempRecord("conflict", "a", base))
			otherClient := redis.NewClient(rdb.Options()) // another process, same DB
			t.Cleanup(func() { otherClient.Close() })
			other := catalog.New(otherClient, "")
			var once sync.Once
			rdb.AddHook(observer(func(cmd redis.Cmder) {
				if cmd.Name() == tt.after {
					once.Do(func() { tt.meddle(t, other) })
				}
			}))
			tt.act(t, c)
			tt.check(t, c)
		})
	}
}

func mustRetire(t *testing.T, c *catalog.Catalog, id string) {
	t.Helper()
	if n, err := c.Retire(t.Context(), id); err != nil || n != 1 {
		t.Fatalf("Retire(%s) = %d, %v; want 1", id, n, err)
	}
}

// batchHook records the largest MGET and ZRANGE page the catalog asks for.
type batchHook struct {
	mu                 sync.Mutex
	maxMGet, maxZRange int64
	mgetCalls, zranges int
}

func (h *batchHook) observe(cmd redis.Cmder) {
	h.mu.Lock()
	defer h.mu.Unlock()
	args := cmd.Args()
	switch cmd.Name() {
	case "mget":
		h.mgetCalls++
		h.maxMGet = max(h.maxMGet, int64(len(args)-1))
	case "zrange":
		h.zranges++
		limit := int64(-1) // no LIMIT: unbounded
		for i, a := range args {
			if s, ok := a.(string); ok && s == "limit" && i+2 < len(args) {
				limit, _ = args[i+2].(int64)
			}
		}
		if limit < 0 {
			h.maxZRange = 1 << 62
		} else {
			h.maxZRange = max(h.maxZRange, limit)
		}
	}
}

func TestEachLarge(t *testing.T) {
	const total, batch = 10_000, 250
	c, rdb := newCatalog(t, catalog.Config{BatchSize: batch})
	want := make([]string, total)
	sequences := make([][]*wxqr.Record, 4)
	for i := range total {
		campaign := "even"
		if i%2 == 1 {
			campaign = "odd"
		}
		rec := tempRecord(fmt.Sprintf("bulk-%05d", i), campaign, base.Add(time.Duration(i)*time.Second))
		want[i] = rec.ID
		sequences[i%4] = append(sequences[i%4], rec)
	}
	putConcurrently(t, c, sequences)
	hook := &batchHook{}
	rdb.AddHook(observer(hook.observe))

	got := eachIDs(t, c, "")
	if !slices.Equal(sorted(got...), sorted(want...)) {
		t.Errorf("Each(all) visited %d records; want each of %d once", len(got), total)
	}
	if hook.maxMGet > batch || hook.maxZRange > batch {
		t.Errorf("largest MGET %d, largest ZRANGE page %d; want at most %d", hook.maxMGet, hook.maxZRange, batch)
	}
	// The codes without a campaign (none: one empty page), then each
	// campaign: its full pages and an empty one.
	if pages := 1 + 2*(total/2/batch+1); hook.zranges != pages || hook.mgetCalls != total/batch {
		t.Errorf("%d ZRANGE pages and %d MGETs; want %d and %d", hook.zranges, hook.mgetCalls, pages, total/batch)
	}
	if got := eachIDs(t, c, "odd"); len(got) != total/2 || !slices.IsSorted(got) {
		t.Errorf("Each(odd) visited %d records (in id order: %v), want %d in id order", len(got), slices.IsSorted(got), total/2)
	}
	for campaign, want := range map[string]int64{"": total, "odd": total / 2, "none": 0} {
		if n, err := c.Count(t.Context(), campaign); err != nil || n != want {
			t.Errorf("Count(%q) = %d, %v; want %d", campaign, n, err, want)
		}
	}

	t.Run("stops at the first error", func(t *testing.T) {
		stop := errors.New("stop")
		n := 0
		err := c.Each(t.Context(), "", func(*wxqr.Record) error {
			n++
			if n == 3 {
				return stop
			}
			return nil
		})
		if err != stop || n != 3 {
			t.Errorf("Each() = %v after %d records, want the callback's error after 3", err, n)
		}
	})
}

func TestExpiring(t *testing.T) {
	c, _ := newCatalog(t, catalog.Config{})
	var recs []*wxqr.Record
	for i := range 5 { // expiring at base + 0h, 1h, ... 4h, put in reverse order
		recs = append(recs, tempRecord(fmt.Sprintf("exp-%d", i), "", base.Add(time.Duration(i)*time.Hour)))
	}
	for _, r := range slices.Backward(recs) {
		mustPut(t, c, r)
	}
	retired := tempRecord("exp-retired", "", base)
	mustPut(t, c, retired, permRecord("wxoa", wxqr.KindOAPerm, 1, ""))
	if _, err := c.Retire(t.Context(), retired.ID); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		before time.Time
		limit  int
		want   []*wxqr.Record
	}{
		{"all", base.Add(24 * time.Hour), 0, recs},
		{"limit", base.Add(24 * time.Hour), 2, recs[:2]},
		{"before is exclusive", base.Add(2 * time.Hour), 0, recs[:2]},
		{"limit beyond matches", base.Add(90 * time.Minute), 10, recs[:2]},
		{"none yet", base, 10, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Expiring(t.Context(), tt.before, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(got), ids(tt.want)) {
				t.Errorf("Expiring() = %v, want %v", ids(got), ids(tt.want))
			}
		})
	}
}

func TestRetireCampaign(t *testing.T) {
	c, _ := newCatalog(t, catalog.Config{BatchSize: 3})
	var spring []*wxqr.Record
	for i := range 7 {
		spring = append(spring, tempRecord(fmt.Sprintf("spring-%d", i), "spring", base))
	}
	other := tempRecord("summer-0", "summer", base)
	mustPut(t, c, spring...)
	mustPut(t, c, other)
	if _, err := c.Retire(t.Context(), spring[0].ID); err != nil {
		t.Fatal(err)
	}
	n, err := c.RetireCampaign(t.Context(), "spring")
	if err != nil || n != 6 {
		t.Errorf("RetireCampaign() = %d, %v; want 6 (one was already retired)", n, err)
	}
	for _, r := range spring {
		if !mustGet(t, c, r.ID).Retired {
			t.Errorf("%s not retired", r.SceneStr)
		}
	}
	if mustGet(t, c, other.ID).Retired {
		t.Error("code of another campaign retired")
	}
	if _, err := c.RetireCampaign(t.Context(), ""); err == nil {
		t.Error("RetireCampaign(\"\") succeeded, want an error")
	}
}

// TestRetireCampaignCoversLaterCodes: a campaign retired while its codes are
// still being made has every later code stored retired, out of the expiry
// index, whatever the order of the writes.
func TestRetireCampaignCoversLaterCodes(t *testing.T) {
	ctx := t.Context()
	c, _ := newCatalog(t, catalog.Config{BatchSize: 4})
	mustPut(t, c, tempRecord("spring-early", "spring", base))
	for name, want := range map[string]bool{"spring": false, "": false} {
		if got, err := c.CampaignRetired(ctx, name); err != nil || got != want {
			t.Errorf("CampaignRetired(%q) before = %v, %v; want %v", name, got, err, want)
		}
	}

	// Codes of the campaign are put while it is retired.
	const writers, perWriter = 4, 25
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := range writers {
		wg.Go(func() {
			<-start
			for i := range perWriter {
				if err := c.Put(ctx, tempRecord(fmt.Sprintf("spring-%d-%d", w, i), "spring", base)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	close(start)
	if _, err := c.RetireCampaign(ctx, "spring"); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	mustPut(t, c, tempRecord("spring-late", "spring", base), tempRecord("summer-0", "summer", base))

	n := 0
	err := c.Each(ctx, "spring", func(rec *wxqr.Record) error {
		n++
		if !rec.Retired {
			t.Errorf("%s not retired", rec.SceneStr)
		}
		return nil
	})
	if err != nil || n != writers*perWriter+2 {
		t.Errorf("Each(spring) saw %d records (%v), want %d", n, err, writers*perWriter+2)
	}
	expiring, err := c.Expiring(ctx, base.AddDate(1, 0, 0), 0)
	if err != nil || len(expiring) != 1 || expiring[0].Campaign != "summer" {
		t.Errorf("Expiring = %d records (%v), want only the summer one", len(expiring), err)
	}
	for name, want := range map[string]bool{"spring": true, "summer": false, "": false} {
		if got, err := c.CampaignRetired(ctx, name); err != nil || got != want {
			t.Errorf("CampaignRetired(%q) = %v, %v; want %v", name, got, err, want)
		}
	}
}

func TestQuotaUsed(t *testing.T) {
	c, _ := newCatalog(t, catalog.Config{})
	for i := range 3 {
		perm := permRecord("wxoa", wxqr.KindOAPerm, i+1, "")
		mustPut(t, c, perm, perm) // an upsert spends nothing more
	}
	mustPut(t, c,
		permRecord("wxmini", wxqr.KindWxaQRCode, 1, ""),
		permRecord("wxmini", wxqr.KindWxaCode, 1, ""), // same class, another code
		permRecord("wxmini", wxqr.KindWxaUnlimited, 0, ""),
		permRecord("wxother", wxqr.KindOAPerm, 1, ""),
		tempRecord("temp", "", base),
	)
	if _, err := c.Retire(t.Context(), permRecord("wxoa", wxqr.KindOAPerm, 1, "").ID); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		app   string
		class wxqr.QuotaClass
		want  int64
	}{
		{"wxoa", wxqr.ClassOAPerm, 3}, // a retired code still spent its quota
		{"wxoa", wxqr.ClassOATemp, 0},
		{"wxmini", wxqr.ClassWxaLimited, 2},
		{"wxmini", wxqr.ClassWxaUnlimited, 0},
		{"wxother", wxqr.ClassOAPerm, 1},
		{"nobody", wxqr.ClassOAPerm, 0},
	}
	for _, tt := range tests {
		t.Run(tt.app+"/"+string(tt.class), func(t *testing.T) {
			got, err := c.QuotaUsed(t.Context(), tt.app, tt.class)
			if err != nil || got != tt.want {
				t.Errorf("QuotaUsed() = %d, %v; want %d", got, err, tt.want)
			}
		})
	}
	apps, err := c.Apps(t.Context())
	if want := []string{"wxa1b2c3", "wxmini", "wxoa", "wxother"}; err != nil || !slices.Equal(apps, want) {
		t.Errorf("Apps() = %v, %v; want %v", apps, err, want)
	}
}

func TestQuotaSpent(t *testing.T) {
	c, _ := newCatalog(t, catalog.Config{})
	made, retired := permRecord("wxoa", wxqr.KindOAPerm, 1, ""), permRecord("wxoa", wxqr.KindOAPerm, 2, "")
	other, unlimited := permRecord("wxother", wxqr.KindOAPerm, 3, ""), permRecord("wxmini", wxqr.KindWxaUnlimited, 0, "")
	mustPut(t, c, made, retired, other, unlimited)
	if _, err := c.Retire(t.Context(), retired.ID); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		app   string
		class wxqr.QuotaClass
		ids   []string
		want  []bool
	}{
		{"made, retired, new, another app's", "wxoa", wxqr.ClassOAPerm,
			[]string{made.ID, retired.ID, permRecord("wxoa", wxqr.KindOAPerm, 9, "").ID, other.ID}, []bool{true, true, false, false}},
		{"no lifetime quota", "wxmini", wxqr.ClassWxaUnlimited, []string{unlimited.ID}, []bool{false}},
		{"none asked", "wxoa", wxqr.ClassOAPerm, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.QuotaSpent(t.Context(), tt.app, tt.class, tt.ids)
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("QuotaSpent() = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestCampaignStats(t *testing.T) {
	c, _ := newCatalog(t, catalog.Config{})
	now := base
	retired := tempRecord("retired", "spring", now.Add(time.Hour))
	retired.Retired = true
	mustPut(t, c,
		tempRecord("soon", "spring", now.Add(time.Hour)),
		tempRecord("at-horizon", "spring", now.Add(24*time.Hour)),
		tempRecord("later", "spring", now.Add(48*time.Hour)),
		tempRecord("yesterday", "spring", now.Add(-24*time.Hour)),
		// Counted by day: an hour ago is today, still "expiring soon".
		tempRecord("an-hour-ago", "spring", now.Add(-time.Hour)),
		retired,
		permRecord("wxoa", wxqr.KindOAPerm, 1, "spring"),
		tempRecord("elsewhere", "summer", now.Add(time.Hour)),
		tempRecord("loose", "", now.Add(-48*time.Hour)),
	)
	tests := []struct {
		campaign string
		want     catalog.Stats
	}{
		{"spring", catalog.Stats{Generated: 7, Retired: 1, ExpiringSoon: 3, Expired: 1}},
		{"summer", catalog.Stats{Generated: 1, ExpiringSoon: 1}},
		{"", catalog.Stats{Generated: 9, Retired: 1, ExpiringSoon: 4, Expired: 2}},
		{"unknown", catalog.Stats{}},
	}
	for _, tt := range tests {
		t.Run(tt.campaign, func(t *testing.T) {
			got, err := c.CampaignStats(t.Context(), tt.campaign, now, 24*time.Hour)
			if err != nil || got != tt.want {
				t.Errorf("CampaignStats() = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestRedisDown(t *testing.T) {
	// Every call must fail, wrapped, not hang.
	c := catalog.New(testenv.UnreachableRedis(t), "")
	rec := tempRecord("down", "", base)
	calls := map[string]func(context.Context) error{
		"Put":      func(ctx context.Context) error { return c.Put(ctx, rec) },
		"Get":      func(ctx context.Context) error { _, err := c.Get(ctx, rec.ID); return err },
		"GetMany":  func(ctx context.Context) error { _, err := c.GetMany(ctx, []string{rec.ID}); return err },
		"Each":     func(ctx context.Context) error { return c.Each(ctx, "", func(*wxqr.Record) error { return nil }) },
		"Count":    func(ctx context.Context) error { _, err := c.Count(ctx, ""); return err },
		"Expiring": func(ctx context.Context) error { _, err := c.Expiring(ctx, base, 1); return err },
		"Retire":   func(ctx context.Context) error { _, err := c.Retire(ctx, rec.ID); return err },
		"Staged":   func(ctx context.Context) error { _, err := c.Staged(ctx, rec.ID); return err },
		"ByScan": func(ctx context.Context) error {
			_, err := c.ByScan(ctx, catalog.Scan{AppID: rec.AppID, Scene: rec.Scene(), Ticket: rec.Ticket})
			return err
		},
		"ByEntry": func(ctx context.Context) error { _, err := c.ByEntry(ctx, rec.AppID, "scene:x"); return err },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			err := call(t.Context())
			if err == nil || !strings.HasPrefix(err.Error(), "catalog: ") {
				t.Errorf("%s() error = %v, want a catalog error", name, err)
			}
		})
	}
}

func BenchmarkPut(b *testing.B) {
	c, _ := newCatalog(b, catalog.Config{})
	recs := make([]*wxqr.Record, 1000)
	for i := range recs {
		recs[i] = tempRecord(fmt.Sprintf("bench-%d", i), fmt.Sprintf("campaign-%d", i%10), base.Add(time.Duration(i)*time.Minute))
	}
	i := 0
	for b.Loop() {
		if err := c.Put(b.Context(), recs[i%len(recs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// TestIndexesOfAnEarlierCatalog: indexes that hold ids as hex, as a catalog
// written before the short form did, are read as they are, and a write
// leaves each code in one form.
func TestIndexesOfAnEarlierCatalog(t *testing.T) {
	c, rdb := newCatalog(t, catalog.Config{})
	ctx := t.Context()
	var recs []*wxqr.Record
	for i := range 5 {
		recs = append(recs, tempRecord(fmt.Sprintf("old-%d", i), "spring", base.Add(time.Duration(i)*time.Hour)))
	}
	mustPut(t, c, recs...)
	for _, rec := range recs[:3] { // three codes indexed by hex ids
		for key, score := range map[string]float64{"wxqr:campaign:spring": 0, "wxqr:expiry": float64(rec.ExpiresAt.Unix())} {
			if err := rdb.ZRem(ctx, key, catalog.Member(rec.ID)).Err(); err != nil {
				t.Fatal(err)
			}
			if err := rdb.ZAdd(ctx, key, redis.Z{Score: score, Member: rec.ID}).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := eachIDs(t, c, "spring"); !slices.Equal(sorted(got...), sorted(ids(recs)...)) {
		t.Errorf("Each(spring) = %v, want every code", got)
	}
	var paged []string
	for after, more := "", true; more; {
		page, err := c.PageAfter(ctx, "spring", after, 2)
		if err != nil {
			t.Fatal(err)
		}
		paged = append(paged, ids(page.Records)...)
		after, more = page.Next, page.HasNext
	}
	if !slices.Equal(sorted(paged...), sorted(ids(recs)...)) {
		t.Errorf("pages of 2 showed %v, want every code once", paged)
	}
	due, err := c.Expiring(ctx, base.Add(24*time.Hour), 0)
	if err != nil || !slices.Equal(ids(due), ids(recs)) {
		t.Errorf("Expiring = %v, %v; want every code, soonest first", ids(due), err)
	}

	regen := *recs[0]
	regen.Generation, regen.ExpiresAt = 2, base.Add(30*24*time.Hour)
	mustPut(t, c, &regen)
	mustRetire(t, c, recs[1].ID)
	for _, key := range []string{"wxqr:campaign:spring", "wxqr:expiry"} {
		if n, err := rdb.ZCard(ctx, key).Result(); err != nil || key == "wxqr:campaign:spring" && n != 5 || key == "wxqr:expiry" && n != 4 {
			t.Errorf("%s holds %d members, %v; want each code once (the retired one out of the expiry index)", key, n, err)
		}
	}
	for key, rec := range map[string]*wxqr.Record{"wxqr:campaign:spring": recs[0], "wxqr:expiry": recs[1]} {
		if err := rdb.ZScore(ctx, key, rec.ID).Err(); !errors.Is(err, redis.Nil) {
			t.Errorf("%s still holds the hex id of a code written since: %v", key, err)
		}
	}
	if err := rdb.ZScore(ctx, "wxqr:campaign:spring", catalog.Member(recs[0].ID)).Err(); err != nil {
		t.Errorf("the regenerated code is not indexed in the short form: %v", err)
	}
}
