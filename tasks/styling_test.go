package tasks_test

import (
	"strings"
	"testing"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/tasks"
	"github.com/wxqr/wxqr/wechat"
	"github.com/wxqr/wxqr/wechat/wechatsim"
)

// simMPSecret is the secret of mpApp on the simulator of these tests.
const simMPSecret = "mp-secret-styling"

// useSimulator makes the generator ask the WeChat simulator, through the
// real client, for mpApp's codes, and returns the simulator: what styling
// WeChat receives is what the simulator records.
func useSimulator(t *testing.T, h *harness) *wechatsim.Server {
	t.Helper()
	sim := wechatsim.NewServer(wechatsim.Config{
		Apps: map[string]wechatsim.App{mpApp: {Secret: simMPSecret, Type: wechatsim.MiniProgram}},
	})
	t.Cleanup(sim.Close)
	tokens, err := wechat.NewStableTokenSource(wechat.TokenConfig{
		AppID: mpApp, Secret: simMPSecret, Redis: h.rdb, APIBaseURL: sim.URL(),
	})
	if err != nil {
		t.Fatal(err)
	}
	client, err := wechat.NewClient(wechat.Config{AppID: mpApp, APIBaseURL: sim.URL(), MPBaseURL: sim.URL(), Tokens: tokens})
	if err != nil {
		t.Fatal(err)
	}
	h.configure(t, func(cfg *tasks.GeneratorConfig) {
		cfg.Clients = map[string]tasks.WeChat{mpApp: client}
	})
	return sim
}

// simContent is what the simulator's image of spec encodes.
func simContent(spec wxqr.Spec) string {
	if spec.Kind == wxqr.KindWxaUnlimited {
		return wechatsim.WxaContent(spec.AppID, spec.Kind.API(), spec.Path, spec.SceneStr)
	}
	return wechatsim.WxaContent(spec.AppID, spec.Kind.API(), spec.Path, "")
}

// TestGenerateStyledCodes makes styled Mini Program codes through the
// simulator: the styling reaches WeChat as asked, a transparent code is
// stored as a PNG under a .png key, and the stored image decodes.
func TestGenerateStyledCodes(t *testing.T) {
	tests := []struct {
		name string
		spec wxqr.Spec
		// sent is what the simulator received, AppID, API and width aside.
		sent wechatsim.CodeRequest
		ext  string
	}{
		{"wxa_unlimited, transparent, coloured, trial, unchecked",
			wxqr.Spec{Kind: wxqr.KindWxaUnlimited, AppID: mpApp, SceneStr: "store=12", Path: "pages/store/index",
				LineColor: "26,95,180", IsHyaline: true, EnvVersion: wxqr.EnvTrial, CheckPath: wxqr.BoolFalse},
			wechatsim.CodeRequest{Scene: "store=12", Path: "pages/store/index", LineColor: "#1a5fb4", IsHyaline: true, EnvVersion: "trial", CheckPath: "false"},
			".png"},
		{"wxa_code, coloured, develop",
			wxqr.Spec{Kind: wxqr.KindWxaCode, AppID: mpApp, Path: "pages/item?id=9", Width: 600, LineColor: "#B01A1A", EnvVersion: wxqr.EnvDevelop},
			wechatsim.CodeRequest{Path: "pages/item?id=9", LineColor: "#b01a1a", EnvVersion: "develop"},
			".jpg"},
		{"wxa_code, transparent, auto colour",
			wxqr.Spec{Kind: wxqr.KindWxaCode, AppID: mpApp, Path: "pages/item?id=10", AutoColor: true, IsHyaline: true},
			wechatsim.CodeRequest{Path: "pages/item?id=10", AutoColor: true, IsHyaline: true},
			".png"},
		// WeChat's defaults, given explicitly, are not sent: the code is
		// the unstyled one.
		{"wxa_unlimited, WeChat's defaults",
			wxqr.Spec{Kind: wxqr.KindWxaUnlimited, AppID: mpApp, SceneStr: "store=13", LineColor: "0,0,0", EnvVersion: wxqr.EnvRelease, CheckPath: wxqr.BoolTrue},
			wechatsim.CodeRequest{Scene: "store=13"},
			".jpg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			sim := useSimulator(t, h)
			if err := h.run(t, generateTask(t, tasks.GeneratePayload{Spec: tt.spec, Campaign: "styled"})); err != nil {
				t.Fatalf("ProcessTask: %v", err)
			}
			spec := tt.spec.Normalize()
			want := tt.sent
			want.AppID, want.API, want.Width = mpApp, spec.Kind.API(), spec.ImageWidth()
			if made := sim.CodesMade(); len(made) != 1 || made[want] != 1 {
				t.Errorf("the simulator made %+v, want %+v once", made, want)
			}
			rec := wantStored(t, h, tt.spec, 1, simContent(spec))
			if !strings.HasSuffix(rec.ObjectKey, tt.ext) {
				t.Errorf("stored at %s, want a key ending in %s", rec.ObjectKey, tt.ext)
			}
			if rec.Spec != spec {
				t.Errorf("recorded spec %+v, want %+v", rec.Spec, spec)
			}
			// The record stored with the image carries the styling, so a
			// catalog rebuilt from the bucket knows the code again, at its
			// key.
			stored, err := catalog.ReadRecord(t.Context(), h.store, spec.Key())
			if err != nil {
				t.Fatal(err)
			}
			if stored.Spec != spec {
				t.Errorf("stored record's spec %+v, want %+v", stored.Spec, spec)
			}
			rebuilt := catalog.New(h.rdb, "wxqr-rebuilt:")
			if n, err := rebuilt.Rebuild(t.Context(), h.store.DirStore); err != nil || n != 1 {
				t.Fatalf("Rebuild = %d, %v; want 1 record", n, err)
			}
			again, err := rebuilt.Get(t.Context(), rec.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := recordJSON(t, again), recordJSON(t, rec); got != want {
				t.Errorf("rebuilt record %s, want %s", got, want)
			}
		})
	}
}

