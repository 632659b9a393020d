package main

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/storage"
)

func TestPrintHelp(t *testing.T) {
	var stdout, stderr strings.Builder
	err := run(t.Context(), []string{"print", "-h"}, func(string) string { return "" }, strings.NewReader(""), &stdout, &stderr)
	if exitCode(err) != exitOK || !strings.HasPrefix(stdout.String(), "Usage: enqueue print") || !strings.Contains(stdout.String(), "Examples:") {
		t.Errorf("print -h: %v\n%s", err, stdout.String())
	}
}

func TestPrintUsageErrors(t *testing.T) {
	// Nothing here may reach Redis: every error is found first.
	env := map[string]string{"REDIS_URL": "redis://127.0.0.1:1/0"}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no campaign", nil, "--campaign"},
		{"argument", []string{"--campaign", "c", "more"}, "no arguments"},
		{"format", []string{"--campaign", "c", "--format", "gif"}, "pdf, svg or png"},
		{"grid for svg", []string{"--campaign", "c", "--format", "svg", "--grid", "2x2"}, "--grid is for --format pdf only"},
		{"size for png", []string{"--campaign", "c", "--format", "png", "--size", "3cm"}, "--size is for --format pdf or svg only"},
		{"bad grid", []string{"--campaign", "c", "--grid", "three"}, `grid "three"`},
		{"bad size", []string{"--campaign", "c", "--size", "5 furlongs"}, `size: length "5 furlongs"`},
		{"too big", []string{"--campaign", "c", "--paper", "letter", "--grid", "4x4"}, "grid 4x4 of 50mm codes needs"},
		{"bad font", []string{"--campaign", "c", "--font", "/nonexistent/font.ttf"}, "--font"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			err := run(t.Context(), append([]string{"print"}, tt.args...), func(k string) string { return env[k] }, strings.NewReader(""), &stdout, &stderr)
			if exitCode(err) != exitInput || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("exit %d (%v), want %d and an error saying %q", exitCode(err), err, exitInput, tt.want)
			}
		})
	}
	t.Run("font from the environment", func(t *testing.T) {
		env := map[string]string{"REDIS_URL": "redis://127.0.0.1:1/0", "WXQR_PRINT_FONT": "/nonexistent/font.ttf"}
		var stdout, stderr strings.Builder
		err := run(t.Context(), []string{"print", "--campaign", "c"}, func(k string) string { return env[k] }, strings.NewReader(""), &stdout, &stderr)
		if exitCode(err) != exitInput || !strings.Contains(err.Error(), "WXQR_PRINT_FONT") {
			t.Errorf("exit %d (%v), want %d naming WXQR_PRINT_FONT", exitCode(err), err, exitInput)
		}
	})
}

