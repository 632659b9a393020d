package catalog_test

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/internal/redisinfo"
	"github.com/wxqr/wxqr/internal/testenv"
)

// BenchmarkBytesPerCode weighs what a finished code costs the catalog in
// Redis: it plans WXQR_BENCH_CODES codes (default 10,000) in 10 campaigns
// and puts each, as the workers do, into a redis-server of its own, then
// reports used_memory after less before, per code, and what each kind of
// key holds per code (MEMORY USAGE). Temporary Official Account codes, the
// bulk of a catalog (regenerated every night), and permanent ones (which
// spend a lifetime quota, and are counted in its set) are weighed apart:
//
//	WXQR_BENCH_CODES=1000000 go test -run '^$' -bench BytesPerCode -benchtime 1x ./catalog/
func BenchmarkBytesPerCode(b *testing.B) {
	n := 10_000
	if s := os.Getenv("WXQR_BENCH_CODES"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 1 {
			b.Fatalf("WXQR_BENCH_CODES=%q: want a positive number", s)
		}
	}
	for _, kind := range []wxqr.Kind{wxqr.KindOATemp, wxqr.KindOAPerm} {
		b.Run(string(kind), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				rdb := redis.NewClient(testenv.PrivateRedis(b))
				cat := catalog.New(rdb, "")
				before := usedMemory(b, rdb)
				b.StartTimer()
				fillByPut(b, cat, kind, n)
				b.StopTimer()
				after := usedMemory(b, rdb)
				b.ReportMetric(float64(after-before)/float64(n), "B/code")
				for _, w := range weighKeys(b, rdb, n) {
					b.Logf("%-28s %6.0f B/code", w.pattern, w.perCode)
				}
				rdb.Close()
			}
		})
	}
}

// fillByPut plans and puts n codes of kind in 10 campaigns, 16 at a time,
// as a worker fleet would.
func fillByPut(b *testing.B, cat *catalog.Catalog, kind wxqr.Kind, n int) {
	ctx := b.Context()
	now := time.Now().UTC()
	recs := make([]*wxqr.Record, n)
	for i := range recs {
		recs[i] = benchRecord(kind, i, now)
	}
	for campaign := range 10 {
		var ids []string
		for i := campaign; i < n; i += 10 {
			ids = append(ids, recs[i].ID)
		}
		for chunk := range slices.Chunk(ids, 1000) {
			if err := cat.Plan(ctx, recs[campaign].Campaign, chunk...); err != nil {
				b.Fatal(err)
			}
		}
	}
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < n; i += 16 {
				if err := cat.Put(ctx, recs[i]); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// benchRecord is the record a worker writes for code i: a ticket shaped
// like WeChat's, which carries the url, and a 30-day expiry for a
// temporary code.
func benchRecord(kind wxqr.Kind, i int, now time.Time) *wxqr.Record {
	spec := wxqr.Spec{Kind: kind, AppID: "wx8a1b2c3d4e5f6a7b", SceneStr: fmt.Sprintf("store-%07d", i)}
	url := "http://weixin.qq.com/q/02" + base64.RawURLEncoding.EncodeToString([]byte(spec.ID()[:15]))
	raw := append([]byte{0x81, 0x0f, 0xbf}, url...)
	raw = append(raw, rand.Text()[:10]...)
	rec := &wxqr.Record{
		ID: spec.ID(), Spec: spec, Campaign: "spring-" + strconv.Itoa(i%10),
		Ticket: base64.StdEncoding.EncodeToString(raw), URL: url,
		CreatedAt: now, Generation: 1, Bucket: "wxqr-codes", ObjectKey: spec.Key(),
		ContentType: wxqr.ContentTypeJPEG, Size: 28_000 + int64(i%1000),
		SHA256: fmt.Sprintf("%064x", i),
	}
	if kind.Temporary() {
		rec.ExpireSeconds = 2592000
		rec.ExpiresAt = now.Add(30*24*time.Hour - time.Duration(i)*time.Second)
	}
	return rec
}

func usedMemory(b *testing.B, rdb *redis.Client) int64 {
	b.Helper()
	info, err := rdb.Info(b.Context(), "memory").Result()
	if err != nil {
		b.Fatal(err)
	}
	n, err := redisinfo.Parse(info).Int("used_memory")
	if err != nil {
		b.Fatal(err)
	}
	return n
}

var (
	codeID        = regexp.MustCompile(`[0-9a-f]{32}$`)
	benchCampaign = regexp.MustCompile(`spring-[0-9]$`)
)

type keyWeight struct {
	pattern string
	perCode float64
}

// weighKeys sums MEMORY USAGE over every key, by kind of key (its name,
// with a code's id or a campaign's number as *), per code.
func weighKeys(b *testing.B, rdb *redis.Client, n int) []keyWeight {
	b.Helper()
	ctx := b.Context()
	sums := map[string]int64{}
	iter := rdb.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		pattern := benchCampaign.ReplaceAllString(codeID.ReplaceAllString(key, "*"), "spring-*")
		size, err := rdb.MemoryUsage(ctx, key, 0).Result()
		if err != nil {
			b.Fatal(err)
		}
		sums[pattern] += size
	}
	if err := iter.Err(); err != nil {
		b.Fatal(err)
	}
	var out []keyWeight
	for p, sum := range sums {
		out = append(out, keyWeight{p, float64(sum) / float64(n)})
	}
	slices.SortFunc(out, func(x, y keyWeight) int { return int(y.perCode - x.perCode) })
	return out
}
