package tasks_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/tasks"
	"github.com/wxqr/wxqr/wechat"
)

// heardNotices is a tasks.Notices that remembers what it is told.
type heardNotices struct {
	mu     sync.Mutex
	pauses []string // queue/cause/campaign
	made   []string // campaign/id
}

func (n *heardNotices) Paused(_ context.Context, s tasks.PauseState, campaign string, _ int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.pauses = append(n.pauses, s.Queue+"/"+s.Cause()+"/"+campaign)
}

func (n *heardNotices) Made(_ context.Context, p tasks.GeneratePayload) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.made = append(n.made, p.Campaign+"/"+p.ID)
}

// Failed is heard by the error handler, not the generator: see
// TestErrorHandler.
func (n *heardNotices) Failed(context.Context, tasks.GeneratePayload, string) {}

func (n *heardNotices) heard() (pauses, made []string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.pauses), slices.Clone(n.made)
}

// TestGeneratorTellsNotices checks that the generator tells its notices of
// each run that ends with the code made (or found made) and of each pause it
// records first, and of nothing else.
func TestGeneratorTellsNotices(t *testing.T) {
	h := newHarness(t)
	notices := &heardNotices{}
	h.configure(t, func(cfg *tasks.GeneratorConfig) { cfg.Notices = notices })
	made := tasks.GeneratePayload{Spec: permSpec, Campaign: "spring"}
	for range 2 { // made, then found made
		if err := h.run(t, generateTask(t, made)); err != nil {
			t.Fatal(err)
		}
	}
	refused := tasks.GeneratePayload{Spec: wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: oaApp, SceneID: 43}, Campaign: "summer"}
	h.wechat.createErr = &wechat.APIError{Op: apiCreate, Code: 45029, Msg: "quota"}
	for range 2 { // pauses, then finds the queue paused
		wantRetryLater(t, h.run(t, generateTask(t, refused)))
	}
	pauses, heardMade := notices.heard()
	wantID := "spring/" + permSpec.Normalize().ID()
	if !slices.Equal(heardMade, []string{wantID, wantID}) {
		t.Errorf("Made heard %q, want %q twice", heardMade, wantID)
	}
	wantPause := tasks.QueueName(oaApp, wxqr.ClassOAPerm) + "/" + tasks.CauseTotalQuota + "/summer"
	if !slices.Equal(pauses, []string{wantPause}) {
		t.Errorf("Paused heard %q, want %q once", pauses, wantPause)
	}
}

// TestStorageProbeTellsNotices checks that the probe tells of each storage
// pause it records first, and not of the holds that extend it.
func TestStorageProbeTellsNotices(t *testing.T) {
	ctx := t.Context()
	p, _, rdb := newPauses(t)
	h, err := tasks.NewStorageHealth(rdb, func(context.Context) (int64, error) { return 0, nil },
		tasks.StorageHealthConfig{Failures: 1, ProbeInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	notices := &heardNotices{}
	probe := &tasks.StorageProbe{Store: &fakeChecker{err: errors.New("refused")}, Health: h, Pauses: p,
		Logger: zerolog.Nop(), Notices: notices,
		Queues: []tasks.ServedQueue{{AppID: "wxa", Class: wxqr.ClassOAPerm}}}
	if _, err := h.RecordPut(ctx, true); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	for i := range 3 {
		if err := probe.Probe(ctx, at.Add(time.Duration(i)*time.Second)); err == nil {
			t.Fatal("Probe = nil, want the check's error")
		}
	}
	pauses, _ := notices.heard()
	if want := []string{"wxa.oa_perm/storage/"}; !slices.Equal(pauses, want) {
		t.Errorf("Paused heard %q, want %q", pauses, want)
	}
}

func TestPauseCause(t *testing.T) {
	at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		state tasks.PauseState
		want  string
	}{
		{tasks.PauseState{Errcode: 45029, Reason: "lifetime quota"}, tasks.CauseTotalQuota},
		{tasks.PauseState{Errcode: 45009, Reason: "daily quota", ResumeAt: at}, tasks.CauseDailyQuota},
		{tasks.PauseState{Reason: "daily budget", ResumeAt: at}, tasks.CauseDailyBudget},
		{tasks.PauseState{Errcode: 48001, Reason: "refused"}, tasks.CauseAccount},
		{tasks.PauseState{Reason: tasks.ReasonStorage, ResumeAt: at}, tasks.ReasonStorage},
		{tasks.PauseState{Reason: tasks.ReasonWeChatUnavailable, ResumeAt: at}, tasks.ReasonWeChatUnavailable},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.want, "/", tt.state.Errcode), func(t *testing.T) {
			if got := tt.state.Cause(); got != tt.want {
				t.Errorf("Cause of %+v = %q, want %q", tt.state, got, tt.want)
			}
		})
	}
}
