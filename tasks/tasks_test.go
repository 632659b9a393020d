package tasks_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/internal/testenv"
	"github.com/wxqr/wxqr/tasks"
)

func TestNewGenerateTaskChecksThePayload(t *testing.T) {
	temp := wxqr.Spec{Kind: wxqr.KindOATemp, AppID: "wxa", SceneID: 1}
	perm := wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: "wxa", SceneID: 1}
	tests := []struct {
		name string
		p    tasks.GeneratePayload
		ok   bool
	}{
		{"temporary, default validity", tasks.GeneratePayload{Spec: temp}, true},
		{"temporary, 30 days", tasks.GeneratePayload{Spec: temp, ExpireSeconds: 2592000}, true},
		{"temporary, over 30 days", tasks.GeneratePayload{Spec: temp, ExpireSeconds: 2592001}, false},
		{"temporary, regenerated", tasks.GeneratePayload{Spec: temp, Generation: 3}, true},
		{"permanent", tasks.GeneratePayload{Spec: perm}, true},
		{"permanent with a validity", tasks.GeneratePayload{Spec: perm, ExpireSeconds: 60}, false},
		// A second generation of a permanent code would spend lifetime quota again.
		{"permanent, regenerated", tasks.GeneratePayload{Spec: perm, Generation: 2}, false},
		{"invalid spec", tasks.GeneratePayload{Spec: wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: "wxa"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tasks.NewGenerateTask(tt.p)
			if (err == nil) != tt.ok {
				t.Errorf("NewGenerateTask err = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

func TestRequeueArchived(t *testing.T) {
	ctx := t.Context()
	opts := testenv.RedisOptions(t)
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	client := asynq.NewClientFromRedisClient(rdb)
	inspector := asynq.NewInspectorFromRedisClient(rdb)
	p := tasks.GeneratePayload{Spec: wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: "wxa", SceneID: 9}}
	task, err := tasks.NewGenerateTask(p)
	if err != nil {
		t.Fatal(err)
	}
	queue := tasks.QueueName("wxa", wxqr.ClassOAPerm)

	if _, err := client.Enqueue(task); err != nil {
		t.Fatal(err)
	}
	if requeued, err := tasks.RequeueArchived(ctx, client, inspector, p); err != nil || requeued {
		t.Fatalf("RequeueArchived of a pending task = %v, %v; want false", requeued, err)
	}
	if _, err := client.Enqueue(task); !errors.Is(err, asynq.ErrTaskIDConflict) {
		t.Fatalf("queueing the code twice: %v, want ErrTaskIDConflict", err)
	}
	if err := inspector.ArchiveTask(queue, p.TaskID()); err != nil {
		t.Fatal(err)
	}
	again := p
	again.Campaign = "autumn" // queued again for another campaign
	if requeued, err := tasks.RequeueArchived(ctx, client, inspector, again); err != nil || !requeued {
		t.Fatalf("RequeueArchived of an archived task = %v, %v; want true", requeued, err)
	}
	info, err := inspector.GetTaskInfo(queue, p.TaskID())
	if err != nil || info.State != asynq.TaskStatePending || info.Retried != 0 {
		t.Fatalf("task after requeue: %+v, %v; want pending with no retries used", info, err)
	}
	var payload tasks.GeneratePayload
	if err := json.Unmarshal(info.Payload, &payload); err != nil || payload.Campaign != "autumn" {
		t.Errorf("requeued payload %s (%v), want the new one (campaign autumn)", info.Payload, err)
	}
	if err := inspector.DeleteTask(queue, p.TaskID()); err != nil {
		t.Fatal(err)
	}
	if requeued, err := tasks.RequeueArchived(ctx, client, inspector, p); err != nil || requeued {
		t.Fatalf("RequeueArchived of a finished task = %v, %v; want false", requeued, err)
	}
}
