package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/wxqr/wxqr/internal/exitcode"
)

func TestLoadConfigPrintFont(t *testing.T) {
	env := map[string]string{"WXQR_APPS": "wxa:" + testAppSecret + ":oa", "WXQR_PRINT_FONT": "/nonexistent/font.ttf"}
	getenv := func(k string) string { return env[k] }

	_, err := loadConfig(nil, getenv, &bytes.Buffer{})
	if exitcode.Of(err) != exitcode.Usage || !strings.Contains(err.Error(), "WXQR_PRINT_FONT") {
		t.Errorf("loadConfig with a missing font = %v, want a usage error naming WXQR_PRINT_FONT", err)
	}

	// Without the monitor nothing prints: the font is not read.
	env["WXQR_MONITOR_ADDR"] = "off"
	if _, err := loadConfig(nil, getenv, &bytes.Buffer{}); err != nil {
		t.Errorf("loadConfig with the monitor off: %v", err)
	}
}
