package monitor

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr"
)

// commandLog records the Redis commands a client sends.
type commandLog struct {
	mu   sync.Mutex
	cmds []redis.Cmder
}

func (l *commandLog) DialHook(next redis.DialHook) redis.DialHook { return next }

func (l *commandLog) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		l.add(cmd)
		return next(ctx, cmd)
	}
}

func (l *commandLog) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		l.add(cmds...)
		return next(ctx, cmds)
	}
}

func (l *commandLog) add(cmds ...redis.Cmder) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, cmd := range cmds {
		// A new connection's handshake is the pool's business, not the
		// page's.
		switch cmd.Name() {
		case "hello", "select", "client", "auth":
			continue
		}
		l.cmds = append(l.cmds, cmd)
	}
}

// take returns how many commands were sent since the last take, and how
// many record keys ("wxqr:code:…") they named.
func (l *commandLog) take() (cmds, records int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, cmd := range l.cmds {
		for _, arg := range cmd.Args() {
			if s, ok := arg.(string); ok && strings.HasPrefix(s, "wxqr:code:") {
				records++
			}
		}
	}
	cmds = len(l.cmds)
	l.cmds = nil
	return cmds, records
}

// putCodes records n more temporary codes in campaign, without images:
// enough for pages that count and list.
func (f *fixture) putCodes(t *testing.T, campaign string, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		spec := wxqr.Spec{Kind: wxqr.KindOATemp, AppID: "wx-app-1", SceneStr: fmt.Sprintf("%s-%d", campaign, i)}.Normalize()
		rec := &wxqr.Record{
			ID: spec.ID(), Spec: spec, Campaign: campaign, Generation: 1,
			CreatedAt: time.Now().UTC(), ExpiresAt: time.Now().Add(time.Duration(i%72) * time.Hour).UTC(),
		}
		if err := f.catalog.Put(t.Context(), rec); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPageCostsDoNotGrowWithCodes: the Redis commands of a page view are
// the same at 5 codes a campaign and at 600, and the campaigns page reads
// no record at all.
func TestPageCostsDoNotGrowWithCodes(t *testing.T) {
	f := newFixture(t, nil)
	log := &commandLog{}
	f.rdb.AddHook(log)
	pages := []string{"/campaigns", "/campaigns/a", "/campaigns/b?after=" + strings.Repeat("0", 8)}
	view := func(t *testing.T) (cmds, records []int) {
		t.Helper()
		for _, path := range pages {
			log.take()
			if resp, _ := f.get(t, path); resp.StatusCode != 200 {
				t.Fatalf("GET %s: %d", path, resp.StatusCode)
			}
			c, r := log.take()
			cmds, records = append(cmds, c), append(records, r)
		}
		return cmds, records
	}
	for _, name := range []string{"a", "b"} {
		f.putCodes(t, name, 0, 5)
	}
	smallCmds, smallRecords := view(t)
	for _, name := range []string{"a", "b"} {
		f.putCodes(t, name, 5, 595)
	}
	largeCmds, largeRecords := view(t)
	for i, path := range pages {
		if smallCmds[i] != largeCmds[i] {
			t.Errorf("%s: %d Redis commands at 5 codes a campaign, %d at 600", path, smallCmds[i], largeCmds[i])
		}
		t.Logf("%s: %d commands, %d then %d records", path, largeCmds[i], smallRecords[i], largeRecords[i])
	}
	if smallRecords[0] != 0 || largeRecords[0] != 0 {
		t.Errorf("/campaigns read %d, then %d records; want none", smallRecords[0], largeRecords[0])
	}
	if largeRecords[1] > codesPerPage {
		t.Errorf("a campaign page read %d records, more than a page", largeRecords[1])
	}
}