// TestGenerateRecoloredCodeIsAnotherCode: a code in another colour has
// another id and key, and is asked of WeChat anew; the first code stays.
func TestGenerateRecoloredCodeIsAnotherCode(t *testing.T) {
	h := newHarness(t)
	sim := useSimulator(t, h)
	blue := wxqr.Spec{Kind: wxqr.KindWxaUnlimited, AppID: mpApp, SceneStr: "store=12", LineColor: "#1a5fb4"}
	red := blue
	red.LineColor = "#b01a1a"
	if blue.ID() == red.ID() || blue.Key() == red.Key() {
		t.Fatalf("blue and red share an id or key: %s %s, %s %s", blue.ID(), blue.Key(), red.ID(), red.Key())
	}
	for _, spec := range []wxqr.Spec{blue, blue, red} {
		if err := h.run(t, generateTask(t, tasks.GeneratePayload{Spec: spec})); err != nil {
			t.Fatalf("ProcessTask: %v", err)
		}
	}
	// The second blue run found the code made: two calls, not three.
	if got := sim.Calls(wechatsim.APIGetWxaCodeUnlimited); got != 2 {
		t.Errorf("getwxacodeunlimit called %d times, want 2 (blue once, red once)", got)
	}
	blueRec := wantStored(t, h, blue, 1, simContent(blue))
	redRec := wantStored(t, h, red, 1, simContent(red))
	if blueRec.SHA256 == redRec.SHA256 {
		t.Error("the blue and the red code have the same image")
	}
	for _, c := range []struct {
		spec  wxqr.Spec
		color string
	}{{blue, "#1a5fb4"}, {red, "#b01a1a"}} {
		sent := wechatsim.CodeRequest{AppID: mpApp, API: wechatsim.APIGetWxaCodeUnlimited, Scene: "store=12", Width: wxqr.DefaultWidth, LineColor: c.color}
		if n := sim.CodesMade()[sent]; n != 1 {
			t.Errorf("the simulator made the %s code %d times, want 1", c.color, n)
		}
	}
}
