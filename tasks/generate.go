package tasks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/ratelimit"
	"github.com/wxqr/wxqr/storage"
	"github.com/wxqr/wxqr/wechat"
)

// WeChat is the part of the WeChat client the generator calls; one per app.
type WeChat interface {
	CreateQRCode(ctx context.Context, req *wechat.CreateQRCodeRequest) (*wechat.QRCodeTicket, error)
	ShowQRCode(ctx context.Context, ticket string) (*wechat.Image, error)
	CreateWxaQRCode(ctx context.Context, req *wechat.CreateWxaQRCodeRequest) (*wechat.Image, error)
	GetWxaCode(ctx context.Context, req *wechat.GetWxaCodeRequest) (*wechat.Image, error)
	GetWxaCodeUnlimited(ctx context.Context, req *wechat.GetWxaCodeUnlimitedRequest) (*wechat.Image, error)
}

// Catalog is the part of the catalog the generator uses.
type Catalog interface {
	Get(ctx context.Context, id string) (*wxqr.Record, error)
	PutHeld(ctx context.Context, rec *wxqr.Record, lease *catalog.Lease) error
	Stage(ctx context.Context, id string, s *catalog.Staged) error
	Staged(ctx context.Context, id string) (*catalog.Staged, error)
	DropStaged(ctx context.Context, id string) error
	MarkCalled(ctx context.Context, id string, gen int) error
	Called(ctx context.Context, id string) (int, error)
	Lock(ctx context.Context, id string, ttl time.Duration) (*catalog.Lease, error)
	CampaignRetired(ctx context.Context, campaign string) (bool, error)
}

// Limiter makes a call wait its turn under the cluster-wide rate limit for
// a key (app × API).
type Limiter interface {
	Wait(ctx context.Context, key string) (time.Duration, error)
}

// Budget is the daily budget per key (app × API) that wxqr keeps below
// WeChat's own daily quota.
type Budget interface {
	Spend(ctx context.Context, key string, n int64) (bool, error)
	Refund(ctx context.Context, key string, n int64) error
}

// PauseBoard pauses queues for the fleet and tells whether one is paused.
type PauseBoard interface {
	Pause(ctx context.Context, s PauseState) (first bool, err error)
	Paused(ctx context.Context, queue string) (*PauseState, error)
	Waiting(ctx context.Context, queue string) (int, error)
}

// Observer is told what the generator does, for metrics. Every method must be
// cheap and safe for concurrent use.
type Observer interface {
	WeChatCall(appID, api string, err error, d time.Duration)
	LimiterWait(appID, api string, d time.Duration)
	CodeGenerated(appID string, kind wxqr.Kind)
}

// Generator runs TypeGenerate tasks: it makes one code, at most once per
// generation whatever fails and however often the task runs.
//
// The steps, each there for a reason:
//  1. the per-code lock: one run at a time per code, its token checked
//     before every call and write (a run that lost it stops);
//  2. catalog: a code already made and still valid is done, with no call;
//  3. staged result: what WeChat returned on an earlier attempt is reused,
//     so a retry after a storage or Redis failure spends no quota;
//  4. the bucket: when an earlier attempt asked WeChat and left no staged
//     result, its image and sidecar may be stored already: adopted, no call;
//  5. pause, budget and rate limiter: calls WeChat would refuse are not made;
//  6. WeChat, then the result is staged at once;
//  7. the image is checked whole, then storage (image and sidecar), then
//     catalog, then the staged result goes.
type Generator struct {
	Clients  map[string]WeChat // by app id
	Catalog  Catalog
	Store    storage.Store
	Limiter  Limiter
	Budget   Budget
	Pauses   PauseBoard
	Observer Observer
	Logger   zerolog.Logger
	// Breaker, when set, stops the calls of an app × API that WeChat fails
	// for many tasks at once (see guard.go). Default: none.
	Breaker CallBreaker
	// StorageHealth, when set, stops making codes whose results could not
	// be kept (see guard.go). Default: none.
	StorageHealth StorageGuard
	// Now is the clock; default time.Now.
	Now func() time.Time
	// PausedRetry is how soon a task of a paused queue looks again; by then
	// asynq holds it, as the queue is paused. Default 5 s.
	PausedRetry time.Duration
	// DailyResetLocation is where WeChat's daily quotas reset at midnight;
	// default Asia/Shanghai.
	DailyResetLocation *time.Location
}

var _ asynq.Handler = (*Generator)(nil)

