package testenv

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// Dump renders every key of rdb's database with its type and content, one
// line per key in key order, members of sets sorted and hashes in field
// order: two databases with the same content render the same text, and a
// test can look through everything a component left. It fails the test on
// a type it does not render (lists, streams).
func Dump(tb testing.TB, rdb *redis.Client) string {
	tb.Helper()
	ctx := tb.Context()
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		tb.Fatalf("testenv: dump: %v", err)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, key := range keys {
		typ, err := rdb.Type(ctx, key).Result()
		if err != nil {
			tb.Fatalf("testenv: dump: %v", err)
		}
		var content any
		switch typ {
		case "string": // HyperLogLogs too
			content, err = rdb.Get(ctx, key).Result()
		case "set":
			var members []string
			members, err = rdb.SMembers(ctx, key).Result()
			slices.Sort(members)
			content = members
		case "zset":
			content, err = rdb.ZRangeWithScores(ctx, key, 0, -1).Result()
		case "hash":
			content, err = rdb.HGetAll(ctx, key).Result() // printed in field order
		default:
			tb.Fatalf("testenv: dump: unexpected %s key %s", typ, key)
		}
		if err != nil {
			tb.Fatalf("testenv: dump: %v", err)
		}
		fmt.Fprintf(&b, "%s %s %v\n", typ, key, content)
	}
	return b.String()
}

// UnreachableRedis returns a client on a loopback port that nothing listens
// on, which fails every command at once (no retries), for tests of what a
// component does when Redis is down. It is closed when the test ends.
func UnreachableRedis(tb testing.TB) *redis.Client {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("testenv: find a free port: %v", err)
	}
	addr := l.Addr().String()
	l.Close()
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialerRetries: 1})
	tb.Cleanup(func() { rdb.Close() })
	return rdb
}
