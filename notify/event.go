package notify

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/wxqr/wxqr/tasks"
)

// Kind names an event. The names are stable: receivers switch on them.
type Kind string

const (
	// CampaignFinished: nothing of the campaign is queued any more (every
	// planned code is made or failed for good). Counts: planned, generated,
	// failed.
	CampaignFinished Kind = "campaign_finished"
	// CampaignPaused: a queue (one quota class of one app) was paused by a
	// quota, storage or WeChat refusing the account. Its campaign is the one
	// whose task caused the pause ("" for storage, noticed by a probe):
	// every campaign with codes queued there waits too. Counts:
	// tasks_waiting.
	CampaignPaused Kind = "campaign_paused"
	// CodesFailed: codes of the campaign failed for good (their tasks went
	// to the archive) within FailureWindow of the first. Counts: failed (in
	// this event), and the campaign's failed_total, planned and generated.
	CodesFailed Kind = "codes_failed"
)

// Event is one notice, as the JSON format sends it.
type Event struct {
	// ID is unique per event and derived from what happened, so that every
	// worker that sees it names it alike; receivers may dedupe on it.
	ID       string `json:"id"`
	Kind     Kind   `json:"event"`
	Campaign string `json:"campaign"`
	AppID    string `json:"app_id,omitempty"`
	Queue    string `json:"queue,omitempty"`
	// Reason is one word: for a pause its tasks.PauseState.Cause
	// (total_quota, daily_quota, daily_budget, account, storage).
	Reason string `json:"reason,omitempty"`
	// Detail says it for people.
	Detail  string `json:"detail,omitempty"`
	Errcode int    `json:"errcode,omitempty"`
	// ResumeAt is when a pause ends by itself; absent when an operator must
	// resume it.
	ResumeAt time.Time      `json:"resume_at,omitzero"`
	Counts   map[string]int `json:"counts"`
	// Failures are the first few codes of a CodesFailed event.
	Failures []Failure `json:"failures,omitempty"`
	At       time.Time `json:"at"`
}

// Failure is one code that failed for good.
type Failure struct {
	ID     string `json:"id"`
	AppID  string `json:"app_id"`
	Reason string `json:"reason"`
}

// Limits on what an event carries.
const (
	// maxFailures is how many codes a CodesFailed event lists.
	maxFailures = 5
	// maxReason is the longest reason kept, in bytes.
	maxReason = 300
)

// pausedEvent is the event of the pause s, first recorded by this worker.
func pausedEvent(s tasks.PauseState, campaign string, waiting int) Event {
	ev := Event{
		ID:   string(CampaignPaused) + ":" + s.Queue + ":" + strconv.FormatInt(s.PausedAt.UnixMilli(), 10),
		Kind: CampaignPaused, Campaign: campaign, AppID: s.AppID, Queue: s.Queue,
		Reason: s.Cause(), Errcode: s.Errcode, ResumeAt: s.ResumeAt.UTC(),
		Counts: map[string]int{"tasks_waiting": waiting}, At: s.PausedAt.UTC(),
	}
	if s.Reason != ev.Reason {
		ev.Detail = s.Reason
	}
	return ev
}

// finishedEvent is the event of campaign finished with its plan of planned
// codes: the plan size names it, so that a campaign that grows and finishes
// again is a new event, and one that is found finished again is not.
func finishedEvent(campaign string, planned, generated, failed int, at time.Time) Event {
	return Event{
		ID:   string(CampaignFinished) + ":" + campaign + ":" + strconv.Itoa(planned),
		Kind: CampaignFinished, Campaign: campaign,
		Counts: map[string]int{"planned": planned, "generated": generated, "failed": failed},
		At:     at.UTC(),
	}
}

// failedEvent is the event of a batch of failures of campaign opened at
// since.
func failedEvent(campaign string, since time.Time, count int, failures []Failure, at time.Time) Event {
	return Event{
		ID:   string(CodesFailed) + ":" + campaign + ":" + strconv.FormatInt(since.UnixMilli(), 10),
		Kind: CodesFailed, Campaign: campaign,
		Counts: map[string]int{"failed": count}, Failures: failures, At: at.UTC(),
	}
}

// clip returns s cut to at most n bytes, on a rune boundary, marked with an
// ellipsis when cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const ellipsis = "…"
	cut := n - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}