// ProcessTask implements asynq.Handler.
func (g *Generator) ProcessTask(ctx context.Context, t *asynq.Task) error {
	p, err := DecodeGenerate(t.Payload())
	if err != nil {
		return err
	}
	client, ok := g.Clients[p.Spec.AppID]
	if !ok {
		return fmt.Errorf("app %s is not configured on this worker: %w", p.Spec.AppID, asynq.SkipRetry)
	}
	start := g.now()
	log := g.Logger.With().
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
	job := &generation{g: g, p: p, id: p.ID, client: client, log: log}
	made, err := job.run(ctx)
	if err != nil {
		// asynq counts only real failures as retries, but archives a task
		// that runs out of them whatever its last error: so the cap on real
		// failures is kept here, and asynq's own is out of reach.
		if retried, _ := asynq.GetRetryCount(ctx); IsFailure(err) && retried >= GenerateMaxRetry {
			return fmt.Errorf("%w (after %d retries): %w", err, retried, asynq.SkipRetry)
		}
		return err
	}
	if made != nil {
		log.Info().Int("generation", made.Generation).Str("key", made.ObjectKey).
			Dur("duration", g.now().Sub(start)).Msg("code generated")
		if g.Observer != nil {
			g.Observer.CodeGenerated(p.Spec.AppID, p.Spec.Kind)
		}
	}
	return nil
}

func (g *Generator) now() time.Time {
	if g.Now != nil {
		return g.Now()
	}
	return time.Now()
}

// generation is one run of one task.
type generation struct {
	g      *Generator
	p      GeneratePayload
	id     string
	client WeChat
	log    zerolog.Logger
	// lease holds the code's lock for the run; checked before every WeChat
	// call and every write.
	lease *catalog.Lease
	// unstaged is set when the latest result could not be staged: it then
	// lives only in this run until storage has it.
	unstaged bool
}

