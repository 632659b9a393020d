package e2e

import (
	"strings"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/internal/testenv"
	"github.com/wxqr/wxqr/wechat/wechatsim"
)

// TestPipelineOnCluster runs TestPipeline's mixed campaign with REDIS_URL
// naming a Redis Cluster: enqueue and worker keep wxqr's keys under a
// hash-tagged prefix and asynq's under its per-queue tags, and every code
// ends up stored, decoding to what WeChat said.
func TestPipelineOnCluster(t *testing.T) {
	cluster := testenv.Cluster(t)
	h := newHarness(t, wechatsim.Limits{}, "REDIS_URL="+cluster.URL())
	h.rdb = cluster.Client
	h.opt = asynq.RedisClusterClientOpt{Addrs: cluster.Addrs}
	h.cat = catalog.New(cluster.Client, cluster.KeyPrefix)
	// asynq's keys are outside the test's prefix: its queues are named by
	// the apps, the same in every run, so they go before and after.
	deleteAppQueues(t, h.opt)
	t.Cleanup(func() { deleteAppQueues(t, h.opt) })

	jobs := writeCSV(t, csvHeader, mixedCampaign()[:300])
	h.mustRun(0, "enqueue", jobs)
	h.mustRun(0, "worker", "--until-idle")

	recs := h.checkStored()
	if len(recs) != 300 {
		t.Fatalf("the catalog holds %d codes, want 300", len(recs))
	}
	for _, rec := range recs {
		checkRecordFields(t, rec)
	}
	n, err := cluster.Client.ZCard(t.Context(), cluster.KeyPrefix+"codes").Result()
	if err != nil || n != 300 {
		t.Errorf("%scodes holds %d codes (%v), want 300: wxqr's keys are not under the URL's key_prefix", cluster.KeyPrefix, n, err)
	}
}

// deleteAppQueues deletes asynq's queues of the test apps, tasks and all.
func deleteAppQueues(t *testing.T, opt asynq.RedisConnOpt) {
	t.Helper()
	inspector := asynq.NewInspector(opt)
	defer inspector.Close()
	queues, err := inspector.Queues()
	if err != nil {
		t.Errorf("list asynq queues: %v", err)
		return
	}
	for _, q := range queues {
		if !strings.Contains(q, oaApp) && !strings.Contains(q, mpApp) {
			continue
		}
		if err := inspector.DeleteQueue(q, true); err != nil {
			t.Errorf("delete asynq queue %s: %v", q, err)
		}
	}
}
