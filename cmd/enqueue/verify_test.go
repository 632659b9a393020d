package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/storage"
	"github.com/wxqr/wxqr/tasks"
)

// testJPEG and testPNG return a whole image width pixels wide.
func testJPEG(t *testing.T, width int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, image.NewGray(image.Rect(0, 0, width, width)), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func testPNG(t *testing.T, width int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, width, width))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// bucket opens the directory store the harness points WXQR_STORAGE at.
func (h *harness) bucket(t *testing.T) storage.Store {
	t.Helper()
	store, err := storage.NewDir(filepath.Join(h.dir, "bucket"), "")
	if err != nil {
		t.Fatal(err)
	}
	return store
}

// storedCode records a code whose image is image, stores stored (nil: no
// object) at its key, and returns the record.
func storedCode(t *testing.T, h *harness, store storage.Store, spec wxqr.Spec, campaign string, image, stored []byte) *wxqr.Record {
	t.Helper()
	var expires time.Time
	if spec.Kind.Temporary() {
		expires = time.Now().Add(time.Hour)
	}
	rec := record(spec, campaign, expires)
	if spec.Kind.Temporary() {
		rec.ExpireSeconds = 7200
	}
	if spec.Kind.AppType() == wxqr.AppMP {
		rec.Ticket, rec.URL = "", ""
	}
	sum := sha256.Sum256(image)
	rec.Size, rec.SHA256 = int64(len(image)), hex.EncodeToString(sum[:])
	if err := h.catalog.Put(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	if stored != nil {
		if err := store.Put(t.Context(), spec.Key(), stored, "image/jpeg", nil); err != nil {
			t.Fatal(err)
		}
	}
	return rec
}

// damagedCatalog records codes of spring and autumn whose images are whole
// or damaged in every way verify knows, and returns the listing verify must
// print for the damaged ones, by campaign.
func damagedCatalog(t *testing.T, h *harness) map[string][]string {
	t.Helper()
	store := h.bucket(t)
	oa := testJPEG(t, 258)
	mp := testJPEG(t, 430)
	perm := func(n int64) wxqr.Spec { return wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: "wxoa", SceneID: n} }
	temp := func(n int64) wxqr.Spec { return wxqr.Spec{Kind: wxqr.KindOATemp, AppID: "wxoa", SceneID: n} }
	mpCode := func(path string) wxqr.Spec { return wxqr.Spec{Kind: wxqr.KindWxaQRCode, AppID: "wxmp", Path: path} }

	storedCode(t, h, store, perm(1), "spring", oa, oa)
	storedCode(t, h, store, perm(2), "spring", oa, nil)
	storedCode(t, h, store, perm(3), "spring", oa, []byte{})
	storedCode(t, h, store, temp(4), "spring", oa, oa)
	storedCode(t, h, store, temp(5), "spring", oa, oa[:len(oa)/2])
	wrongSum := storedCode(t, h, store, temp(6), "spring", oa, oa)
	wrongSum.SHA256 = strings.Repeat("ab", 32)
	wrongSize := storedCode(t, h, store, perm(7), "spring", oa, oa)
	wrongSize.Size++
	for _, rec := range []*wxqr.Record{wrongSum, wrongSize} {
		if err := h.catalog.Put(t.Context(), rec); err != nil {
			t.Fatal(err)
		}
	}
	// Recorded as made with nothing in it: the record agrees with the object.
	storedCode(t, h, store, perm(9), "spring", []byte{}, []byte{})
	retired := storedCode(t, h, store, perm(8), "spring", oa, nil)
	if _, err := h.catalog.Retire(t.Context(), retired.ID); err != nil {
		t.Fatal(err)
	}

	storedCode(t, h, store, mpCode("pages/a"), "autumn", mp, mp)
	pngCode := testPNG(t, 430)
	storedCode(t, h, store, mpCode("pages/png"), "autumn", pngCode, pngCode)
	storedCode(t, h, store, mpCode("pages/narrow"), "autumn", mp, testJPEG(t, 280))
	storedCode(t, h, store, mpCode("pages/gone"), "autumn", mp, nil)

	key := func(s wxqr.Spec) string { return s.Key() }
	return map[string][]string{
		"spring": {
			key(perm(2)) + ": missing",
			key(perm(3)) + ": not a complete image: 0 bytes",
			key(temp(5)) + fmt.Sprintf(": not a complete image: JPEG of %d bytes has no end marker (cut short)", len(oa)/2),
			key(temp(6)) + ": sha256 differs from the record",
			key(perm(7)) + fmt.Sprintf(": %d bytes, the record says %d", len(oa), len(oa)+1),
			key(perm(9)) + ": not a complete image: 0 bytes",
		},
		"autumn": {
			key(mpCode("pages/narrow")) + ": not a complete image: 280 pixels wide, want 430",
			key(mpCode("pages/gone")) + ": missing",
		},
	}
}

