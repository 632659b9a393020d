package tasks_test

import (
	"encoding/json"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/internal/testenv"
	"github.com/wxqr/wxqr/tasks"
)

func TestEnqueue(t *testing.T) {
	ctx := t.Context()
	rdb := redis.NewClient(testenv.RedisOptions(t))
	t.Cleanup(func() { rdb.Close() })
	client := asynq.NewClientFromRedisClient(rdb)
	inspector := asynq.NewInspectorFromRedisClient(rdb)
	p := tasks.GeneratePayload{Spec: wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: "wxa", SceneID: 9}}
	queue, id := tasks.QueueName("wxa", wxqr.ClassOAPerm), p.Spec.ID()

	enqueue := func(p tasks.GeneratePayload, inspector *asynq.Inspector, want tasks.Enqueued) {
		t.Helper()
		if got, err := tasks.Enqueue(ctx, client, inspector, p); err != nil || got != want {
			t.Fatalf("Enqueue = %v, %v; want %v", got, err, want)
		}
	}
	enqueue(p, inspector, tasks.Queued)
	enqueue(p, inspector, tasks.AlreadyQueued)

	if err := inspector.ArchiveTask(queue, id); err != nil {
		t.Fatal(err)
	}
	enqueue(p, nil, tasks.AlreadyQueued) // no inspector: nothing tells an archived task apart
	again := p
	again.Campaign = "autumn" // queued again for another campaign
	enqueue(again, inspector, tasks.Requeued)
	info, err := inspector.GetTaskInfo(queue, id)
	if err != nil || info.State != asynq.TaskStatePending || info.Retried != 0 {
		t.Fatalf("task after requeue: %+v, %v; want pending with no retries used", info, err)
	}
	var payload tasks.GeneratePayload
	if err := json.Unmarshal(info.Payload, &payload); err != nil || payload.Campaign != "autumn" || payload.ID != id {
		t.Errorf("requeued payload %s (%v), want the new one (campaign autumn, id %s)", info.Payload, err, id)
	}
	enqueue(p, inspector, tasks.AlreadyQueued) // the replacement is on its way

	if err := inspector.DeleteTask(queue, id); err != nil {
		t.Fatal(err)
	}
	enqueue(p, inspector, tasks.Queued) // finished and gone: queued anew

	invalid := tasks.GeneratePayload{Spec: wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: "wxa"}}
	if got, err := tasks.Enqueue(ctx, client, inspector, invalid); err == nil {
		t.Errorf("Enqueue of an invalid code = %v, want an error", got)
	}
}
