package tasks_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/tasks"
)

// The rules themselves are wxqr.Request's (request_test.go); these tests
// check that the task's constructor and decoder apply them.

func TestNewGenerateTaskChecksThePayload(t *testing.T) {
	temp := wxqr.Spec{Kind: wxqr.KindOATemp, AppID: "wxa", SceneID: 1}
	perm := wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: "wxa", SceneID: 1}
	tests := []struct {
		name string
		p    tasks.GeneratePayload
		ok   bool
	}{
		{"temporary, default validity", tasks.GeneratePayload{Spec: temp}, true},
		{"temporary, over 30 days", tasks.GeneratePayload{Spec: temp, ExpireSeconds: 2592001}, false},
		{"permanent", tasks.GeneratePayload{Spec: perm}, true},
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

func TestGenerateTaskCarriesTheID(t *testing.T) {
	spec := wxqr.Spec{Kind: wxqr.KindWxaQRCode, AppID: "wxm", Path: "p"}
	task, err := tasks.NewGenerateTask(tasks.GeneratePayload{Spec: spec, Campaign: "spring"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := tasks.DecodeGenerate(task.Payload())
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != spec.ID() || p.Spec != spec.Normalize() || p.Campaign != "spring" {
		t.Errorf("decoded %+v; want id %s, the normalised spec and campaign spring", p, spec.ID())
	}
	if p.TaskID() != spec.ID() {
		t.Errorf("TaskID() = %q, want the code's id %q", p.TaskID(), spec.ID())
	}
}

func TestDecodeGenerate(t *testing.T) {
	spec := wxqr.Spec{Kind: wxqr.KindOATemp, AppID: "wxa", SceneID: 7}
	encode := func(r wxqr.Request) []byte {
		t.Helper()
		data, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	t.Run("without an id, as queued before ids were carried", func(t *testing.T) {
		p, err := tasks.DecodeGenerate(encode(wxqr.Request{Spec: spec}))
		if err != nil {
			t.Fatal(err)
		}
		if p.ID != spec.ID() || p.ExpireSeconds != 2592000 {
			t.Errorf("decoded %+v; want id %s and the default validity", p, spec.ID())
		}
	})
	refused := []struct {
		name string
		data []byte
		want string
	}{
		{"not JSON", []byte("{"), "decode"},
		{"another code's id", encode(wxqr.Request{ID: wxqr.Spec{Kind: wxqr.KindOATemp, AppID: "wxa", SceneID: 8}.ID(), Spec: spec}), "id"},
		{"a broken rule", encode(wxqr.Request{Spec: spec, ExpireSeconds: 2592001}), "expire_seconds"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tasks.DecodeGenerate(tt.data)
			if o := tasks.OutcomeOf(err); o == nil || o.Kind != tasks.OutcomeArchive || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("DecodeGenerate = %v; want an archive outcome about %s", err, tt.want)
			}
			if !errors.Is(tasks.AsynqResult(err, 0), asynq.SkipRetry) {
				t.Errorf("AsynqResult(DecodeGenerate's error) does not wrap asynq.SkipRetry: asynq would retry it")
			}
		})
	}
}

func TestParseQueueName(t *testing.T) {
	for _, app := range []string{"wx1234", "wx.with.dots"} {
		for _, class := range wxqr.QuotaClasses {
			name := tasks.QueueName(app, class)
			gotApp, gotClass, ok := tasks.ParseQueueName(name)
			if !ok || gotApp != app || gotClass != class {
				t.Errorf("ParseQueueName(%q) = %q, %q, %v; want %q, %q", name, gotApp, gotClass, ok, app, class)
			}
		}
	}
	for _, name := range []string{"wxqr.regen", "default", ".oa_temp", "wx1234.", "wx1234.oa_forever", ""} {
		if app, class, ok := tasks.ParseQueueName(name); ok {
			t.Errorf("ParseQueueName(%q) = %q, %q; want not a wxqr queue", name, app, class)
		}
	}
}
