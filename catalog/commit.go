package catalog

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// An optimistic transaction in one round trip. A writer decides its writes
// on what it read, then sends the writes and those reads to commitScript,
// which applies the writes only while every read still gives the reply it
// gave: what WATCH, the reads and MULTI/EXEC do in three round trips. The
// worker that made a code read all that recording it depends on when it took
// the code's lock (Claim), so recording the code is one round trip (Finish).

// cond is a read a transaction decided on: a command, and its reply as
// replyOf encodes it.
type cond struct {
	args  []any
	reply string
}

// replyOf encodes a read's reply as commitScript compares it: "" for none
// (nil), "i" and the number for an integer, "s" and the SHA-1 of the value
// for a string (a record goes back to Redis as 41 bytes, not whole).
func replyOf(v any, err error) (string, error) {
	switch {
	case errors.Is(err, redis.Nil):
		return "", nil
	case err != nil:
		return "", err
	}
	switch v := v.(type) {
	case int64:
		return "i" + strconv.FormatInt(v, 10), nil
	case string:
		return stringReply(v), nil
	}
	return "", fmt.Errorf("a read replied %T, which a condition cannot hold", v)
}

// stringReply is replyOf of the string v.
func stringReply(v string) string {
	sum := sha1.Sum([]byte(v))
	return "s" + hex.EncodeToString(sum[:])
}

// boolReply is replyOf of a command that answers 1 or 0 (SISMEMBER).
func boolReply(b bool) string {
	if b {
		return "i1"
	}
	return "i0"
}

// commitFns are the scripts that a commit's writes may evaluate (p.Eval on
// the queued writes): commitScript runs them as functions of their own KEYS
// and ARGV, since a script cannot call EVAL.
var commitFns = []struct{ name, src string }{
	{"counters", incrCounters},
	{"drop", dropHeldScript},
	{"leave", leaveIndexScript},
}

// commitScript applies writes under conditions. KEYS: every key it touches,
// declared for a Redis Cluster (one slot: see Claim). ARGV: the number of
// conditions; each condition as its argument count n, the command and its
// arguments (n in all), and the reply it must give (replyOf); then each
// write as its argument count n and the command and its arguments, or for a
// function of commitFns "fn", its name, its key count, its keys and its
// arguments. It returns 0 when it applied the writes, or the position of
// the first condition that failed, and then writes nothing.
var commitScript = redis.NewScript(commitSource())

func commitSource() string {
	var b strings.Builder
	b.WriteString("local fns = {}\n")
	for _, fn := range commitFns {
		fmt.Fprintf(&b, "fns[%q] = function(KEYS, ARGV)\n%s\nend\n", fn.name, fn.src)
	}
	b.WriteString(`
local a = 2
for i = 1, tonumber(ARGV[1]) do
	local n = tonumber(ARGV[a])
	local r = redis.call(unpack(ARGV, a + 1, a + n))
	local got = ""
	if type(r) == "number" then
		got = "i" .. r
	elseif r then
		got = "s" .. redis.sha1hex(r)
	end
	if got ~= ARGV[a + n + 1] then
		return i
	end
	a = a + n + 2
end
while a <= #ARGV do
	local n = tonumber(ARGV[a])
	if ARGV[a + 1] == "fn" then
		local nkeys = tonumber(ARGV[a + 3])
		fns[ARGV[a + 2]]({unpack(ARGV, a + 4, a + 3 + nkeys)}, {unpack(ARGV, a + 4 + nkeys, a + n)})
	else
		redis.call(unpack(ARGV, a + 1, a + n))
	end
	a = a + n + 1
end
return 0`)
	return b.String()
}

// singleKey are the commands a transaction may write with, each with one
// key, its first argument: the keys of every write are declared.
var singleKey = map[string]bool{
	"set": true, "del": true, "zadd": true, "zrem": true,
	"sadd": true, "srem": true, "hset": true, "hdel": true,
}

// commitArgs returns the keys and arguments of commitScript for conds and
// writes, or an error naming a write it cannot send.
func commitArgs(conds []cond, writes []redis.Cmder) (keys []string, argv []any, err error) {
	argv = append(argv, len(conds))
	for _, c := range conds {
		keys = append(keys, c.args[1].(string))
		argv = append(append(append(argv, len(c.args)), c.args...), c.reply)
	}
	for _, cmd := range writes {
		args := cmd.Args()
		name := strings.ToLower(cmd.Name())
		switch {
		case name == "eval":
			fn, nkeys := commitFnOf(args[1]), args[2].(int)
			if fn == "" {
				return nil, nil, errors.New("catalog: commit: a write evaluates a script that is not a commit function")
			}
			for _, k := range args[3 : 3+nkeys] {
				keys = append(keys, k.(string))
			}
			argv = append(append(argv, len(args), "fn", fn), args[2:]...)
		case singleKey[name] && !(name == "del" && len(args) > 2):
			keys = append(keys, args[1].(string))
			argv = append(append(argv, len(args)), args...)
		default:
			return nil, nil, fmt.Errorf("catalog: commit: cannot send %s in a commit", name)
		}
	}
	return keys, argv, nil
}

// commitFnOf returns the name in commitFns of the script src, or "".
func commitFnOf(src any) string {
	for _, fn := range commitFns {
		if fn.src == src {
			return fn.name
		}
	}
	return ""
}

// errConflict is a commit whose condition failed: another writer changed
// what it read.
var errConflict = errors.New("catalog: what the write was decided on changed")

// commit sends conds and the writes queued on p (a pipeline that is never
// run) in one round trip (with Config.MinReplicas, followed by WAIT on the
// same connection). It returns
// whether the writes were applied; errConflict with the position of the
// failed condition (1-based) when they were not; and, with written true,
// ErrNotReplicated when the replicas did not acknowledge them in time.
func (c *Catalog) commit(ctx context.Context, conds []cond, p redis.Pipeliner) (written bool, failed int, err error) {
	keys, argv, err := commitArgs(conds, p.Cmds())
	if err != nil {
		return false, 0, err
	}
	err = c.replicated(ctx, keys[0], func(r redis.Cmdable) error {
		n, err := commitScript.Run(ctx, r, keys, argv...).Int()
		if err != nil {
			return err
		}
		if n != 0 {
			failed = n
			return errConflict
		}
		written = true
		return nil
	})
	return written, failed, err
}
