package tasks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
)

// adopt finishes a code whose earlier attempt asked WeChat for generation
// target, stored its image with its record, and then lost both the staged
// result and the catalog write (a Redis outage or failover, a worker killed
// at the wrong moment): the stored record is as good, and adopting it costs
// no quota. It
// looks in the bucket only when the call mark says such an attempt was made,
// so a first attempt makes no storage request. It returns nil when there is
// nothing to adopt.
func (j *generation) adopt(ctx context.Context, target int) (*wxqr.Record, error) {
	if j.claim.Called != target {
		return nil, nil
	}
	rec, err := catalog.StoredRecord(ctx, j.g.Store, j.p.ID, j.p.Spec)
	if err != nil {
		return nil, fmt.Errorf("look for a stored result: %w", err)
	}
	if rec == nil || rec.Generation != target {
		return nil, nil
	}
	if rec.Campaign == "" {
		rec.Campaign = j.p.Campaign
	}
	if err := j.g.Catalog.Finish(ctx, rec, j.lease); err != nil {
		return nil, fmt.Errorf("record the stored code: %w", err)
	}
	j.log.Info().Int("generation", rec.Generation).Msg("found the code stored by an earlier attempt; recorded it without calling WeChat")
	return rec, nil
}

// planRepair decides how to mend prev, whose stored image was found missing
// or broken: nothing when it is whole again (or retired); the recorded
// ticket, fetched again through showqrcode, for a permanent or unexpired
// temporary code (no quota); a new generation for an expired temporary code;
// and for a Mini Program code a whole staged image if one is left, else a
// new call.
func (j *generation) planRepair(ctx context.Context, prev *wxqr.Record, now time.Time) (int, *catalog.Staged, error) {
	if prev.Retired {
		return 0, nil, nil
	}
	var bad *catalog.ObjectError
	err := catalog.CheckObject(ctx, j.g.Store, prev)
	switch {
	case err == nil:
		j.log.Info().Msg("the stored image is whole: nothing to repair")
		return 0, nil, nil
	case !errors.As(err, &bad):
		return 0, nil, fmt.Errorf("check the stored image: %w", err)
	}
	j.log.Warn().Err(err).Int("generation", prev.Generation).Msg("repairing the stored image")
	spec := j.p.Spec
	target := prev.Generation
	if spec.Kind.Temporary() && !prev.Valid(now) {
		target++
	}
	staged := j.staged(target, now)
	if staged != nil || target != prev.Generation || spec.Kind.AppType() != wxqr.AppOA {
		return target, staged, nil
	}
	recorded := &catalog.Staged{
		Generation: prev.Generation, Ticket: prev.Ticket, URL: prev.URL,
		ExpireSeconds: prev.ExpireSeconds, CreatedAt: prev.CreatedAt,
	}
	return target, recorded, nil
}
