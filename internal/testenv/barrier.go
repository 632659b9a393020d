package testenv

import (
	"context"
	"sync"
)

// Barrier holds goroutines until n of them wait, then lets those n go and
// starts over: a test server's handler that waits on it has n requests in
// flight at once, for sure, however slow or fast the machine.
type Barrier struct {
	n       int
	mu      sync.Mutex
	waiting int
	release chan struct{}
}

// NewBarrier returns a Barrier for groups of n.
func NewBarrier(n int) *Barrier {
	return &Barrier{n: n, release: make(chan struct{})}
}

// Wait returns once n goroutines wait (this one included), or when ctx
// ends, with its error.
func (b *Barrier) Wait(ctx context.Context) error {
	b.mu.Lock()
	release := b.release
	b.waiting++
	if b.waiting == b.n {
		close(release)
		b.release, b.waiting = make(chan struct{}), 0
	}
	b.mu.Unlock()
	select {
	case <-release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
