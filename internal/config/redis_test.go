package config

import (
	"crypto/tls"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

func TestParseRedisURL(t *testing.T) {
	tests := []struct {
		name        string
		in          string
		wantDisplay string
		wantAsynq   asynq.RedisConnOpt
	}{
		{
			name:        "default",
			in:          DefaultRedisURL,
			wantDisplay: DefaultRedisURL,
			wantAsynq:   asynq.RedisClientOpt{Network: "tcp", Addr: "127.0.0.1:6379"},
		},
		{
			name:        "password, db and options",
			in:          "redis://:s3cr3t@redis.internal:6380/4?dial_timeout=2s&pool_size=50",
			wantDisplay: "redis://:xxxxx@redis.internal:6380/4",
			wantAsynq: asynq.RedisClientOpt{Network: "tcp", Addr: "redis.internal:6380", Password: "s3cr3t", DB: 4,
				DialTimeout: 2 * time.Second, PoolSize: 50},
		},
		{
			name:        "acl user, default port",
			in:          "redis://wxqr:s3cr3t@redis.internal",
			wantDisplay: "redis://wxqr:xxxxx@redis.internal",
			wantAsynq:   asynq.RedisClientOpt{Network: "tcp", Addr: "redis.internal:6379", Username: "wxqr", Password: "s3cr3t"},
		},
		{
			name:        "sentinel",
			in:          "redis-sentinel://:s3cr3t@s1:26379,s2:26379,s3:26379/mymaster/2?sentinel_password=s3cr3t-sentinel",
			wantDisplay: "redis-sentinel://:xxxxx@s1:26379,s2:26379,s3:26379/mymaster/2",
			wantAsynq: asynq.RedisFailoverClientOpt{MasterName: "mymaster", SentinelAddrs: []string{"s1:26379", "s2:26379", "s3:26379"},
				SentinelPassword: "s3cr3t-sentinel", Password: "s3cr3t", DB: 2},
		},
		{
			name:        "sentinel without db",
			in:          "redis-sentinel://s1:26379/mymaster",
			wantDisplay: "redis-sentinel://s1:26379/mymaster",
			wantAsynq:   asynq.RedisFailoverClientOpt{MasterName: "mymaster", SentinelAddrs: []string{"s1:26379"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRedisURL(tt.in)
			if err != nil {
				t.Fatalf("ParseRedisURL: %v", err)
			}
			if got := r.String(); got != tt.wantDisplay {
				t.Errorf("String() = %q, want %q", got, tt.wantDisplay)
			}
			if got := fmt.Sprintf("%#v|%+v|%d", r, r, r); strings.Contains(got, "s3cr3t") {
				t.Errorf("formatted Redis shows the password: %s", got)
			}
			got := r.AsynqConnOpt()
			if !sameAsynqOpt(got, tt.wantAsynq) {
				t.Errorf("AsynqConnOpt() = %#v, want %#v", got, tt.wantAsynq)
			}
			rdb := r.NewClient()
			t.Cleanup(func() { rdb.Close() })
			if _, ok := rdb.(*redis.Client); !ok {
				t.Errorf("NewClient() is a %T, want a *redis.Client (plain or failover)", rdb)
			}
		})
	}
}

func sameAsynqOpt(a, b asynq.RedisConnOpt) bool {
	switch a := a.(type) {
	case asynq.RedisClientOpt:
		b, ok := b.(asynq.RedisClientOpt)
		return ok && a == b
	case asynq.RedisFailoverClientOpt:
		b, ok := b.(asynq.RedisFailoverClientOpt)
		return ok && slices.Equal(a.SentinelAddrs, b.SentinelAddrs) && a.MasterName == b.MasterName &&
			a.SentinelUsername == b.SentinelUsername && a.SentinelPassword == b.SentinelPassword &&
			a.Username == b.Username && a.Password == b.Password && a.DB == b.DB && a.TLSConfig == b.TLSConfig
	case asynq.RedisClusterClientOpt:
		b, ok := b.(asynq.RedisClusterClientOpt)
		return ok && slices.Equal(a.Addrs, b.Addrs) && a.Username == b.Username && a.Password == b.Password &&
			a.DialTimeout == b.DialTimeout && a.ReadTimeout == b.ReadTimeout && a.WriteTimeout == b.WriteTimeout &&
			(a.TLSConfig == nil) == (b.TLSConfig == nil)
	}
	return false
}

func TestParseRedisURLCluster(t *testing.T) {
	tests := []struct {
		name        string
		in          string
		wantDisplay string
		wantPrefix  string
		wantAsynq   asynq.RedisClusterClientOpt
	}{
		{
			name:        "nodes, password and options",
			in:          "redis-cluster://wxqr:s3cr3t@n1:7000,n2:7001,n3:7002/?dial_timeout=2s&read_timeout=4s",
			wantDisplay: "redis-cluster://wxqr:xxxxx@n1:7000,n2:7001,n3:7002/",
			wantPrefix:  DefaultClusterKeyPrefix,
			wantAsynq: asynq.RedisClusterClientOpt{Addrs: []string{"n1:7000", "n2:7001", "n3:7002"}, Username: "wxqr",
				Password: "s3cr3t", DialTimeout: 2 * time.Second, ReadTimeout: 4 * time.Second},
		},
		{
			name:        "one node, own prefix",
			in:          "redis-cluster://n1:7000?key_prefix=%7Bbrand%7D:",
			wantDisplay: "redis-cluster://n1:7000",
			wantPrefix:  "{brand}:",
			wantAsynq:   asynq.RedisClusterClientOpt{Addrs: []string{"n1:7000"}},
		},
		{
			name:        "tls",
			in:          "rediss-cluster://:s3cr3t@cache.example.com:6380",
			wantDisplay: "rediss-cluster://:xxxxx@cache.example.com:6380",
			wantPrefix:  DefaultClusterKeyPrefix,
			wantAsynq:   asynq.RedisClusterClientOpt{Addrs: []string{"cache.example.com:6380"}, Password: "s3cr3t", TLSConfig: &tls.Config{}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRedisURL(tt.in)
			if err != nil {
				t.Fatalf("ParseRedisURL: %v", err)
			}
			if got := r.String(); got != tt.wantDisplay {
				t.Errorf("String() = %q, want %q", got, tt.wantDisplay)
			}
			if got := fmt.Sprintf("%#v|%+v|%d", r, r, r); strings.Contains(got, "s3cr3t") {
				t.Errorf("formatted Redis shows the password: %s", got)
			}
			if !r.Cluster() || r.Sentinel() {
				t.Errorf("Cluster() = %t, Sentinel() = %t, want a cluster", r.Cluster(), r.Sentinel())
			}
			if got := r.KeyPrefix(); got != tt.wantPrefix {
				t.Errorf("KeyPrefix() = %q, want %q", got, tt.wantPrefix)
			}
			if got := r.AsynqConnOpt(); !sameAsynqOpt(got, tt.wantAsynq) {
				t.Errorf("AsynqConnOpt() = %#v, want %#v", got, tt.wantAsynq)
			}
			rdb := r.NewClient()
			t.Cleanup(func() { rdb.Close() })
			cc, ok := rdb.(*redis.ClusterClient)
			if !ok {
				t.Fatalf("NewClient() is a %T, want a *redis.ClusterClient", rdb)
			}
			if got := cc.Options().Addrs; !slices.Equal(got, tt.wantAsynq.Addrs) {
				t.Errorf("client's nodes = %v, want %v", got, tt.wantAsynq.Addrs)
			}
			if (cc.Options().TLSConfig == nil) != (tt.wantAsynq.TLSConfig == nil) {
				t.Errorf("client's TLS config = %v, want TLS %t", cc.Options().TLSConfig, tt.wantAsynq.TLSConfig != nil)
			}
		})
	}
	t.Run("single servers keep the plain prefix", func(t *testing.T) {
		for _, in := range []string{DefaultRedisURL, "redis-sentinel://s1:26379/m"} {
			r, err := ParseRedisURL(in)
			if err != nil {
				t.Fatalf("ParseRedisURL(%q): %v", in, err)
			}
			if r.Cluster() || r.KeyPrefix() != DefaultKeyPrefix {
				t.Errorf("%s: Cluster() = %t, KeyPrefix() = %q, want false and %q", in, r.Cluster(), r.KeyPrefix(), DefaultKeyPrefix)
			}
		}
	})
}

func TestParseRedisURLTLS(t *testing.T) {
	r, err := ParseRedisURL("rediss://:s3cr3t@cache.example.com:6380/1")
	if err != nil {
		t.Fatalf("ParseRedisURL: %v", err)
	}
	opt, ok := r.AsynqConnOpt().(asynq.RedisClientOpt)
	if !ok {
		t.Fatalf("AsynqConnOpt() is a %T, want asynq.RedisClientOpt", r.AsynqConnOpt())
	}
	if opt.TLSConfig == nil || opt.TLSConfig.ServerName != "cache.example.com" {
		t.Errorf("TLSConfig = %+v, want one for server cache.example.com", opt.TLSConfig)
	}
	rdb := r.NewClient()
	t.Cleanup(func() { rdb.Close() })
	if rdb.(*redis.Client).Options().TLSConfig == nil {
		t.Error("go-redis client has no TLS config")
	}
}

func TestParseRedisURLErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"scheme", "http://:s3cr3t@h:1", "scheme"},
		{"unparsable", "redis://:s3cr3t@h:port/0", "not a valid URL"},
		{"bad escape in password", "redis://:s3cr3t%zz@h/0", "not a valid URL"},
		{"bad db", "redis://:s3cr3t@h:6379/zero", "database"},
		{"unknown option", "redis://:s3cr3t@h:6379/0?colour=blue", "colour"},
		{"sentinel without master", "redis-sentinel://:s3cr3t@s1:26379", "mastername"},
		{"sentinel without port", "redis-sentinel://:s3cr3t@s1/m", "host:port"},
		{"sentinel bad db", "redis-sentinel://:s3cr3t@s1:26379/m/x", "database"},
		{"sentinel option", "redis-sentinel://:s3cr3t@s1:26379/m?master=m", "master"},
		{"cluster without port", "redis-cluster://:s3cr3t@n1,n2:7001", "host:port"},
		{"cluster db", "redis-cluster://:s3cr3t@n1:7000/2", "database"},
		{"cluster prefix without tag", "redis-cluster://:s3cr3t@n1:7000?key_prefix=wxqr:", "hash tag"},
		{"cluster prefix empty tag", "redis-cluster://:s3cr3t@n1:7000?key_prefix=%7B%7D:", "hash tag"},
		{"cluster addr option", "redis-cluster://:s3cr3t@n1:7000?addr=n2:7001", "addr"},
		{"cluster unknown option", "redis-cluster://:s3cr3t@n1:7000?colour=blue", "colour"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRedisURL(tt.in)
			if err == nil {
				t.Fatalf("ParseRedisURL = %v, want an error", r)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}
