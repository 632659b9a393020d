package tasks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/wechat"
)

// This file is the run of a generate task: what to make, and the two steps
// that make it (create, finish). Admission (admission.go), the error policy
// (policy.go) and persistence (persist.go, recover.go) are its helpers.

// ProcessTask implements asynq.Handler: it runs the task and tells asynq
// its outcome in asynq's terms (AsynqResult).
func (g *Generator) ProcessTask(ctx context.Context, t *asynq.Task) error {
	growStack()
	retried, _ := asynq.GetRetryCount(ctx)
	return AsynqResult(g.process(ctx, t), retried)
}

// process runs the task of t and returns its outcome: nil when it is done.
func (g *Generator) process(ctx context.Context, t *asynq.Task) error {
	p, err := DecodeGenerate(t.Payload())
	if err != nil {
		return err
	}
	client, ok := g.cfg.Clients[p.Spec.AppID]
	if !ok {
		return archive(ArchiveUnknownApp, fmt.Errorf("app %s is not configured on this worker", p.Spec.AppID))
	}
	start := g.cfg.Now()
	log := g.cfg.Logger.With().
		Str("task_id", p.TaskID()).
		Str("app_id", p.Spec.AppID).
		Str("kind", string(p.Spec.Kind)).
		Str("scene", p.Spec.Scene()).
		Str("path", p.Spec.Path).
		Str("campaign", p.Campaign).
		Logger()

	// The run ends before asynq's deadline, so that it always reports how
	// it ended itself: a timeout before WeChat made the code is a failure,
	// one after it a wait (see retryStored). asynq would count either as a
	// failure, and never stop retrying a task that always times out.
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-stageTimeout-5*time.Second))
		defer cancel()
	}
	job := &generation{g: &g.cfg, p: p, client: client, log: log}
	made, err := job.run(ctx)
	if err != nil {
		return err
	}
	if g.cfg.Notices != nil {
		// Found made counts too: it may be the campaign's last code.
		g.cfg.Notices.Made(ctx, p)
	}
	if made == nil {
		return nil
	}
	log.Info().Int("generation", made.Generation).Str("key", made.ObjectKey).
		Dur("duration", g.cfg.Now().Sub(start)).Msg("code generated")
	if g.cfg.Observer != nil {
		g.cfg.Observer.CodeGenerated(p.Spec.AppID, p.Spec.Kind)
	}
	return nil
}

// run makes the code and returns its new record, or nil when there was
// nothing to do.
func (j *generation) run(ctx context.Context) (*wxqr.Record, error) {
	now := j.g.Now()
	// One run at a time per code, and everything it decides read under the
	// lock: a task whose lease expired, one that asynq requeued at shutdown,
	// or another task of the same code (a regeneration and a new queueing)
	// may be running somewhere.
	claim, err := j.g.Catalog.Claim(ctx, j.p.ID, lockTTL, j.p.Campaign)
	if errors.Is(err, catalog.ErrLocked) {
		return nil, wait(j.g.PausedRetry, WaitLocked, "code %s is being made by another worker", j.p.ID)
	}
	if errors.Is(err, catalog.ErrNotReplicated) {
		// A lock that a failover may discard guards nothing: WeChat waits.
		return nil, wait(j.g.PausedRetry, WaitLocked, "lock of code %s: %v", j.p.ID, err)
	}
	if err != nil {
		return nil, fmt.Errorf("read catalog: %w", err)
	}
	defer claim.Lease.Release()
	j.lease, j.claim = claim.Lease, claim

	prev := claim.Record
	target, staged, err := j.plan(ctx, prev, now)
	if err != nil {
		return nil, err
	}
	if target == 0 {
		return nil, nil
	}
	if staged == nil {
		if rec, err := j.adopt(ctx, target); err != nil || rec != nil {
			return rec, err
		}
		// A retired campaign gets no new code. (One WeChat made already is
		// stored: the catalog records it retired.)
		if claim.CampaignRetired {
			return nil, nil
		}
		if staged, err = j.create(ctx, target); err != nil {
			return nil, err
		}
	}
	rec, err := j.finish(ctx, prev, staged, now)
	if errors.Is(err, errTicketDied) {
		// An expired temporary ticket: make the code anew, at once. A
		// repaired code that is still recorded gets a new generation.
		gen := staged.Generation
		if prev != nil {
			gen = max(gen, prev.Generation+1)
		}
		if staged, err = j.create(ctx, gen); err != nil {
			return nil, err
		}
		rec, err = j.finish(ctx, prev, staged, now)
	}
	return rec, err
}