// run makes the code and returns its new record, or nil when there was
// nothing to do.
func (j *generation) run(ctx context.Context) (*wxqr.Record, error) {
	now := j.g.now()
	// One run at a time per code, and everything it decides read under the
	// lock: a task whose lease expired, one that asynq requeued at shutdown,
	// or another task of the same code (a regeneration and a new queueing)
	// may be running somewhere.
	lease, err := j.g.Catalog.Lock(ctx, j.id, lockTTL)
	if errors.Is(err, catalog.ErrLocked) {
		return nil, retryLater(j.g.pausedRetry(), "code %s is being made by another worker", j.id)
	}
	if errors.Is(err, catalog.ErrNotReplicated) {
		// A lock that a failover may discard guards nothing: WeChat waits.
		return nil, retryLater(j.g.pausedRetry(), "lock of code %s: %v", j.id, err)
	}
	if err != nil {
		return nil, err
	}
	defer lease.Release()
	j.lease = lease

	prev, err := j.g.Catalog.Get(ctx, j.id)
	if err != nil && !errors.Is(err, catalog.ErrNotFound) {
		return nil, fmt.Errorf("read catalog: %w", err)
	}
	target, staged, err := j.plan(ctx, prev, now)
	if err != nil || target == 0 {
		return nil, err
	}
	if staged == nil {
		if rec, err := j.adopt(ctx, target); err != nil || rec != nil {
			return rec, err
		}
		// A retired campaign gets no new code. (One WeChat made already is
		// stored: the catalog records it retired.)
		if retired, err := j.g.Catalog.CampaignRetired(ctx, j.p.Campaign); err != nil || retired {
			return nil, err
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
		return 0, nil, nil
	}
	staged, err := j.staged(ctx, target, now)
	return target, staged, err
}

// staged returns the staged result for generation target if there is one
// this run can use.
func (j *generation) staged(ctx context.Context, target int, now time.Time) (*catalog.Staged, error) {
	s, err := j.g.Catalog.Staged(ctx, j.id)
	if err != nil {
		return nil, fmt.Errorf("read staged result: %w", err)
	}
	if s == nil || !j.reusable(s, target, now) {
		return nil, nil
	}
	return s, nil
}

// finish takes a code WeChat has made to the bucket and the catalog: it
// fetches an Official Account code's image first (showqrcode spends no
// quota). What fails from here on costs nothing to retry, so it never counts
// against the task's retries; only a dead temporary ticket (errTicketDied)
// sends the run back to WeChat.
func (j *generation) finish(ctx context.Context, prev *wxqr.Record, staged *catalog.Staged, now time.Time) (*wxqr.Record, error) {
	if len(staged.Image) == 0 {
		img, err := j.showQRCode(ctx, staged.Ticket)
		switch {
		case errors.Is(err, wechat.ErrTicketNotFound) && j.p.Spec.Kind.Temporary():
			j.dropStaged(ctx)
			return nil, fmt.Errorf("%w: %w", errTicketDied, err)
		case errors.Is(err, wechat.ErrTicketNotFound) && now.Sub(staged.CreatedAt) > permanentTicketPatience:
			// A permanent ticket is never dropped (making it again could
			// spend a second slot of the lifetime quota), nor retried for
			// ever: the task goes to the archive, the ticket stays staged,
			// and running the task again once showqrcode answers reuses it.
			return nil, fmt.Errorf("showqrcode keeps refusing the permanent ticket made at %s: %w: %w",
				staged.CreatedAt.UTC().Format(time.RFC3339), err, asynq.SkipRetry)
		case err != nil:
			return nil, j.retryStored(staged, now, err)
		}
		staged.Image, staged.ContentType = img.Data, img.ContentType
		j.stage(ctx, staged)
	}
	rec, err := j.store(ctx, prev, staged)
	if err != nil {
		return nil, j.retryStored(staged, now, err)
	}
	return rec, nil
}

// errTicketDied is a temporary code's ticket that showqrcode no longer knows.
var errTicketDied = errors.New("the temporary ticket expired before its image was fetched")

// showQRCode fetches the image of ticket, checked whole: a body cut short
// is a failure of showqrcode, fetched again on the next attempt.
func (j *generation) showQRCode(ctx context.Context, ticket string) (*wechat.Image, error) {
	if err := j.lease.Check(ctx); err != nil {
		return nil, err
	}
	img, err := j.call(ctx, apiShowQRCode, func(ctx context.Context) (*wechat.Image, error) {
		return j.client.ShowQRCode(ctx, ticket)
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
// permanent ticket before the task goes to the archive.
const permanentTicketPatience = time.Hour

// stageTimeout bounds the attempts to stage a result; ProcessTask keeps it
// clear of the task's deadline.
const stageTimeout = 10 * time.Second

// retryStored sends back a task whose code WeChat has made but wxqr has not
// stored yet: not a failure (retrying spends nothing, and archiving would
// strand a code that was paid for), retried after a delay that grows with
// the time the result has been waiting, up to MaxRetryDelay.
func (j *generation) retryStored(s *catalog.Staged, now time.Time, err error) error {
	wait := min(max(now.Sub(s.CreatedAt)/2, FirstRetryDelay), MaxRetryDelay)
	if j.unstaged {
		j.log.Error().Err(err).Msg("code made but neither staged nor stored (Redis and storage both failed): the next attempt asks WeChat again")
	} else {
		j.log.Warn().Err(err).Dur("retry_in", wait).Msg("code made but not stored yet; its result is staged")
	}
	return &RetryLaterError{After: wait, Reason: "store the code WeChat made: " + err.Error()}
}

// stage keeps what WeChat returned until storage and the catalog have it,
// trying for up to stageTimeout whatever the task's context says: a result
// that WeChat gave and that is lost here would be paid for twice. If it
// still fails, the run goes on: the image and its sidecar in storage are as
// good a record.
func (j *generation) stage(ctx context.Context, s *catalog.Staged) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stageTimeout)
	defer cancel()
	for wait := 100 * time.Millisecond; ; wait *= 2 {
		err := j.g.Catalog.Stage(ctx, j.id, s)
		if err == nil {
			j.unstaged = false
			return
		}
		select {
		case <-ctx.Done():
			j.unstaged = true
			j.log.Warn().Err(err).Msg("could not stage the result; storing it straight away")
			return
		case <-time.After(wait):
		}
	}
}

func (j *generation) dropStaged(ctx context.Context) {
	if err := j.g.Catalog.DropStaged(ctx, j.id); err != nil {
		// Harmless: it expires, and the catalog answers first once stored.
		j.log.Warn().Err(err).Msg("could not drop the staged result")
	}
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

// create spends quota: it asks WeChat for the code and stages the answer
// before doing anything else with it.
func (j *generation) create(ctx context.Context, gen int) (*catalog.Staged, error) {
	spec := j.p.Spec
	api := spec.Kind.API()
	queue := QueueName(spec.AppID, spec.Kind.Class())
	if s, err := j.g.Pauses.Paused(ctx, queue); err != nil {
		return nil, err
	} else if s != nil {
		return nil, retryLater(j.g.pausedRetry(), "queue %s is paused: %s", queue, s.Reason)
	}
	if err := j.mayCreate(ctx, api); err != nil {
		return nil, err
	}
	key := LimitKey(spec.AppID, api)
	if j.g.Budget != nil {
		ok, err := j.g.Budget.Spend(ctx, key, 1)
		if err != nil {
			return nil, fmt.Errorf("daily budget: %w", err)
		}
		if !ok {
			return nil, j.pauseDaily(ctx, 0, "daily budget of "+api+" spent")
		}
	}
	waited, err := j.g.Limiter.Wait(ctx, key)
	if j.g.Observer != nil {
		j.g.Observer.LimiterWait(spec.AppID, api, waited)
	}
	if err != nil {
		j.refund(ctx, key)
		var delay *ratelimit.DelayError
		if errors.As(err, &delay) {
			return nil, retryLater(delay.RetryAfter, "rate limit of %s", api)
		}
		return nil, fmt.Errorf("rate limiter: %w", err)
	}

	// A run that lost its lock while it waited must not call: the code's
	// new holder may be calling already. The mark goes first, so that a
	// result stored but lost from Redis is found in the bucket next time.
	if err := j.lease.Check(ctx); err != nil {
		j.refund(ctx, key)
		return nil, retryLater(j.g.pausedRetry(), "%v", err)
	}
	if err := j.g.Catalog.MarkCalled(ctx, j.id, gen); err != nil {
		j.refund(ctx, key)
		return nil, err
	}
	staged := &catalog.Staged{Generation: gen, CreatedAt: j.g.now()}
	switch spec.Kind {
	case wxqr.KindOATemp, wxqr.KindOAPerm:
		req := &wechat.CreateQRCodeRequest{SceneID: spec.SceneID, SceneStr: spec.SceneStr}
		switch {
		case spec.Kind == wxqr.KindOATemp && spec.SceneStr != "":
			req.ActionName, req.ExpireSeconds = wechat.QRStrScene, j.p.ExpireSeconds
		case spec.Kind == wxqr.KindOATemp:
			req.ActionName, req.ExpireSeconds = wechat.QRScene, j.p.ExpireSeconds
		case spec.SceneStr != "":
			req.ActionName = wechat.QRLimitStrScene
		default:
			req.ActionName = wechat.QRLimitScene
		}
		var ticket *wechat.QRCodeTicket
		err = j.observe(api, func() (err error) {
			ticket, err = j.client.CreateQRCode(ctx, req)
			return err
		})
		if err == nil {
			staged.Ticket, staged.URL, staged.ExpireSeconds = ticket.Ticket, ticket.URL, ticket.ExpireSeconds
			if spec.Kind.Temporary() && staged.ExpireSeconds == 0 {
				// An answer without expire_seconds: the code lives as long
				// as asked (WeChat's rule), not for ever.
				staged.ExpireSeconds = j.p.ExpireSeconds
			}
		}
	default:
		var img *wechat.Image
		img, err = j.call(ctx, api, j.miniProgramCall(spec))
		if err == nil {
			if _, cerr := wxqr.CheckImage(img.Data, spec.ImageWidth()); cerr != nil {
				// Nothing whole to keep: the call failed, and the next
				// attempt asks again.
				err = fmt.Errorf("%s: %w: %w", api, cerr, wechat.ErrTransient)
			} else {
				staged.Image, staged.ContentType = img.Data, img.ContentType
			}
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

func (j *generation) miniProgramCall(spec wxqr.Spec) func(context.Context) (*wechat.Image, error) {
	switch spec.Kind {
	case wxqr.KindWxaQRCode:
		return func(ctx context.Context) (*wechat.Image, error) {
			return j.client.CreateWxaQRCode(ctx, &wechat.CreateWxaQRCodeRequest{Path: spec.Path, Width: spec.Width})
		}
	case wxqr.KindWxaCode:
		return func(ctx context.Context) (*wechat.Image, error) {
			return j.client.GetWxaCode(ctx, &wechat.GetWxaCodeRequest{Path: spec.Path, Width: spec.Width})
		}
	default:
		return func(ctx context.Context) (*wechat.Image, error) {
			return j.client.GetWxaCodeUnlimited(ctx, &wechat.GetWxaCodeUnlimitedRequest{
				Scene: spec.SceneStr, Page: spec.Path, Width: spec.Width,
			})
		}
	}
}

// call runs one WeChat call that returns an image, observed.
func (j *generation) call(ctx context.Context, api string, fn func(context.Context) (*wechat.Image, error)) (*wechat.Image, error) {
	var img *wechat.Image
	err := j.observe(api, func() (err error) {
		img, err = fn(ctx)
		return err
	})
	return img, err
}

func (j *generation) observe(api string, fn func() error) error {
	start := j.g.now()
	err := fn()
	if j.g.Observer != nil {
		j.g.Observer.WeChatCall(j.p.Spec.AppID, api, err, j.g.now().Sub(start))
	}
	return err
}

func (j *generation) refund(ctx context.Context, key string) {
	if j.g.Budget == nil {
		return
	}
	// The call may have failed because ctx ended; the refund must still land.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := j.g.Budget.Refund(ctx, key, 1); err != nil {
		j.log.Warn().Err(err).Msg("daily budget refund failed; the budget counts one call too many today")
	}
}

// handleCreateError applies the error policy of a failed create call.
func (j *generation) handleCreateError(ctx context.Context, err error) error {
	spec := j.p.Spec
	switch {
	case errors.Is(err, wechat.ErrTotalQuota):
		return j.pauseTotal(ctx, err)
	case errors.Is(err, wechat.ErrDailyQuota):
		return j.pauseDaily(ctx, 45009, "WeChat's daily quota of "+spec.Kind.API()+" is spent")
	case errors.Is(err, wechat.ErrMinuteLimit):
		now := j.g.now()
		return retryLater(now.Truncate(time.Minute).Add(time.Minute).Sub(now), "WeChat's minute limit (45011)")
	case errors.Is(err, wechat.ErrAccount):
		return j.pauseApp(ctx, err)
	case errors.Is(err, wechat.ErrBadRequest):
		// Retrying cannot help: the task goes to the archive with the
		// reason, for an operator to read.
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	default:
		return err
	}
}

// pauseTotal stops the class for the app, for the whole fleet: the lifetime
// quota is spent and only an operator can decide what happens next. The task
// stays in its (paused) queue.
func (j *generation) pauseTotal(ctx context.Context, cause error) error {
	return j.pause(ctx, pause{
		classes: []wxqr.QuotaClass{j.p.Spec.Kind.Class()},
		code:    45029,
		reason:  "lifetime quota of 100,000 codes spent (45029)",
		advice:  "lifetime quota spent: queue paused for every worker; its tasks are kept. Resume with `enqueue resume` or the web UI once the quota allows",
		cause:   cause,
	})
}

// pauseApp stops every queue of the app: WeChat refuses the account itself
// (a wrong secret, an IP not whitelisted, an API the account may not call),
// so every task would fail the same way, and archiving them all would lose
// campaigns past the archive's cap. An operator fixes the app and resumes.
func (j *generation) pauseApp(ctx context.Context, cause error) error {
	code := 0
	var apiErr *wechat.APIError
	if errors.As(cause, &apiErr) {
		code = apiErr.Code
	}
	return j.pause(ctx, pause{
		classes: j.p.Spec.Kind.AppType().Classes(),
		code:    code,
		reason:  fmt.Sprintf("WeChat refuses the app (errcode %d): fix its configuration, then resume", code),
		advice:  "WeChat refuses the app: queue paused for every worker; its tasks are kept. Fix the app, then `enqueue resume`",
		cause:   cause,
	})
}

// pauseDaily stops every class of the app that calls the same API until the
// next daily reset (or, just after one, for minutes: see dailyPauseEnd),
// when a worker resumes them.
func (j *generation) pauseDaily(ctx context.Context, code int, reason string) error {
	spec := j.p.Spec
	return j.pause(ctx, pause{
		classes:  classesCalling(spec.Kind.AppType(), spec.Kind.API()),
		code:     code,
		reason:   reason,
		advice:   reason + ": queue paused until the daily reset",
		resumeAt: dailyPauseEnd(j.g.now(), j.g.resetLocation(), code != 0),
	})
}

// pause is one decision to stop some classes of the task's app.
type pause struct {
	classes  []wxqr.QuotaClass
	code     int       // WeChat's errcode; 0 when wxqr stops before WeChat says no
	reason   string    // recorded with the pause, for status and the web UI
	advice   string    // the log line, for the operator
	resumeAt time.Time // zero: until an operator resumes
	cause    error
}

// pause pauses every queue of p for the fleet, and has the worker that
// recorded each pause say so once: an error for a pause that waits for an
// operator, a warning for one that ends by itself. The task goes back to its
// queue, which asynq now holds.
func (j *generation) pause(ctx context.Context, p pause) error {
	spec := j.p.Spec
	for _, class := range p.classes {
		queue := QueueName(spec.AppID, class)
		first, err := j.g.Pauses.Pause(ctx, PauseState{
			Queue: queue, AppID: spec.AppID, Class: class, Errcode: p.code,
			Reason: p.reason, PausedAt: j.g.now(), ResumeAt: p.resumeAt,
		})
		if err != nil {
			return fmt.Errorf("pause %s: %w", queue, err)
		}
		if !first {
			continue
		}
		waiting, _ := j.g.Pauses.Waiting(ctx, queue)
		ev := j.log.Error()
		if !p.resumeAt.IsZero() {
			ev = j.log.Warn().Time("resume_at", p.resumeAt)
		}
		ev.Err(p.cause).Int("errcode", p.code).Str("class", string(class)).Str("queue", queue).
			Int("tasks_waiting", waiting).Msg(p.advice)
	}
	return retryLater(j.g.pausedRetry(), "%s", p.reason)
}

// classesCalling lists the quota classes of an app type whose kinds call api.
func classesCalling(t wxqr.AppType, api string) []wxqr.QuotaClass {
	var classes []wxqr.QuotaClass
	for _, k := range wxqr.Kinds {
		if k.AppType() == t && k.API() == api && !slices.Contains(classes, k.Class()) {
			classes = append(classes, k.Class())
		}
	}
	return classes
}

// store puts the image and its metadata in the bucket, records the code in
// the catalog and drops the staged result, in that order: until the catalog
// has it, a retry finds the staged result and spends nothing.
func (j *generation) store(ctx context.Context, prev *wxqr.Record, s *catalog.Staged) (*wxqr.Record, error) {
	spec := j.p.Spec
	info, err := wxqr.CheckImage(s.Image, spec.ImageWidth())
	if err != nil {
		// Never reached: every image is checked where it comes in. Storing
		// it would record a broken code as made.
		return nil, fmt.Errorf("refusing to store the image: %w", err)
	}
	key := spec.Key()
	bucket, objectKey := j.g.Store.Location(key)
	sum := sha256.Sum256(s.Image)
	rec := &wxqr.Record{
		ID:            j.id,
		Spec:          spec,
		Campaign:      j.p.Campaign,
		Ticket:        s.Ticket,
		URL:           s.URL,
		ExpireSeconds: s.ExpireSeconds,
		CreatedAt:     s.CreatedAt.UTC(),
		Generation:    s.Generation,
		Bucket:        bucket,
		ObjectKey:     objectKey,
		ContentType:   info.ContentType,
		Size:          int64(len(s.Image)),
		SHA256:        hex.EncodeToString(sum[:]),
	}
	if prev != nil && rec.Campaign == "" {
		rec.Campaign = prev.Campaign
	}
	if spec.Kind.Temporary() && s.ExpireSeconds > 0 {
		rec.ExpiresAt = rec.CreatedAt.Add(time.Duration(s.ExpireSeconds) * time.Second)
	}
	meta := map[string]string{"wxqr-id": rec.ID, "wxqr-generation": fmt.Sprint(rec.Generation)}
	// A run that lost its lock could overwrite a newer generation's image.
	if err := j.lease.Check(ctx); err != nil {
		return nil, err
	}
	err = j.g.Store.Put(ctx, key, s.Image, rec.ContentType, meta)
	j.notePut(ctx, err)
	if err != nil {
		return nil, fmt.Errorf("store image: %w", err)
	}
	if err := catalog.WriteSidecar(ctx, j.g.Store, rec); err != nil {
		return nil, fmt.Errorf("store metadata: %w", err)
	}
	if err := j.g.Catalog.PutHeld(ctx, rec, j.lease); err != nil {
		return nil, fmt.Errorf("record code: %w", err)
	}
	j.dropStaged(ctx)
	return rec, nil
}

func (g *Generator) pausedRetry() time.Duration {
	if g.PausedRetry > 0 {
		return g.PausedRetry
	}
	return 5 * time.Second
}

func (g *Generator) resetLocation() *time.Location {
	if g.DailyResetLocation != nil {
		return g.DailyResetLocation
	}
	return ratelimit.DefaultLocation()
}
