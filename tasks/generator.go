package tasks

import (
	"context"
	"errors"
	"fmt"
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
	wechat.CodeMaker
	ShowQRCode(ctx context.Context, ticket string) (*wechat.Image, error)
}

// Catalog is the part of the catalog the generator uses.
type Catalog interface {
	// Claim locks the code and reads, in the same round trip, all that a
	// run decides on.
	Claim(ctx context.Context, id string, ttl time.Duration, campaign string) (*catalog.Claim, error)
	Stage(ctx context.Context, id string, s *catalog.Staged) error
	// DropStaged, NoteRefused and MarkCalled write only while lease holds
	// the lock.
	DropStaged(ctx context.Context, id string, lease *catalog.Lease) error
	NoteRefused(ctx context.Context, id string, gen int, at time.Time, lease *catalog.Lease) (time.Time, error)
	MarkCalled(ctx context.Context, id string, gen int, lease *catalog.Lease) error
	// Finish records the code, drops its staged result and releases the
	// lock, in one transaction.
	Finish(ctx context.Context, rec *wxqr.Record, lease *catalog.Lease) error
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

// GeneratorConfig is what a Generator works with. Clients, Catalog, Store,
// Limiter and Pauses are required; every other field is optional and says
// its default.
type GeneratorConfig struct {
	Clients map[string]WeChat // by app id; at least one
	Catalog Catalog
	Store   storage.Store
	Limiter Limiter
	// Budget is wxqr's daily budget per app × API. Default: none.
	Budget Budget
	Pauses PauseBoard
	// Observer is told what the generator does, for metrics. Default: none.
	Observer Observer
	// Notices is told of the pauses this worker records first and of each
	// code made, for the operators' notices. Default: none.
	Notices Notices
	// Logger is where the generator logs. Default: zerolog's zero Logger,
	// which logs nothing.
	Logger zerolog.Logger
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

// withDefaults returns c with every unset optional field at its default.
func (c GeneratorConfig) withDefaults() GeneratorConfig {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.PausedRetry <= 0 {
		c.PausedRetry = 5 * time.Second
	}
	if c.DailyResetLocation == nil {
		c.DailyResetLocation = ratelimit.DefaultLocation()
	}
	return c
}

// validate reports the required fields c lacks.
func (c GeneratorConfig) validate() error {
	var errs []error
	if len(c.Clients) == 0 {
		errs = append(errs, errors.New("no WeChat client (Clients)"))
	}
	for app, client := range c.Clients {
		if client == nil {
			errs = append(errs, fmt.Errorf("app %s has a nil WeChat client", app))
		}
	}
	for _, f := range []struct {
		name    string
		missing bool
	}{
		{"Catalog", c.Catalog == nil}, {"Store", c.Store == nil},
		{"Limiter", c.Limiter == nil}, {"Pauses", c.Pauses == nil},
	} {
		if f.missing {
			errs = append(errs, fmt.Errorf("no %s", f.name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("generator: %w", err)
	}
	return nil
}

// Generator runs TypeGenerate tasks: it makes one code, at most once per
// generation whatever fails and however often the task runs.
//
// The steps, each there for a reason:
//  1. the per-code lock: one run at a time per code, its token checked
//     before every call that spends quota and every write (a run that lost
//     it stops);
//  2. catalog: a code already made and still valid is done, with no call;
//  3. staged result: what WeChat returned on an earlier attempt is reused,
//     so a retry after a storage or Redis failure spends no quota;
//  4. the bucket: when an earlier attempt asked WeChat and left no staged
//     result, its image and record may be stored already: adopted, no call;
//  5. pause, budget and rate limiter: calls WeChat would refuse are not made;
//  6. WeChat, then the result is staged at once;
//  7. the image is checked whole, then storage (one object: the image, its
//     record in its metadata), then the catalog, in one transaction with the
//     staged result's removal and the lock's release.
//
// Steps 1 to 4 read Redis once (Catalog.Claim). Only a Mini Program code's
// image is staged: an Official Account code stages its ticket, and a retry
// fetches the image again with it (showqrcode spends no quota).
//
// Each run ends with an outcome (outcome.go). The run is in run.go, step 5
// in admission.go and guard.go, the error policy in policy.go, steps 3, 4
// and 7 in persist.go and recover.go.
type Generator struct {
	cfg GeneratorConfig
}

// NewGenerator returns the Generator of cfg, its defaults filled in, or an
// error naming each required field cfg lacks.
func NewGenerator(cfg GeneratorConfig) (*Generator, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Generator{cfg: cfg}, nil
}

var _ asynq.Handler = (*Generator)(nil)

// generation is one run of one task.
type generation struct {
	g      *GeneratorConfig
	p      GeneratePayload // decoded: its ID is checked against its spec
	client WeChat
	log    zerolog.Logger
	// lease holds the code's lock for the run; checked before every WeChat
	// call that spends quota and every write.
	lease *catalog.Lease
	// claim is what the catalog held for the code when the lock was taken.
	claim *catalog.Claim
	// unstaged is set when the latest result could not be staged: it then
	// lives only in this run until storage has it.
	unstaged bool
}
