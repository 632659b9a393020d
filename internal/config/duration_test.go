package config

import (
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"48h", 48 * time.Hour, false},
		{"2d", 48 * time.Hour, false},
		{"1d12h", 36 * time.Hour, false},
		{"90m", 90 * time.Minute, false},
		{"20s", 20 * time.Second, false},
		{" 3d ", 72 * time.Hour, false},
		{"0s", 0, true},
		{"-1h", 0, true},
		{"0d", 0, true},
		{"xd", 0, true},
		{"2 days", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDuration(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ParseDuration(%q) = %s, %v; want %s (error: %v)", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}
