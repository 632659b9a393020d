package config

import "testing"

func TestLoadPrintFont(t *testing.T) {
	for _, font := range []string{"", "/usr/share/fonts/truetype/noto/NotoSansSC-Regular.ttf"} {
		cfg, err := Load(env(map[string]string{EnvPrintFont: font}))
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		if cfg.PrintFont != font {
			t.Errorf("PrintFont = %q, want %q", cfg.PrintFont, font)
		}
	}
}
