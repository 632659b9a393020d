package tasks

// growStack grows the stack of the calling goroutine to hold a run's
// deepest calls, while it is still shallow. asynq runs every task in a new
// goroutine, whose stack starts small; the AWS SDK's middleware and the
// HTTP and Redis clients under a run then grew it three times or more per
// task, each time copying the stack and walking every frame on it, which
// cost 8% of the worker's CPU. Grown here, the stack is copied once, with a
// few frames on it. The stack is freed with the goroutine at the task's end.
//
//go:noinline
func growStack() {
	var pad [runStackSize]byte
	use(pad[:])
}

// runStackSize is about the stack a run needs.
const runStackSize = 64 << 10

// use keeps pad from being optimised away.
//
//go:noinline
func use(pad []byte) { _ = pad[len(pad)-1] }
