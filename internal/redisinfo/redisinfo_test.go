package redisinfo_test

import (
	"testing"

	"github.com/wxqr/wxqr/internal/redisinfo"
)

// A piece of a real reply: CRLF line ends, section headers, a value with
// colons and commas in it.
const info = "# Memory\r\nused_memory:1048576\r\nmaxmemory_policy:noeviction\r\n\r\n" +
	"# Replication\r\nrole:master\r\nslave0:ip=127.0.0.1,port=6380,state=online,offset=1,lag=0\r\nmaster_replid:abc\r\n" +
	"# Server\r\nlistener0:name=tcp,bind=*,bind=-::*,port=6379\r\n"

func TestParse(t *testing.T) {
	f := redisinfo.Parse(info)
	for name, want := range map[string]string{
		"used_memory":      "1048576",
		"maxmemory_policy": "noeviction",
		"role":             "master",
		"slave0":           "ip=127.0.0.1,port=6380,state=online,offset=1,lag=0",
		"listener0":        "name=tcp,bind=*,bind=-::*,port=6379",
	} {
		if got := f[name]; got != want {
			t.Errorf("field %s = %q, want %q", name, got, want)
		}
	}
	if len(f) != 6 {
		t.Errorf("%d fields, want 6: %v", len(f), f)
	}
}

func TestInt(t *testing.T) {
	f := redisinfo.Parse(info)
	if n, err := f.Int("used_memory"); err != nil || n != 1048576 {
		t.Errorf("Int(used_memory) = %d, %v; want 1048576", n, err)
	}
	for _, name := range []string{"role", "used_memory_rss"} {
		if _, err := f.Int(name); err == nil {
			t.Errorf("Int(%s) succeeded, want an error", name)
		}
	}
}
