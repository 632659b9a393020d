package regen

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"
)

// slotRecorder is an Enqueuer that hands the slot of every scan it is given
// to a channel.
type slotRecorder chan time.Time

func (r slotRecorder) EnqueueContext(ctx context.Context, task *asynq.Task, _ ...asynq.Option) (*asynq.TaskInfo, error) {
	var p ScanPayload
	if err := json.Unmarshal(task.Payload(), &p); err != nil {
		return nil, err
	}
	select {
	case r <- p.Slot:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return &asynq.TaskInfo{}, nil
}

// TestTriggerFollowsItsClock runs a trigger whose clock (the fleet's) is far
// ahead of this machine's: the slots it queues are its clock's.
func TestTriggerFollowsItsClock(t *testing.T) {
	const ahead = 400 * 24 * time.Hour
	schedule, err := ParseSchedule("@every 1s", nil)
	if err != nil {
		t.Fatal(err)
	}
	slots := make(slotRecorder)
	trigger, err := NewTrigger(TriggerConfig{
		Schedule: schedule, Client: slots, Logger: zerolog.Nop(),
		Now: func() time.Time { return time.Now().Add(ahead) },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		trigger.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})

	select {
	case slot := <-slots:
		fleetNow := time.Now().Add(ahead)
		if d := fleetNow.Sub(slot); d < 0 || d > 10*time.Second {
			t.Errorf("queued the slot of %s, want one just before the trigger's clock (%s)", slot, fleetNow)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no slot queued in 30 s")
	}
}
