package catalog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr"
)

// Scan is how an Official Account scan event names its code: by the app,
// the scene and, usually, the ticket.
type Scan struct {
	AppID string
	// Scene is the scene as WeChat pushes it: a scene_id in decimal, or the
	// scene_str.
	Scene string
	// Ticket is the scanned code's ticket, if the event has one.
	Ticket string
	// At is when the code was scanned: an earlier generation's ticket finds
	// the code until a day after that generation expired.
	At time.Time
}

// ByScan returns the Official Account code that a scan names. Of the app's
// codes with the scene (temporary or permanent; a numeric scene may be a
// scene_id or a scene_str), it is the one whose ticket it is, in this
// generation or an earlier one still scannable at s.At (the records keep
// them, see Put), so that a code printed before its regeneration still
// finds it; without a ticket, the one code with the scene. It returns an
// error wrapping ErrNotFound when the app has no such code, or several
// with the scene and no ticket tells them apart. The ticket never appears
// in an error: it is what the code's image is fetched with.
//
// It reads the scene's codes in one round trip, and no index: a ticket
// index would cost more than a record's worth of Redis per code.
func (c *Catalog) ByScan(ctx context.Context, s Scan) (*wxqr.Record, error) {
	specs := wxqr.SceneSpecs(s.AppID, s.Scene)
	ids := make([]string, len(specs))
	codeKeys := make([]string, len(specs))
	for i, spec := range specs {
		ids[i] = spec.ID()
		codeKeys[i] = c.keys.code(ids[i])
	}
	vals, err := c.rdb.MGet(ctx, codeKeys...).Result()
	if err != nil {
		return nil, fmt.Errorf("catalog: find by scan: %w", err)
	}
	var found *wxqr.Record
	for i, v := range vals {
		data, ok := v.(string)
		if !ok {
			continue
		}
		value, err := decodeStored(ids[i], []byte(data))
		if err != nil {
			return nil, err
		}
		switch {
		case s.Ticket == "" && found != nil:
			return nil, fmt.Errorf("catalog: find by scan: several codes with the scene: %w", ErrNotFound)
		case s.Ticket == "" || value.knows(s.Ticket, s.At):
			found = value.rec
		}
	}
	if found == nil && s.Ticket != "" {
		return c.byLegacyTicket(ctx, s, codeKeys)
	}
	if found == nil {
		return nil, fmt.Errorf("catalog: find by scan: %w", ErrNotFound)
	}
	return found, nil
}

// byLegacyTicket finds the code of a ticket that only the ticket index of
// a catalog written before the records kept their earlier tickets knows:
// the keys of temporary codes expire a day after their code, so it serves
// scans of codes regenerated before the upgrade, for as long as those can be
// scanned. (A permanent code's key never expires; its record knows its
// ticket, and the next write of the record deletes the key.)
func (c *Catalog) byLegacyTicket(ctx context.Context, s Scan, codeKeys []string) (*wxqr.Record, error) {
	id, err := c.rdb.Get(ctx, c.keys.legacyTicket(s.Ticket)).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, fmt.Errorf("catalog: find by scan: %w", ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("catalog: find by scan: %w", err)
	case !slices.Contains(codeKeys, c.keys.code(id)):
		return nil, fmt.Errorf("catalog: find by scan: the ticket's code has another scene: %w", ErrNotFound)
	}
	return c.Get(ctx, id)
}

// ByEntry returns the Mini Program code of app whose entry key (see
// wxqr.Spec.EntryKey) is entry, or an error wrapping ErrNotFound. Of codes
// that share an entry key, it returns the one put last.
func (c *Catalog) ByEntry(ctx context.Context, appID, entry string) (*wxqr.Record, error) {
	return c.byIndex(ctx, "entry", c.rdb.HGet(ctx, c.keys.entries(appID), entry))
}

// byIndex returns the record whose id an index lookup found.
func (c *Catalog) byIndex(ctx context.Context, index string, lookup *redis.StringCmd) (*wxqr.Record, error) {
	id, err := lookup.Result()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("catalog: find by %s: %w", index, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("catalog: find by %s: %w", index, err)
	}
	return c.Get(ctx, id)
}