// addPrintable records codes in campaign: OA codes (the first of them
// temporary) and one Mini Program code whose image is stored when
// withImage is set.
func (h *harness) addPrintable(t *testing.T, campaign string, oa int, withImage bool) {
	t.Helper()
	for i := range oa {
		var expires time.Time
		if i == 0 {
			expires = time.Date(2031, 1, 2, 3, 4, 0, 0, time.UTC)
		}
		spec := wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: "wxoa", SceneID: int64(i + 1)}
		if !expires.IsZero() {
			spec.Kind = wxqr.KindOATemp
		}
		rec := record(spec, campaign, expires)
		rec.Name = "Store " + string(rune('A'+i))
		rec.URL = "http://weixin.qq.com/q/02store" + string(rune('a'+i))
		if err := h.catalog.Put(t.Context(), rec); err != nil {
			t.Fatal(err)
		}
	}
	spec := wxqr.Spec{Kind: wxqr.KindWxaCode, AppID: "wxmp", Path: "pages/index"}
	rec := record(spec, campaign, time.Time{})
	rec.Name, rec.URL, rec.Ticket = "Counter", "", ""
	if err := h.catalog.Put(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	if !withImage {
		return
	}
	png, err := qrcode.Encode("https://mp.example/counter", qrcode.Medium, 430)
	if err != nil {
		t.Fatal(err)
	}
	store, err := storage.NewDir(filepath.Join(h.dir, "bucket"), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Put(t.Context(), rec.Spec.Key(), png, wxqr.ContentTypePNG, nil); err != nil {
		t.Fatal(err)
	}
}

func TestPrint(t *testing.T) {
	h := newHarness(t)
	h.addPrintable(t, "spring", 5, true)

	t.Run("pdf to a file", func(t *testing.T) {
		out := filepath.Join(h.dir, "spring.pdf")
		r := h.mustRun(t, "", "print", "--campaign", "spring", "--grid", "2x2", "--size", "4cm", "-o", out)
		for _, want := range []string{"warning: 1 code is temporary: it stops working at its expiry (on 2031-01-02 03:04 UTC)",
			"printed 6 codes on 2 pages of campaign spring to " + out} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("stderr does not say %q:\n%s", want, r.stderr)
			}
		}
		body, err := os.ReadFile(out)
		if err != nil || !bytes.HasPrefix(body, []byte("%PDF-")) || bytes.Count(body, []byte("/Type /Page\n")) != 2 {
			t.Errorf("%s: %v; want a PDF of 2 pages", out, err)
		}
	})
	t.Run("pdf to stdout", func(t *testing.T) {
		r := h.mustRun(t, "", "print", "--campaign", "spring", "--paper", "letter")
		if !strings.HasPrefix(r.stdout, "%PDF-") || !strings.Contains(r.stdout, "/MediaBox [0 0 612.00 792.00]") {
			t.Errorf("stdout is not a Letter PDF: %.100q", r.stdout)
		}
	})
	t.Run("svg zip", func(t *testing.T) {
		// Only PDFs have text: the font is not even read.
		h.env["WXQR_PRINT_FONT"] = "/nonexistent/font.ttf"
		defer delete(h.env, "WXQR_PRINT_FONT")
		r := h.mustRun(t, "", "print", "--campaign", "spring", "--format", "svg")
		zr, err := zip.NewReader(strings.NewReader(r.stdout), int64(len(r.stdout)))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, f := range zr.File {
			names = append(names, f.Name)
		}
		want := []string{"Counter.svg", "Store A.svg", "Store B.svg", "Store C.svg", "Store D.svg", "Store E.svg", "WARNING.txt"}
		if !slices.Equal(names, want) {
			t.Errorf("zip holds %q, want %q", names, want)
		}
	})
	t.Run("empty campaign", func(t *testing.T) {
		r := h.run(t, "", "print", "--campaign", "nothing", "-o", filepath.Join(h.dir, "nothing.pdf"))
		if exitCode(r.err) != exitInput || !strings.Contains(r.err.Error(), "no codes to print") {
			t.Errorf("exit %d (%v), want %d: no codes", exitCode(r.err), r.err, exitInput)
		}
		if _, err := os.Stat(filepath.Join(h.dir, "nothing.pdf")); err == nil {
			t.Error("an empty campaign left a file")
		}
	})
}

func TestPrintMissingImage(t *testing.T) {
	h := newHarness(t)
	h.addPrintable(t, "gaps", 2, false)
	out := filepath.Join(h.dir, "gaps.zip")
	r := h.run(t, "", "print", "--campaign", "gaps", "--format", "png", "-o", out)
	if exitCode(r.err) != exitFailure || !strings.Contains(r.err.Error(), "1 codes left out") {
		t.Errorf("exit %d (%v), want %d: a code left out", exitCode(r.err), r.err, exitFailure)
	}
	if !strings.Contains(r.stderr, "left out: wxmp/wxa_code/") || !strings.Contains(r.stderr, "printed 2 codes") {
		t.Errorf("stderr does not list the code left out:\n%s", r.stderr)
	}
	if _, err := os.Stat(out); err != nil {
		t.Errorf("the zip of the other codes is not kept: %v", err)
	}
}
