package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wxqr/wxqr/ratelimit"
)

func ExampleNextReset() {
	loc := ratelimit.DefaultLocation()
	// 17:30 UTC is 01:30 the next morning in Shanghai.
	now := time.Date(2025, 3, 9, 17, 30, 0, 0, time.UTC)
	reset := ratelimit.NextReset(now, loc)
	fmt.Println(reset)
	fmt.Println(reset.Sub(now))
	// Output:
	// 2025-03-11 00:00:00 +0800 CST
	// 22h30m0s
}

func ExampleLocal() {
	l := ratelimit.NewLocal(ratelimit.LocalConfig{
		Limits: func(key string) []ratelimit.Limit {
			if key == "app1:create" {
				return []ratelimit.Limit{{Rate: 1, Per: time.Hour, Burst: 2}}
			}
			return nil // other keys are not limited
		},
		MaxWait: time.Second,
	})
	for range 3 {
		_, err := l.Wait(context.Background(), "app1:create")
		var de *ratelimit.DelayError
		if errors.As(err, &de) {
			// A queue worker would requeue the job to run after de.RetryAfter.
			fmt.Println("limited; retry within the hour:", de.RetryAfter <= time.Hour)
			continue
		}
		fmt.Println("call", err)
	}
	// Output:
	// call <nil>
	// call <nil>
	// limited; retry within the hour: true
}
