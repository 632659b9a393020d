package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/internal/testenv"
	"github.com/wxqr/wxqr/wechat"
	"github.com/wxqr/wxqr/wechat/wechatsim"
)

// TestPipelineOnCluster runs part of TestPipeline's mixed campaign (75
// codes of each kind) with REDIS_URL naming a Redis Cluster: enqueue and
// worker keep wxqr's keys under a hash-tagged prefix and asynq's under its
// per-queue tags, every code ends up stored, decoding to what WeChat said
// (checkStored), and WeChat made each code once.
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

	mixed := mixedCampaign()
	var rows []string
	for _, start := range []int{0, 400, 600, 800} { // temporary by id and by string, permanent, Mini Program
		rows = append(rows, mixed[start:start+75]...)
	}
	jobs := writeCSV(t, csvHeader, rows)
	h.mustRun(0, "enqueue", jobs)
	h.mustRun(0, "worker", "--until-idle")

	recs := h.checkStored()
	if len(recs) != 300 {
		t.Fatalf("the catalog holds %d codes, want 300", len(recs))
	}
	for _, rec := range recs {
		checkRecordFields(t, rec)
	}
	checkMadeOnce(t, h.sim, recs)
	n, err := cluster.Client.ZCard(t.Context(), cluster.KeyPrefix+"campaign:"+campaign).Result()
	if err != nil || n != 300 {
		t.Errorf("%scampaign:%s holds %d codes (%v), want 300: wxqr's keys are not under the URL's key_prefix", cluster.KeyPrefix, campaign, n, err)
	}
}

// checkMadeOnce checks that WeChat made each code of recs exactly once, and
// no other code: in a run without faults, a temporary code is made once
// too (as TestPipeline counts).
func checkMadeOnce(t *testing.T, sim *wechatsim.Server, recs map[string]wxqr.Record) {
	t.Helper()
	made := sim.CodesMade()
	var bad problems
	for _, rec := range recs {
		req := createRequest(rec.Spec)
		if n := made[req]; n != 1 {
			bad.addRecord(rec, "made %d times, want once", n)
		}
		delete(made, req)
	}
	for req, n := range made {
		bad.add(fmt.Sprintf("%+v", req), "made %d times, but no record is of that code", n)
	}
	bad.report(t, "codes made")
}

// createRequest is the call that makes the code of spec as the simulator
// records it (CodesMade), for the kinds of mixedCampaign.
func createRequest(spec wxqr.Spec) wechatsim.CodeRequest {
	req := wechatsim.CodeRequest{AppID: spec.AppID, API: spec.Kind.API()}
	switch spec.Kind {
	case wxqr.KindOATemp, wxqr.KindOAPerm:
		req.SceneID, req.Scene = spec.SceneID, spec.SceneStr
		action := wechat.QRLimitScene
		switch {
		case spec.Kind.Temporary() && spec.SceneStr != "":
			action = wechat.QRStrScene
		case spec.Kind.Temporary():
			action = wechat.QRScene
		case spec.SceneStr != "":
			action = wechat.QRLimitStrScene
		}
		req.Action = string(action)
	default:
		req.Path, req.Width = spec.Path, spec.ImageWidth()
	}
	return req
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
