package catalog

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr"
)

// ByTicket returns the Official Account code that WeChat gave ticket, in
// this generation or an earlier one whose ticket has not expired yet (see
// Put), so that a scan of a code printed before its regeneration still finds
// it. It returns an error wrapping ErrNotFound for a ticket the catalog does
// not know. The ticket never appears in an error: it is what the code's image
// is fetched with.
func (c *Catalog) ByTicket(ctx context.Context, ticket string) (*wxqr.Record, error) {
	return c.byIndex(ctx, "ticket", c.rdb.Get(ctx, c.keys.ticket(ticket)))
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
