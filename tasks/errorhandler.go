package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/internal/asynqx"
	"github.com/wxqr/wxqr/wechat"
)

// Failures records the codes that will not be made; *catalog.Catalog
// implements it.
type Failures interface {
	Fail(ctx context.Context, campaign, id, reason string) error
}

// NewErrorHandler returns the worker's asynq.ErrorHandler. It logs each run
// that did not succeed once, with its outcome: waits at debug level,
// failures as warnings, and tasks that asynq archives as errors; it records
// each generate task that asynq archives as failed in its campaign
// (failures), so that the campaign's counts add up, and tells notices of it
// (nil: no notices).
func NewErrorHandler(log zerolog.Logger, failures Failures, notices Notices) asynq.ErrorHandlerFunc {
	return func(ctx context.Context, t *asynq.Task, err error) {
		id, _ := asynq.GetTaskID(ctx)
		// asynq decides on its own rule, which also covers the errors it
		// makes itself (a lease lost, a deadline) and every task type.
		archived, retried := asynqx.ArchivesTask(ctx, err)
		o := OutcomeOf(err)
		ev := log.Warn()
		switch {
		case archived:
			ev = log.Error().Bool("archived", true)
		case o.Kind == OutcomeWait:
			ev = log.Debug()
		}
		ev = ev.Str("outcome", string(o.Kind))
		if reason := outcomeReason(o); reason != "" {
			ev = ev.Str("reason", reason)
		}
		var r wxqr.Request
		if t.Type() == TypeGenerate && json.Unmarshal(t.Payload(), &r) == nil {
			// Read as it is, without DecodeGenerate's checks: an invalid
			// payload is worth logging and recording too.
			p := r.Normalize()
			ev = ev.Str("app_id", p.Spec.AppID).Str("kind", string(p.Spec.Kind)).
				Str("scene", p.Spec.Scene()).Str("path", p.Spec.Path).Str("campaign", p.Campaign)
			if archived {
				// The task's context may be over (a timeout): the record must
				// still be written.
				fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				defer cancel()
				if ferr := failures.Fail(fctx, p.Campaign, p.ID, err.Error()); ferr != nil {
					log.Warn().Err(ferr).Str("task_id", id).Msg("could not record the failure in its campaign")
				}
				if notices != nil {
					notices.Failed(fctx, GeneratePayload(p), err.Error())
				}
			}
		}
		if apiErr, ok := errors.AsType[*wechat.APIError](err); ok {
			ev = ev.Int("errcode", apiErr.Code)
		}
		ev.Err(err).Str("task_id", id).Int("retried", retried).Msg("task did not finish")
	}
}

// outcomeReason is the reason of a wait or an archive, the class of a
// failure.
func outcomeReason(o *Outcome) string {
	switch o.Kind {
	case OutcomeWait:
		return string(o.Wait)
	case OutcomeArchive:
		return string(o.Archive)
	default:
		return string(o.Class)
	}
}
