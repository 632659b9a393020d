package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/internal/testenv"
	"github.com/wxqr/wxqr/wechat/wechatsim"
)

// TestFailover runs a mixed campaign on a Redis that Sentinel manages, with
// two workers, and forces a failover when 40% of the codes are stored. The
// workers follow the new master and finish: every code is stored whole, none
// is paid for twice (at most 2% more calls for temporary codes, whose staged
// ticket may die with the old master), and nothing is archived.
//
// The failover leaves the set with the other server as master, which the
// next test finds through the sentinels (testenv.Sentinel waits for it to
// have a replica in sync again).
func TestFailover(t *testing.T) {
	sentinel := testenv.Sentinel(t)
	redisURL := fmt.Sprintf("redis-sentinel://%s/%s/%d", strings.Join(sentinel.SentinelAddrs, ","), sentinel.MasterName, sentinel.DB)
	h := newHarness(t, wechatsim.Limits{}, "REDIS_URL="+redisURL)
	// The test reads the catalog and the queues where the workers write them.
	h.rdb = redis.NewFailoverClient(sentinel)
	t.Cleanup(func() { h.rdb.Close() })
	h.cat = catalog.New(h.rdb, "")

	const temporary, permanent, miniProgram = 150, 125, 125
	var rows []string
	for i := 1; i <= temporary; i++ {
		if i%2 == 0 {
			rows = append(rows, fmt.Sprintf("oa_temp,%s,%d,,,,3600,%s", oaApp, 1000000+i, campaign))
		} else {
			rows = append(rows, fmt.Sprintf("oa_temp,%s,,promo-%d,,,86400,%s", oaApp, i, campaign))
		}
	}
	for i := 1; i <= permanent; i++ {
		rows = append(rows, fmt.Sprintf("oa_perm,%s,%d,,,,,%s", oaApp, i, campaign))
	}
	for i := 1; i <= miniProgram; i++ {
		rows = append(rows, fmt.Sprintf("wxa_qrcode,%s,,,pages/item/index?id=%d,300,,%s", mpApp, i, campaign))
	}
	const total = temporary + permanent + miniProgram
	h.mustRun(0, "enqueue", writeCSV(t, csvHeader, rows))

	workers := []*proc{h.start(nil, "worker", "--until-idle"), h.start(nil, "worker", "--until-idle")}
	stored := func() bool {
		n, err := h.rdb.ZCard(t.Context(), "wxqr:campaign:"+campaign).Result()
		return err == nil && n >= total*4/10
	}
	eventually(t, 3*time.Minute, "40% of the codes stored", stored)
	sc := redis.NewSentinelClient(&redis.Options{Addr: sentinel.SentinelAddrs[0]})
	t.Cleanup(func() { sc.Close() })
	before := masterAddr(t, sc, sentinel.MasterName)
	// A sentinel refuses while it has not yet seen the replica come back
	// from an earlier failover (NOGOODSLAVE): ask until it accepts.
	eventually(t, 30*time.Second, "a sentinel accepting SENTINEL FAILOVER", func() bool {
		err := sc.Failover(t.Context(), sentinel.MasterName).Err()
		if err != nil {
			t.Logf("SENTINEL FAILOVER: %v", err)
		}
		return err == nil
	})
	eventually(t, time.Minute, "a new master", func() bool { return masterAddr(t, sc, sentinel.MasterName) != before })
	t.Logf("failover from %s to %s", before, masterAddr(t, sc, sentinel.MasterName))

	for i, w := range workers {
		r := w.wait()
		if r.code != 0 {
			t.Errorf("worker %d: exit %d\n%s", i+1, r.code, tail(r.stderr, 30))
		}
		t.Logf("worker %d: %d log lines about writes no replica acknowledged", i+1, strings.Count(r.stderr, "not acknowledged by enough replicas"))
	}

	if recs := h.checkStored(); len(recs) != total {
		t.Errorf("%d codes stored and recorded, want %d", len(recs), total)
	}

	// Successful create calls, each a code WeChat made (and, for the
	// lifetime classes, a call that spends quota even when WeChat counts
	// the same code once).
	temps := h.sim.Usage(oaApp, wechatsim.APICreateQRCode).Temporary
	calls := []struct {
		class  wxqr.QuotaClass
		calls  int
		codes  int
		maxPer float64
	}{
		{wxqr.ClassOATemp, temps, temporary, 1.02},
		{wxqr.ClassOAPerm, h.sim.CallsByErrcode(wechatsim.APICreateQRCode, 0) - temps, permanent, 1},
		{wxqr.ClassWxaLimited, h.sim.CallsByErrcode(wechatsim.APICreateWxaQRCode, 0), miniProgram, 1},
	}
	for _, c := range calls {
		per := float64(c.calls) / float64(c.codes)
		t.Logf("%s: %d create calls for %d codes (%.2f per code)", c.class, c.calls, c.codes, per)
		if c.calls < c.codes || per > c.maxPer {
			t.Errorf("%s: %d create calls for %d codes (%.2f per code), want 1.00..%.2f per code", c.class, c.calls, c.codes, per, c.maxPer)
		}
	}

	inspector := asynq.NewInspector(asynq.RedisFailoverClientOpt{
		MasterName: sentinel.MasterName, SentinelAddrs: sentinel.SentinelAddrs, DB: sentinel.DB,
	})
	t.Cleanup(func() { inspector.Close() })
	queues, err := inspector.Queues()
	if err != nil {
		t.Fatalf("list queues: %v", err)
	}
	for _, q := range queues {
		info, err := inspector.GetQueueInfo(q)
		if err != nil {
			t.Fatalf("inspect %s: %v", q, err)
		}
		if open := info.Pending + info.Active + info.Scheduled + info.Retry; open != 0 || info.Archived != 0 {
			t.Errorf("%s: %d tasks still open, %d archived; want none", q, open, info.Archived)
		}
	}
}

// masterAddr asks the sentinel where the master is.
func masterAddr(t *testing.T, sc *redis.SentinelClient, master string) string {
	t.Helper()
	addr, err := sc.GetMasterAddrByName(t.Context(), master).Result()
	if err != nil {
		t.Fatalf("SENTINEL GET-MASTER-ADDR-BY-NAME: %v", err)
	}
	return strings.Join(addr, ":")
}
