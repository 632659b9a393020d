package catalog

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Staged is what WeChat returned for one code, kept until the image is in
// storage and the record in the catalog. A worker that got this far and then
// failed (storage down, Redis blip, killed) finds it on retry and reuses it
// instead of spending quota again.
type Staged struct {
	Generation    int    // the generation being made
	Ticket        string // OA codes only
	URL           string // OA codes only: the QR content
	ExpireSeconds int    // temporary codes only
	Image         []byte
	ContentType   string
	CreatedAt     time.Time // when WeChat made the code
}

// Field names of a staged result's hash.
const (
	stagedGeneration    = "generation"
	stagedTicket        = "ticket"
	stagedURL           = "url"
	stagedExpireSeconds = "expire_seconds"
	stagedImage         = "image"
	stagedContentType   = "content_type"
	stagedCreatedAt     = "created_at"
)

// Stage keeps s as the staged result of code id for StagedTTL (default 7
// days), replacing any earlier one. The image is stored as raw bytes.
// With Config.MinReplicas, it fails with ErrNotReplicated unless that many
// replicas acknowledge it in time.
func (c *Catalog) Stage(ctx context.Context, id string, s *Staged) error {
	if id == "" || s == nil {
		return errors.New("catalog: stage: an id and a result are required")
	}
	createdAt := ""
	if !s.CreatedAt.IsZero() {
		createdAt = s.CreatedAt.UTC().Format(time.RFC3339Nano)
	}
	key := c.keys.staged(id)
	err := c.replicatedTx(ctx, key, func(p redis.Pipeliner) error {
		// Every field is written, so nothing of an earlier result survives.
		p.HSet(ctx, key,
			stagedGeneration, s.Generation,
			stagedTicket, s.Ticket,
			stagedURL, s.URL,
			stagedExpireSeconds, s.ExpireSeconds,
			stagedImage, s.Image,
			stagedContentType, s.ContentType,
			stagedCreatedAt, createdAt,
		)
		p.PExpire(ctx, key, c.stagedTTL)
		return nil
	})
	if err != nil {
		return fmt.Errorf("catalog: stage %s: %w", id, err)
	}
	return nil
}

// Staged returns the staged result of code id, or nil (and no error) if
// there is none.
func (c *Catalog) Staged(ctx context.Context, id string) (*Staged, error) {
	fields, err := c.rdb.HGetAll(ctx, c.keys.staged(id)).Result()
	if err != nil {
		return nil, fmt.Errorf("catalog: staged %s: %w", id, err)
	}
	if len(fields) == 0 {
		return nil, nil
	}
	s, err := decodeStaged(fields)
	if err != nil {
		return nil, fmt.Errorf("catalog: staged %s: %w", id, err)
	}
	return s, nil
}

func decodeStaged(fields map[string]string) (*Staged, error) {
	for _, name := range []string{stagedGeneration, stagedTicket, stagedURL, stagedExpireSeconds, stagedImage, stagedContentType, stagedCreatedAt} {
		if _, ok := fields[name]; !ok {
			return nil, fmt.Errorf("field %s is missing", name)
		}
	}
	s := &Staged{
		Ticket:      fields[stagedTicket],
		URL:         fields[stagedURL],
		ContentType: fields[stagedContentType],
	}
	// An empty field is a ticket staged before its image was fetched: no
	// image, whatever Redis gives back for it.
	if img := fields[stagedImage]; img != "" {
		s.Image = []byte(img)
	}
	var err error
	if s.Generation, err = strconv.Atoi(fields[stagedGeneration]); err != nil {
		return nil, fmt.Errorf("field %s: %w", stagedGeneration, err)
	}
	if s.ExpireSeconds, err = strconv.Atoi(fields[stagedExpireSeconds]); err != nil {
		return nil, fmt.Errorf("field %s: %w", stagedExpireSeconds, err)
	}
	if v := fields[stagedCreatedAt]; v != "" {
		if s.CreatedAt, err = time.Parse(time.RFC3339Nano, v); err != nil {
			return nil, fmt.Errorf("field %s: %w", stagedCreatedAt, err)
		}
	}
	return s, nil
}

// DropStaged deletes the staged result of code id and its call mark (see
// MarkCalled), once storage and the catalog have it. Dropping a result that
// does not exist is not an error.
func (c *Catalog) DropStaged(ctx context.Context, id string) error {
	if err := c.rdb.Del(ctx, c.keys.staged(id), c.keys.called(id)).Err(); err != nil {
		return fmt.Errorf("catalog: drop staged %s: %w", id, err)
	}
	return nil
}

//	wxqr:called:{id}  string: the generation an attempt asked WeChat for, with a TTL

func (k keys) called(id string) string { return k.prefix + "called:" + id }

// MarkCalled notes, before a worker asks WeChat for generation gen of code
// id, that it did: a later attempt that finds neither a record nor a staged
// result then knows that the code may exist already (its image and sidecar
// stored, the record lost with a Redis outage or failover) and looks in the
// bucket before it pays again. The mark lives as long as a staged result
// and goes with it (DropStaged). Like the staged result, it waits for the
// replicas (Config.MinReplicas), so that a failover cannot discard it.
func (c *Catalog) MarkCalled(ctx context.Context, id string, gen int) error {
	key := c.keys.called(id)
	err := c.replicatedTx(ctx, key, func(p redis.Pipeliner) error {
		p.Set(ctx, key, gen, c.stagedTTL)
		return nil
	})
	if err != nil {
		return fmt.Errorf("catalog: mark %s called: %w", id, err)
	}
	return nil
}

// Called returns the generation of code id that an attempt asked WeChat
// for since the code was last recorded, or 0.
func (c *Catalog) Called(ctx context.Context, id string) (int, error) {
	gen, err := c.rdb.Get(ctx, c.keys.called(id)).Int()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("catalog: called %s: %w", id, err)
	}
	return gen, nil
}
