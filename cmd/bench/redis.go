package main

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wxqr/wxqr/internal/redisinfo"
)

// keySample is how many keys of a kind MEMORY USAGE weighs.
const keySample = 50

// minGroup is the fewest keys that make a kind: fewer are shown one by
// one (a few collections that share a prefix are not one kind).
const minGroup = 10

// keyKind is what one kind of Redis key costs.
type keyKind struct {
	pattern string // the keys with their last part as "*", or one key
	keys    int
	bytes   int64         // estimated: the sample's mean times keys
	ttl     time.Duration // of the first key; negative: none
}

// usedMemory is Redis's INFO memory used_memory.
func (e *env) usedMemory(ctx context.Context) (int64, error) {
	info, err := e.rdb.Info(ctx, "memory").Result()
	if err != nil {
		return 0, err
	}
	return redisinfo.Parse(info).Int("used_memory")
}

// redisStats are Redis's counters of traffic (INFO stats).
type redisStats struct {
	commands int64 // total_commands_processed
	bytes    int64 // total_net_input_bytes + total_net_output_bytes
}

func (s redisStats) minus(o redisStats) redisStats {
	return redisStats{commands: s.commands - o.commands, bytes: s.bytes - o.bytes}
}

// redisStats reads Redis's traffic counters. The reading itself is one
// command and a few KB, which the figures per code do not notice.
func (e *env) redisStats(ctx context.Context) (redisStats, error) {
	info, err := e.rdb.Info(ctx, "stats").Result()
	if err != nil {
		return redisStats{}, err
	}
	f := redisinfo.Parse(info)
	var s redisStats
	if s.commands, err = f.Int("total_commands_processed"); err != nil {
		return redisStats{}, err
	}
	for _, name := range []string{"total_net_input_bytes", "total_net_output_bytes"} {
		n, err := f.Int(name)
		if err != nil {
			return redisStats{}, err
		}
		s.bytes += n
	}
	return s, nil
}

// keyKinds groups every key by its pattern (the key with the part after
// its last ":" as "*", for the keys of one code; a group of fewer than
// minGroup keys is shown key by key) and weighs a sample of each group with MEMORY USAGE
// (SAMPLES 0: every element of a collection), largest first, with the TTL
// of its first key.
func (e *env) keyKinds(ctx context.Context) ([]keyKind, error) {
	groups := map[string][]string{}
	iter := e.rdb.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		pattern := key
		if i := strings.LastIndexByte(key, ':'); i >= 0 {
			pattern = key[:i+1] + "*"
		}
		groups[pattern] = append(groups[pattern], key)
	}
	if err := iter.Err(); err != nil {
		return nil, err
	}
	kindsOf := map[string][]string{}
	for pattern, keys := range groups {
		if len(keys) >= minGroup {
			kindsOf[pattern] = keys
			continue
		}
		for _, key := range keys {
			kindsOf[key] = []string{key}
		}
	}
	var kinds []keyKind
	for pattern, keys := range kindsOf {
		slices.Sort(keys)
		sample := keys[:min(len(keys), keySample)]
		var sum int64
		for _, key := range sample {
			n, err := e.rdb.MemoryUsage(ctx, key, 0).Result()
			if err != nil {
				return nil, fmt.Errorf("MEMORY USAGE %s: %w", key, err)
			}
			sum += n
		}
		ttl, err := e.rdb.PTTL(ctx, keys[0]).Result()
		if err != nil {
			return nil, fmt.Errorf("PTTL %s: %w", keys[0], err)
		}
		kinds = append(kinds, keyKind{pattern: pattern, keys: len(keys), bytes: sum * int64(len(keys)) / int64(len(sample)), ttl: ttl})
	}
	slices.SortFunc(kinds, func(a, b keyKind) int {
		return cmp.Or(cmp.Compare(b.bytes, a.bytes), strings.Compare(a.pattern, b.pattern))
	})
	return kinds, nil
}
