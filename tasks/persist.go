package tasks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
)

// This file keeps what a run makes: staged in Redis as soon as WeChat
// answers, then stored (the image, its record in its metadata) and recorded. recover.go finds
// what an earlier run left behind.

// stageTimeout bounds the attempts to stage a result; ProcessTask keeps it
// clear of the task's deadline.
const stageTimeout = 10 * time.Second

// stage keeps what WeChat returned until storage and the catalog have it,
// trying for up to stageTimeout whatever the task's context says: a result
// that WeChat gave and that is lost here would be paid for twice. If it
// still fails, the run goes on: the image and its record in storage are as
// good a record.
func (j *generation) stage(ctx context.Context, s *catalog.Staged) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stageTimeout)
	defer cancel()
	for wait := 100 * time.Millisecond; ; wait *= 2 {
		err := j.g.Catalog.Stage(ctx, j.p.ID, s)
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

// dropStaged drops the staged result that can no longer be used, unless
// this run lost the code's lock: then the result may be the new holder's,
// and the run stops.
func (j *generation) dropStaged(ctx context.Context) error {
	err := j.g.Catalog.DropStaged(ctx, j.p.ID, j.lease)
	switch {
	case errors.Is(err, catalog.ErrLockLost):
		return wait(j.g.PausedRetry, WaitLocked, "%v", err)
	case err != nil:
		// Harmless: the next result staged replaces it.
		j.log.Warn().Err(err).Msg("could not drop the staged result")
	}
	return nil
}

// store puts the image in the bucket, its record in its metadata, then
// records the code in the catalog, dropping the staged result and releasing the lock in the
// same transaction (Finish): until the catalog has it, a retry finds the
// staged result and spends nothing.
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
		ID:            j.p.ID,
		Spec:          spec,
		Campaign:      j.p.Campaign,
		Name:          j.p.Name,
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
	// A regeneration or a repair asks without a campaign or a name: the
	// code keeps its own.
	if prev != nil && rec.Campaign == "" {
		rec.Campaign = prev.Campaign
	}
	if prev != nil && rec.Name == "" {
		rec.Name = prev.Name
	}
	if spec.Kind.Temporary() && s.ExpireSeconds > 0 {
		rec.ExpiresAt = rec.CreatedAt.Add(time.Duration(s.ExpireSeconds) * time.Second)
	}
	// A run that lost its lock could overwrite a newer generation's image.
	if err := j.lease.Check(ctx); err != nil {
		return nil, err
	}
	// One object: the image, with the record in its metadata.
	err = catalog.PutImage(ctx, j.g.Store, rec, s.Image)
	j.notePut(ctx, err)
	if err != nil {
		return nil, fmt.Errorf("store image: %w", err)
	}
	if err := j.g.Catalog.Finish(ctx, rec, j.lease); err != nil {
		return nil, fmt.Errorf("record code: %w", err)
	}
	return rec, nil
}
