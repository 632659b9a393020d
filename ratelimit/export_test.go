package ratelimit

import (
	"context"
	"time"
)

// SetSleep replaces how l sleeps between attempts, so a test can see Wait
// start to sleep; f usually ends by calling Sleep.
func SetSleep(l *Limiter, f func(context.Context, time.Duration) error) { l.sleepFn = f }

// Sleep is the sleep both limiters use.
var Sleep = sleep

// LoadShanghai is how DefaultLocation loads its zone.
var LoadShanghai = loadShanghai
