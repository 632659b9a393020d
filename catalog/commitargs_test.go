package catalog

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/redis/go-redis/v9"
)

// A commit declares every key it writes, for a Redis Cluster: a write it
// cannot name the keys of is refused, not sent.
func TestCommitArgsRefusesWritesItCannotDeclare(t *testing.T) {
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:0"}) // never dialled
	defer rdb.Close()
	for name, queue := range map[string]func(p redis.Pipeliner){
		"two keys":       func(p redis.Pipeliner) { p.MSet(ctx, "a", 1, "b", 2) },
		"del of two":     func(p redis.Pipeliner) { p.Del(ctx, "a", "b") },
		"another script": func(p redis.Pipeliner) { p.Eval(ctx, "return 1", []string{"a"}) },
	} {
		p := rdb.Pipeline()
		queue(p)
		if _, _, err := commitArgs(nil, p.Cmds()); err == nil {
			t.Errorf("%s: commitArgs accepted it", name)
		}
	}
	p := rdb.Pipeline()
	p.Set(ctx, "a", "v", 0)
	p.Eval(ctx, incrCounters, []string{"b", "c"}, 1, "f", 1, 1, "g", 2)
	keys, argv, err := commitArgs([]cond{{args: []any{"get", "a"}, reply: ""}}, p.Cmds())
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "a", "b", "c"}; !slices.Equal(keys, want) {
		t.Errorf("keys = %q, want %q", keys, want)
	}
	// One condition (2 arguments, the reply ""), a SET (3 arguments), the
	// counters' script as a function (11 arguments).
	if got, want := fmt.Sprint(argv), "[1 2 get a  3 set a v 11 fn counters 2 b c 1 f 1 1 g 2]"; got != want {
		t.Errorf("argv = %s, want %s", got, want)
	}
}
