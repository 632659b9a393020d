package tasks

import "context"

// Notices hears of what operators are told of (package notify implements
// it; the worker wires it into the generator, the storage probe and the
// error handler). Its methods run on a task's path: each must return quickly
// (a Redis write, never an HTTP call), outlive ctx's cancellation if it must
// write, and never fail the task: it logs its own errors.
type Notices interface {
	// Paused is told of a pause this worker recorded first, so that one
	// worker tells of each pause. campaign is the campaign of the task whose
	// call caused it ("" when no task did: the storage probe); waiting is how
	// many tasks its queue holds.
	Paused(ctx context.Context, s PauseState, campaign string, waiting int)
	// Made is told that the run of p ended with its code made, or found made
	// already.
	Made(ctx context.Context, p GeneratePayload)
	// Failed is told that p's code will not be made: asynq archived its
	// task, for reason.
	Failed(ctx context.Context, p GeneratePayload, reason string)
}

// Causes of a pause, as PauseState.Cause names them.
const (
	CauseTotalQuota  = "total_quota"  // WeChat's lifetime quota of the class is spent (45029)
	CauseDailyQuota  = "daily_quota"  // WeChat's daily quota of the API is spent (45009)
	CauseDailyBudget = "daily_budget" // wxqr's own daily budget of the API is spent
	CauseAccount     = "account"      // WeChat refuses the app itself (40013, 40125, 40164, 48001)
)

// Cause names in one word why wxqr paused s: CauseTotalQuota,
// CauseDailyQuota, CauseDailyBudget, CauseAccount, ReasonStorage or
// ReasonWeChatUnavailable.
func (s PauseState) Cause() string {
	switch {
	case s.SelfHealing():
		return s.Reason
	case s.Errcode == 45029:
		return CauseTotalQuota
	case s.ResumeAt.IsZero():
		// Only an operator ends it, and it is not the lifetime quota.
		return CauseAccount
	case s.Errcode == 45009:
		return CauseDailyQuota
	default:
		return CauseDailyBudget
	}
}