// plan decides which generation of the code to make (0: none, it exists as
// asked) and returns the staged result of an earlier attempt to finish it
// with, or nil when WeChat must be asked.
func (j *generation) plan(ctx context.Context, prev *wxqr.Record, now time.Time) (int, *catalog.Staged, error) {
	if j.p.Repair && prev != nil {
		return j.planRepair(ctx, prev, now)
	}
	target, ok := j.target(prev, now)
	if !ok {
		// Made or retired since the task was queued: a scan that read the
		// catalog just before the code's task finished queues it again,
		// and this run ends for free.
		j.log.Debug().Int("generation", prev.Generation).Msg("code exists as asked")
		return 0, nil, nil
	}
	return target, j.staged(target, now), nil
}

// staged returns the staged result (read with the lock) for generation
// target if there is one this run can use.
func (j *generation) staged(target int, now time.Time) *catalog.Staged {
	s := j.claim.Staged
	if s == nil || !j.reusable(s, target, now) {
		return nil
	}
	return s
}

// target decides which generation to make: 0 and false when the code exists
// as asked already.
func (j *generation) target(prev *wxqr.Record, now time.Time) (int, bool) {
	if prev == nil {
		return max(j.p.Generation, 1), true
	}
	if j.p.Generation > 0 {
		// A regeneration: done if that generation (or a later one) exists
		// or the code was retired since it was queued.
		return j.p.Generation, prev.Generation < j.p.Generation && !prev.Retired
	}
	if prev.Done(now) {
		return 0, false
	}
	// An expired temporary code queued again: make it anew.
	return prev.Generation + 1, true
}

// reusable reports whether a staged result from an earlier attempt is the
// one this run is making and can still be used. A staged image that is not
// whole is forgotten: an Official Account code fetches it again with the
// staged ticket, a Mini Program code must be asked for again.
func (j *generation) reusable(s *catalog.Staged, target int, now time.Time) bool {
	if s.Generation != target {
		return false
	}
	if len(s.Image) > 0 {
		if _, err := wxqr.CheckImage(s.Image, j.p.Spec.ImageWidth()); err != nil {
			j.log.Warn().Err(err).Msg("the staged image is not whole; it is not used")
			s.Image, s.ContentType = nil, ""
		}
	}
	switch {
	case len(s.Image) > 0:
		return true
	case j.p.Spec.Kind.AppType() != wxqr.AppOA || s.Ticket == "":
		return false
	case j.p.Spec.Kind.Temporary():
		// The ticket must outlive its trip through showqrcode and storage.
		return s.CreatedAt.Add(time.Duration(s.ExpireSeconds)*time.Second - time.Minute).After(now)
	}
	return true
}

// create spends quota: once admitted, it asks WeChat for the code and
// stages the answer before doing anything else with it.
func (j *generation) create(ctx context.Context, gen int) (*catalog.Staged, error) {
	spec := j.p.Spec
	api := spec.Kind.API()
	key, err := j.admit(ctx, api, gen)
	if err != nil {
		return nil, err
	}
	staged := &catalog.Staged{Generation: gen, CreatedAt: j.g.Now()}
	var code *wechat.Code
	err = j.observe(api, func() (err error) {
		code, err = wechat.CreateCode(ctx, j.client, spec, j.p.ExpireSeconds)
		return err
	})
	switch {
	case err != nil:
	case code.Ticket != nil:
		staged.Ticket, staged.URL, staged.ExpireSeconds = code.Ticket.Ticket, code.Ticket.URL, code.Ticket.ExpireSeconds
	default:
		if _, cerr := wxqr.CheckImage(code.Image.Data, spec.ImageWidth()); cerr != nil {
			// Nothing whole to keep: the call failed, and the next attempt
			// asks again.
			err = fmt.Errorf("%s: %w: %w", api, cerr, wechat.ErrTransient)
		} else {
			staged.Image, staged.ContentType = code.Image.Data, code.Image.ContentType
		}
	}
	outage := j.noteCall(ctx, api, err)
	if err != nil {
		var apiErr *wechat.APIError
		if errors.As(err, &apiErr) || errors.Is(err, wechat.ErrNotSent) {
			// WeChat answered with an error, or never heard of the call:
			// no code was made, nothing spent.
			j.refund(ctx, key)
		}
		if outage != nil {
			return nil, outage
		}
		return nil, j.handleCreateError(ctx, err)
	}
	j.stage(ctx, staged)
	return staged, nil
}