// brokenLines returns the lines of out that list a broken code.
func brokenLines(out string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "wxoa/") || strings.HasPrefix(l, "wxmp/") {
			lines = append(lines, l)
		}
	}
	return lines
}

// tally returns the counts verify printed for a campaign (or "total"):
// checked, broken, retired.
func tally(out, campaign string) []string {
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) == 4 && f[0] == campaign {
			return f[1:]
		}
	}
	return nil
}

func TestVerify(t *testing.T) {
	h := newHarness(t)
	want := damagedCatalog(t, h)

	tests := []struct {
		name      string
		args      []string
		campaigns []string
		tallies   map[string][]string
	}{
		{"every campaign", nil, []string{"spring", "autumn"}, map[string][]string{
			"spring": {"8", "6", "1"}, "autumn": {"4", "2", "0"}, "total": {"12", "8", "1"},
		}},
		{"one campaign", []string{"--campaign", "autumn"}, []string{"autumn"}, map[string][]string{
			"spring": nil, "autumn": {"4", "2", "0"}, "total": {"4", "2", "0"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.run(t, "", append([]string{"verify"}, tt.args...)...)
			if code := exitCode(r.err); code != exitFailure {
				t.Fatalf("exit %d (%v), want %d\n%s", code, r.err, exitFailure, r.stderr)
			}
			var wantLines []string
			for _, c := range tt.campaigns {
				wantLines = append(wantLines, want[c]...)
			}
			slices.Sort(wantLines)
			if got := brokenLines(r.stdout); !slices.Equal(got, wantLines) {
				t.Errorf("listed:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantLines, "\n"))
			}
			for campaign, counts := range tt.tallies {
				if got := tally(r.stdout, campaign); !slices.Equal(got, counts) {
					t.Errorf("%s: checked, broken, retired = %v, want %v\n%s", campaign, got, counts, r.stdout)
				}
			}
			if want := fmt.Sprintf("%s of %s codes checked are broken", tt.tallies["total"][1], tt.tallies["total"][0]); !strings.Contains(r.err.Error(), want) {
				t.Errorf("error %q, want %q", r.err, want)
			}
			if qs := h.queues(t); len(qs) != 0 {
				t.Errorf("verify without --repair created queues %v", qs)
			}
		})
	}
}

func TestVerifyAllWell(t *testing.T) {
	h := newHarness(t)
	store := h.bucket(t)
	oa := testJPEG(t, 258)
	storedCode(t, h, store, wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: "wxoa", SceneID: 1}, "spring", oa, oa)
	storedCode(t, h, store, wxqr.Spec{Kind: wxqr.KindOATemp, AppID: "wxoa", SceneStr: "a b"}, "", oa, oa)
	mp := testJPEG(t, 600)
	storedCode(t, h, store, wxqr.Spec{Kind: wxqr.KindWxaUnlimited, AppID: "wxmp", Path: "pages/x", SceneStr: "id=1", Width: 600}, "spring", mp, mp)

	for _, args := range [][]string{{"verify"}, {"verify", "--repair"}} {
		r := h.mustRun(t, "", args...)
		if lines := brokenLines(r.stdout); len(lines) != 0 {
			t.Errorf("%v lists %v, want nothing broken", args, lines)
		}
		for campaign, counts := range map[string][]string{"spring": {"2", "0", "0"}, "-": {"1", "0", "0"}, "total": {"3", "0", "0"}} {
			if got := tally(r.stdout, campaign); !slices.Equal(got, counts) {
				t.Errorf("%v: %s counts %v, want %v\n%s", args, campaign, got, counts, r.stdout)
			}
		}
	}
	if qs := h.queues(t); len(qs) != 0 {
		t.Errorf("verify --repair with nothing broken created queues %v", qs)
	}
}

// repairTasks returns the payloads of the tasks waiting in every queue, by
// task id.
func repairTasks(t *testing.T, h *harness) map[string]tasks.GeneratePayload {
	t.Helper()
	out := map[string]tasks.GeneratePayload{}
	for _, q := range h.queues(t) {
		infos, err := h.inspector.ListPendingTasks(q)
		if err != nil {
			t.Fatal(err)
		}
		for _, info := range infos {
			var p tasks.GeneratePayload
			if err := json.Unmarshal(info.Payload, &p); err != nil {
				t.Fatal(err)
			}
			out[info.ID] = p
		}
	}
	return out
}

func TestVerifyRepair(t *testing.T) {
	h := newHarness(t)
	brokenKeys := map[string]bool{}
	for _, lines := range damagedCatalog(t, h) {
		for _, l := range lines {
			key, _, _ := strings.Cut(l, ": ")
			brokenKeys[key] = true
		}
	}
	var broken []string // ids
	if err := h.catalog.Each(t.Context(), "", func(rec *wxqr.Record) error {
		if brokenKeys[rec.Spec.Key()] {
			broken = append(broken, rec.ID)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(broken) != 8 {
		t.Fatalf("the damaged catalog has %d broken codes, want 8", len(broken))
	}

	r := h.run(t, "", "verify", "--repair")
	if code := exitCode(r.err); code != exitFailure {
		t.Fatalf("exit %d (%v), want %d: the codes were broken", code, r.err, exitFailure)
	}
	checkSummary(t, r.stdout, map[string]int{"repairs queued": 8, "repairs already queued": 0, "failed before, queued again": 0})
	queued := repairTasks(t, h)
	if len(queued) != len(broken) {
		t.Errorf("%d tasks queued, want one per broken code (%d)", len(queued), len(broken))
	}
	for _, id := range broken {
		rec, err := h.catalog.Get(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		want := tasks.GeneratePayload{Spec: rec.Spec, Campaign: rec.Campaign, ExpireSeconds: rec.ExpireSeconds, Repair: true}
		p, ok := queued[want.TaskID()]
		if !ok {
			t.Errorf("no repair of %s (%s) queued", rec.Spec.Key(), id)
			continue
		}
		if p.Spec != want.Spec || p.Campaign != want.Campaign || p.ExpireSeconds != want.ExpireSeconds || !p.Repair || p.Generation != 0 {
			t.Errorf("repair of %s: payload %+v, want %+v", rec.Spec.Key(), p, want)
		}
	}

	t.Run("twice queues nothing twice", func(t *testing.T) {
		r := h.run(t, "", "verify", "--repair")
		if code := exitCode(r.err); code != exitFailure {
			t.Fatalf("exit %d (%v), want %d", code, r.err, exitFailure)
		}
		checkSummary(t, r.stdout, map[string]int{"repairs queued": 0, "repairs already queued": 8, "failed before, queued again": 0})
		if got := repairTasks(t, h); len(got) != len(broken) {
			t.Errorf("%d tasks queued after the second run, want %d", len(got), len(broken))
		}
	})

	t.Run("an archived repair is queued again", func(t *testing.T) {
		rec, err := h.catalog.Get(t.Context(), broken[0])
		if err != nil {
			t.Fatal(err)
		}
		p := tasks.GeneratePayload{Spec: rec.Spec, Repair: true}
		queue := tasks.QueueName(rec.AppID, rec.Kind.Class())
		if err := h.inspector.ArchiveTask(queue, p.TaskID()); err != nil {
			t.Fatal(err)
		}
		r := h.run(t, "", "verify", "--repair")
		checkSummary(t, r.stdout, map[string]int{"repairs queued": 0, "repairs already queued": 7, "failed before, queued again": 1})
		info, err := h.inspector.GetTaskInfo(queue, p.TaskID())
		if err != nil || info.State != asynq.TaskStatePending {
			t.Errorf("repair task %s: %+v, %v; want it pending again", p.TaskID(), info, err)
		}
	})
}

func TestVerifyStoreUnreadable(t *testing.T) {
	h := newHarness(t)
	store := h.bucket(t)
	oa := testJPEG(t, 258)
	spec := wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: "wxoa", SceneID: 1}
	storedCode(t, h, store, spec, "spring", oa, []byte{})
	// Metadata the store cannot read: Get fails, which says nothing about
	// the image.
	meta := filepath.Join(h.dir, "bucket", ".wxqr", filepath.FromSlash(spec.Key())) + ".meta.json"
	if err := os.WriteFile(meta, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := h.run(t, "", "verify", "--repair")
	if code := exitCode(r.err); code != exitFailure || !strings.Contains(r.err.Error(), "verify "+spec.ID()) {
		t.Errorf("exit %d, error %v; want exit 1 naming the code it could not read", code, r.err)
	}
	if lines := brokenLines(r.stdout); len(lines) != 0 {
		t.Errorf("listed %v as broken, want nothing: the store failed, not the image", lines)
	}
	if qs := h.queues(t); len(qs) != 0 {
		t.Errorf("queues %v exist, want no repair queued", qs)
	}
}

func TestVerifyUsage(t *testing.T) {
	h := newHarness(t)
	storedCode(t, h, h.bucket(t), wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: "wxoa", SceneID: 1}, "spring", testJPEG(t, 258), nil)
	for _, args := range [][]string{
		{"verify", "spring"},
		{"verify", "--repare"},
		{"verify", "--campaign", "sprung"},
	} {
		r := h.run(t, "", args...)
		if code := exitCode(r.err); code != exitInput {
			t.Errorf("%v: exit %d (%v), want %d", args, code, r.err, exitInput)
		}
		if r.stdout != "" {
			t.Errorf("%v printed %q, want nothing verified", args, r.stdout)
		}
	}
	r := h.run(t, "", "verify", "-h")
	if exitCode(r.err) != exitOK || !strings.HasPrefix(r.stdout, "Usage: enqueue verify") {
		t.Errorf("verify -h: exit %d, prints %q", exitCode(r.err), r.stdout)
	}
}
