package testenv

import "testing"

func TestInSync(t *testing.T) {
	tests := []struct {
		name string
		info string
		want bool
	}{
		{"replica online", "# Replication\r\nrole:master\r\nconnected_slaves:1\r\nslave0:ip=127.0.0.1,port=6380,state=online,offset=9,lag=0\r\nmaster_repl_offset:9\r\n", true},
		{"replica a second behind", "role:master\r\nslave0:ip=127.0.0.1,port=6380,state=online,offset=9,lag=1\r\n", true},
		{"replica lagging", "role:master\r\nslave0:ip=127.0.0.1,port=6380,state=online,offset=9,lag=5\r\n", false},
		{"replica syncing", "role:master\r\nslave0:ip=127.0.0.1,port=6380,state=wait_bgsave,offset=0,lag=0\r\n", false},
		{"no replica", "role:master\r\nconnected_slaves:0\r\nslave_read_repl_offset:1\r\n", false},
		{"a replica itself", "role:slave\r\nmaster_host:127.0.0.1\r\nslave_repl_offset:9\r\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := inSync(tt.info); got != tt.want {
				t.Errorf("inSync() = %v, want %v", got, tt.want)
			}
		})
	}
}
