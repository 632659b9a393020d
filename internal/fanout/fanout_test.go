package fanout

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
)

func TestRun(t *testing.T) {
	produce := func(n int) func(context.Context, func(int) error) error {
		return func(_ context.Context, send func(int) error) error {
			for i := range n {
				if err := send(i); err != nil {
					return err
				}
			}
			return nil
		}
	}

	t.Run("every item once", func(t *testing.T) {
		var sum, calls atomic.Int64
		err := Run(t.Context(), 4, produce(1000), func(_ context.Context, i int) error {
			sum.Add(int64(i))
			calls.Add(1)
			return nil
		})
		if err != nil || calls.Load() != 1000 || sum.Load() != 999*1000/2 {
			t.Errorf("Run = %v after %d calls summing %d; want nil after 1000 summing %d", err, calls.Load(), sum.Load(), 999*1000/2)
		}
	})

	t.Run("a worker's error stops it and is returned", func(t *testing.T) {
		broken := errors.New("broken")
		var calls atomic.Int64
		err := Run(t.Context(), 4, produce(1_000_000), func(_ context.Context, i int) error {
			calls.Add(1)
			if i == 10 {
				return broken
			}
			return nil
		})
		if !errors.Is(err, broken) || calls.Load() == 1_000_000 {
			t.Errorf("Run = %v after %d calls; want the worker's error, early", err, calls.Load())
		}
	})

	t.Run("produce's error is returned", func(t *testing.T) {
		unreadable := errors.New("unreadable")
		err := Run(t.Context(), 4, func(_ context.Context, send func(int) error) error {
			if err := send(1); err != nil {
				return err
			}
			return unreadable
		}, func(context.Context, int) error { return nil })
		if !errors.Is(err, unreadable) {
			t.Errorf("Run = %v, want produce's error", err)
		}
	})
}
