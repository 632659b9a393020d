package config

import (
	"strings"
	"testing"
	"time"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/ratelimit"
)

func TestLoadRateLimits(t *testing.T) {
	tests := []struct {
		raw     string
		key     string
		want    ratelimit.Limit
		wantOK  bool
		wantErr string
	}{
		{"", "wx1:qrcode/create", ratelimit.PerSecond(50), true, ""},
		{"", "wx1:wxa/getwxacodeunlimit", ratelimit.PerMinute(4500), true, ""},
		{"qrcode/create=20/s", "wx1:qrcode/create", ratelimit.PerSecond(20), true, ""},
		{"wx2:qrcode/create=5/m,qrcode/create=20/s", "wx2:qrcode/create", ratelimit.PerMinute(5), true, ""},
		{"wx2:qrcode/create=5/m", "wx1:qrcode/create", ratelimit.PerSecond(50), true, ""},
		{"qrcode/create=100/h", "wx1:qrcode/create", ratelimit.Limit{Rate: 100, Per: time.Hour}, true, ""},
		{"", "wx1:cgi-bin/token", ratelimit.Limit{}, false, ""},
		{"qrcode/create", "", ratelimit.Limit{}, false, "entry 1: want [app_id:]api=value"},
		{"qrcode/create=fast", "", ratelimit.Limit{}, false, "want a rate such as 20/s"},
		{"qrcode/create=20/d", "", ratelimit.Limit{}, false, "rate unit must be s, m or h"},
		{"qrcode/make=20/s", "", ratelimit.Limit{}, false, `unknown API "qrcode/make"`},
	}
	for _, tt := range tests {
		t.Run(tt.raw+" "+tt.key, func(t *testing.T) {
			limits, err := LoadRateLimits(func(name string) string {
				if name == EnvRateLimits {
					return tt.raw
				}
				return ""
			})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), EnvRateLimits) {
					t.Fatalf("err = %v, want one naming %s and saying %q", err, EnvRateLimits, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, ok := limits.Lookup(tt.key)
			if ok != tt.wantOK || got != tt.want {
				t.Errorf("Lookup(%q) = %v, %v; want %v, %v", tt.key, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestLoadDailyBudgets(t *testing.T) {
	budgets, err := LoadDailyBudgets(func(string) string { return "wx2:qrcode/create=10, wxa/getwxacode=0" })
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]int64{
		"wx1:qrcode/create":  100000,
		"wx2:qrcode/create":  10,
		"wx1:wxa/getwxacode": 0,
	} {
		if got, ok := budgets.Lookup(key); !ok || got != want {
			t.Errorf("Lookup(%q) = %d, %v; want %d", key, got, ok, want)
		}
	}
	if _, ok := budgets.Lookup("wx1:wxa/getwxacodeunlimit"); ok {
		t.Error("getwxacodeunlimit has a budget, want none (WeChat sets no daily quota)")
	}
	if _, err := LoadDailyBudgets(func(string) string { return "qrcode/create=-1" }); err == nil {
		t.Error("a negative budget was accepted")
	}
}

func TestLoadLifetimeQuotas(t *testing.T) {
	quotas, err := LoadLifetimeQuotas(func(name string) string {
		if name == EnvLifetimeQuotas {
			return "wx2:oa_perm=40000, wxa_limited=90000"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		app    string
		class  wxqr.QuotaClass
		want   int64
		wantOK bool
	}{
		{"wx1", wxqr.ClassOAPerm, 100000, true},
		{"wx2", wxqr.ClassOAPerm, 40000, true},
		{"wx1", wxqr.ClassWxaLimited, 90000, true},
		{"wx2", wxqr.ClassWxaLimited, 90000, true},
		{"wx1", wxqr.ClassOATemp, 0, false},
		{"wx1", wxqr.ClassWxaUnlimited, 0, false},
	} {
		if got, ok := quotas.Cap(tt.app, tt.class); got != tt.want || ok != tt.wantOK {
			t.Errorf("Cap(%s, %s) = %d, %v; want %d, %v", tt.app, tt.class, got, ok, tt.want, tt.wantOK)
		}
	}
	for raw, want := range map[string]string{
		"oa_temp=10":       `unknown lifetime quota class "oa_temp" (want oa_perm, wxa_limited)`,
		"oa_perm=-1":       "want a whole number of codes",
		"qrcode/create=10": "unknown lifetime quota class",
	} {
		_, err := LoadLifetimeQuotas(func(string) string { return raw })
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), EnvLifetimeQuotas) {
			t.Errorf("%q: err = %v, want one naming %s and saying %q", raw, err, EnvLifetimeQuotas, want)
		}
	}
}