// observe runs one WeChat call of api and tells the observer.
func (j *generation) observe(api string, fn func() error) error {
	start := j.g.Now()
	err := fn()
	if j.g.Observer != nil {
		j.g.Observer.WeChatCall(j.p.Spec.AppID, api, err, j.g.Now().Sub(start))
	}
	return err
}

// finish takes a code WeChat has made to the bucket and the catalog: it
// fetches an Official Account code's image first (showqrcode spends no
// quota, so only the ticket is staged, never this image). What fails from here on costs nothing to retry, so it never counts
// against the task's retries; only a dead temporary ticket (errTicketDied)
// sends the run back to WeChat.
func (j *generation) finish(ctx context.Context, prev *wxqr.Record, staged *catalog.Staged, now time.Time) (*wxqr.Record, error) {
	if len(staged.Image) == 0 {
		img, err := j.showQRCode(ctx, staged.Ticket)
		switch {
		case errors.Is(err, wechat.ErrTicketNotFound) && j.p.Spec.Kind.Temporary():
			if err := j.dropStaged(ctx); err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %w", errTicketDied, err)
		case errors.Is(err, wechat.ErrTicketNotFound):
			return nil, j.ticketRefused(ctx, staged, now, err)
		case err != nil:
			return nil, j.retryStored(staged, now, err)
		}
		if j.unstaged {
			// The ticket never reached Redis: one more try, as the image
			// goes to storage. Only the ticket: showqrcode spends no
			// quota, so a later attempt fetches the image again with it,
			// and ~30 KB of image would cross Redis twice for nothing.
			j.stage(ctx, staged)
		}
		staged.Image, staged.ContentType = img.Data, img.ContentType
	}
	rec, err := j.store(ctx, prev, staged)
	if err != nil {
		return nil, j.retryStored(staged, now, err)
	}
	return rec, nil
}

// ticketRefused decides what becomes of a permanent code whose ticket
// showqrcode refused (err). The ticket is never dropped (making it again
// could spend a second slot of the lifetime quota), nor retried for ever:
// once showqrcode has refused it for longer than permanentTicketPatience,
// the task goes to the archive, the ticket stays staged, and running the
// task again once showqrcode answers reuses it. The patience counts from
// the first refusal, which the staged result keeps: not from the ticket's
// making, or a ticket that waited out a long storage outage would go to
// the archive at its first refusal, however passing.
func (j *generation) ticketRefused(ctx context.Context, staged *catalog.Staged, now time.Time, err error) error {
	since, nerr := j.g.Catalog.NoteRefused(ctx, j.p.ID, staged.Generation, now, j.lease)
	if nerr != nil {
		return j.retryStored(staged, now, fmt.Errorf("%w (noting the refusal: %w)", err, nerr))
	}
	if since.IsZero() {
		// Not staged (a repair fetches the recorded ticket; Redis did not
		// take this one): nowhere to keep the refusal, and the ticket's
		// age stands in for it.
		since = staged.CreatedAt
	}
	if now.Sub(since) <= permanentTicketPatience {
		return j.retryStored(staged, now, err)
	}
	return archive(ArchiveTicketRefused, fmt.Errorf("showqrcode has refused the permanent ticket made at %s since %s: %w",
		staged.CreatedAt.UTC().Format(time.RFC3339), since.UTC().Format(time.RFC3339), err))
}

// errTicketDied is a temporary code's ticket that showqrcode no longer knows.
var errTicketDied = errors.New("the temporary ticket expired before its image was fetched")

// showQRCode fetches the image of ticket, checked whole: a body cut short
// is a failure of showqrcode, fetched again on the next attempt. The lock
// is not checked first, a round trip per code saved: showqrcode spends no
// quota, and a run that lost its lock stops at the check before storing.
func (j *generation) showQRCode(ctx context.Context, ticket string) (*wechat.Image, error) {
	var img *wechat.Image
	err := j.observe(apiShowQRCode, func() (err error) {
		img, err = j.client.ShowQRCode(ctx, ticket)
		return err
	})
	if outage := j.noteCall(ctx, apiShowQRCode, err); outage != nil {
		return nil, outage
	}
	if err != nil {
		return nil, err
	}
	if _, err := wxqr.CheckImage(img.Data, j.p.Spec.ImageWidth()); err != nil {
		return nil, fmt.Errorf("showqrcode: %w", err)
	}
	return img, nil
}

// lockTTL is how soon the lock of a worker that died lapses; a live worker
// renews it.
const lockTTL = 15 * time.Second

// permanentTicketPatience is how long showqrcode may refuse a staged
// permanent ticket, from its first refusal, before the task goes to the
// archive.
const permanentTicketPatience = time.Hour
