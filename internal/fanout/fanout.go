// Package fanout runs work on the items one producer sends, from a fixed
// number of goroutines, stopping at the first error.
package fanout

import (
	"context"
	"errors"
	"sync"
)

// Run calls work with every item produce sends, from n goroutines, and
// returns when all are done. It stops at the first error. A worker's error
// is returned rather than produce's, which then only says that send was cut
// short.
func Run[T any](ctx context.Context, n int,
	produce func(ctx context.Context, send func(T) error) error,
	work func(ctx context.Context, item T) error,
) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	items := make(chan T, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for item := range items {
				if err := work(ctx, item); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	send := func(item T) error {
		select {
		case items <- item:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	err := produce(ctx, send)
	close(items)
	wg.Wait()
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return err
}
