package wechatsim

import (
	"maps"
	"testing"
)

func TestWeChatLimitsAreTheDefaults(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	got := s.limitsLocked("wxany")
	if got.PermCap != 100000 || got.WxaCap != 100000 {
		t.Errorf("PermCap %d, WxaCap %d; want 100000, 100000", got.PermCap, got.WxaCap)
	}
	wantDaily := map[string]int{APICreateQRCode: 100000, APIGetWxaCode: 10000}
	if !maps.Equal(got.Daily, wantDaily) {
		t.Errorf("Daily = %v, want %v", got.Daily, wantDaily)
	}
	wantMinute := map[string]int{APIGetWxaCodeUnlimited: 5000}
	if !maps.Equal(got.PerMinute, wantMinute) {
		t.Errorf("PerMinute = %v, want %v", got.PerMinute, wantMinute)
	}
	if len(got.PerSecond) != 0 {
		t.Errorf("PerSecond = %v, want none", got.PerSecond)
	}
}

func TestLimitsOver(t *testing.T) {
	base := wechatLimits()
	tests := []struct {
		name string
		l    Limits
		want Limits
	}{
		{"zero takes all", Limits{}, base},
		{"fields override", Limits{PermCap: 5, WxaCap: -1}, Limits{PermCap: 5, WxaCap: -1, Daily: base.Daily, PerSecond: base.PerSecond, PerMinute: base.PerMinute}},
		{
			"map keys override one by one; 0 lifts a default",
			Limits{Daily: map[string]int{APIGetWxaCode: 0, APIToken: 2000}, PerSecond: map[string]int{APICreateQRCode: 10}},
			Limits{
				PermCap: base.PermCap, WxaCap: base.WxaCap,
				Daily:     map[string]int{APICreateQRCode: 100000, APIGetWxaCode: 0, APIToken: 2000},
				PerSecond: map[string]int{APICreateQRCode: 10},
				PerMinute: base.PerMinute,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.l.over(base)
			if got.PermCap != tt.want.PermCap || got.WxaCap != tt.want.WxaCap ||
				!maps.Equal(got.Daily, tt.want.Daily) || !maps.Equal(got.PerSecond, tt.want.PerSecond) || !maps.Equal(got.PerMinute, tt.want.PerMinute) {
				t.Errorf("over = %+v, want %+v", got, tt.want)
			}
			got.Daily["mutated"] = 1
			if _, ok := base.Daily["mutated"]; ok {
				t.Errorf("the result shares its Daily map with the defaults")
			}
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"negative TTL", Config{TokenTTL: -1}},
		{"empty appid", Config{Apps: map[string]App{"": {Secret: "s", Type: "oa"}}}},
		{"no secret", Config{Apps: map[string]App{"wx1": {Type: "oa"}}}},
		{"unknown type", Config{Apps: map[string]App{"wx1": {Secret: "s", Type: "game"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.cfg); err == nil {
				t.Errorf("New accepted %+v", tt.cfg)
			}
		})
	}
}
