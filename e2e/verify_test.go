package e2e

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/wechat/wechatsim"
)

// TestVerifyRepair damages stored images the ways a fault can (emptied, cut
// short, deleted), then checks that `enqueue verify` finds exactly those,
// that `--repair` and a worker mend every one, each image decoding to its
// code again, and that only a Mini Program code whose image was lost costs a
// second create call: an Official Account image is fetched again with its
// ticket.
func TestVerifyRepair(t *testing.T) {
	h := newHarness(t, wechatsim.Limits{})
	var rows []string
	for i := 1; i <= 5; i++ {
		rows = append(rows,
			fmt.Sprintf("oa_perm,%s,%d,,,,,%s", oaApp, i, campaign),
			fmt.Sprintf("oa_temp,%s,%d,,,,3600,%s", oaApp, 1000000+i, campaign),
			fmt.Sprintf("wxa_qrcode,%s,,,pages/item/index?id=%d,300,,%s", mpApp, i, campaign))
	}
	h.mustRun(0, "enqueue", writeCSV(t, csvHeader, rows))
	h.mustRun(0, "worker", "--until-idle")
	h.mustRun(0, "enqueue", "verify")

	recs := h.export()
	if len(recs) != len(rows) {
		t.Fatalf("export lists %d codes, want %d", len(recs), len(rows))
	}
	created := map[wxqr.AppType]int{
		wxqr.AppOA: h.sim.Calls(wechatsim.APICreateQRCode),
		wxqr.AppMP: h.sim.Calls(wechatsim.APICreateWxaQRCode),
	}

	// Damage the first three codes of each kind, one way each.
	var want []string // the lines verify must print
	damaged := map[wxqr.Kind]int{}
	for _, rec := range recs {
		n := damaged[rec.Kind]
		if n == 3 {
			continue
		}
		damaged[rec.Kind]++
		key := rec.Spec.Key()
		switch n {
		case 0:
			want = append(want, rec.ObjectKey+": missing")
			h.deleteObject(key)
		case 1:
			want = append(want, rec.ObjectKey+": "+h.overwrite(key, func([]byte) []byte { return nil }))
		case 2:
			want = append(want, rec.ObjectKey+": "+h.overwrite(key, func(b []byte) []byte { return b[:len(b)/2] }))
		}
	}
	slices.Sort(want)

	r := h.mustRun(1, "enqueue", "verify")
	if got := listedBroken(r.stdout); !slices.Equal(got, want) {
		t.Errorf("verify lists:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got, counts := lastNumbers(r.stdout, "total"), []int{len(rows), len(want), 0}; !slices.Equal(got, counts) {
		t.Errorf("verify counts %v codes checked, broken, retired; want %v:\n%s", got, counts, r.stdout)
	}

	r = h.mustRun(1, "enqueue", "verify", "--repair")
	if got := lastNumbers(r.stdout, "repairs queued"); !slices.Equal(got, []int{len(want)}) {
		t.Errorf("verify --repair queued %v repairs, want %d:\n%s", got, len(want), r.stdout)
	}
	r = h.mustRun(1, "enqueue", "verify", "--repair")
	if got := lastNumbers(r.stdout, "repairs queued"); !slices.Equal(got, []int{0}) {
		t.Errorf("a second verify --repair queued %v repairs, want 0:\n%s", got, r.stdout)
	}

	h.mustRun(0, "worker", "--until-idle")
	r = h.mustRun(0, "enqueue", "verify")
	if got := listedBroken(r.stdout); len(got) != 0 {
		t.Errorf("after the repairs verify still lists:\n%s", strings.Join(got, "\n"))
	}
	if repaired := h.checkStored(); len(repaired) != len(rows) {
		t.Fatalf("%d codes stored and recorded after the repairs, want %d", len(repaired), len(rows))
	}
	if got := h.sim.Calls(wechatsim.APICreateQRCode); got != created[wxqr.AppOA] {
		t.Errorf("qrcode/create calls %d after the repairs, want %d: an OA image is fetched again with its ticket", got, created[wxqr.AppOA])
	}
	if got, want := h.sim.Calls(wechatsim.APICreateWxaQRCode), created[wxqr.AppMP]+damaged[wxqr.KindWxaQRCode]; got != want {
		t.Errorf("createwxaqrcode calls %d after the repairs, want %d: one per damaged Mini Program code", got, want)
	}
}

// listedBroken returns the lines of verify's output that list a broken code.
func listedBroken(out string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "codes/") {
			lines = append(lines, l)
		}
	}
	return lines
}

// lastNumbers returns the numbers that follow label on the line of out that
// starts with it: a summary line ("label  N") or a row of a table.
func lastNumbers(out, label string) []int {
	for _, l := range strings.Split(out, "\n") {
		rest, ok := strings.CutPrefix(l, label+" ")
		if !ok {
			continue
		}
		var nums []int
		for _, f := range strings.Fields(rest) {
			n, err := strconv.Atoi(f)
			if err != nil {
				return nil
			}
			nums = append(nums, n)
		}
		return nums
	}
	return nil
}

// overwrite replaces the image at key (relative to the store's prefix) with
// what damage makes of it, keeping its metadata, and returns what verify
// must say of the result.
func (h *harness) overwrite(key string, damage func([]byte) []byte) string {
	h.t.Helper()
	obj, err := h.store.Get(h.t.Context(), key)
	if err != nil {
		h.t.Fatalf("get %s: %v", key, err)
	}
	body := damage(obj.Body)
	if err := h.store.Put(h.t.Context(), key, body, obj.ContentType, obj.Meta); err != nil {
		h.t.Fatalf("damage %s: %v", key, err)
	}
	if _, err := wxqr.CheckImage(body, 0); err != nil {
		return err.Error()
	}
	h.t.Fatalf("damaging %s left a whole image", key)
	return ""
}

// deleteObject deletes the image at key (relative to the store's prefix)
// from the bucket, with a client of its own: the store has no delete.
func (h *harness) deleteObject(key string) {
	h.t.Helper()
	env := map[string]string{}
	for _, kv := range h.env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	client := s3.New(s3.Options{
		BaseEndpoint: aws.String(env["S3_ENDPOINT"]),
		Region:       env["AWS_REGION"],
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], ""),
	})
	bucket, objectKey := h.store.Location(key)
	if _, err := client.DeleteObject(h.t.Context(), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(objectKey)}); err != nil {
		h.t.Fatalf("delete %s: %v", objectKey, err)
	}
	if _, err := h.store.Get(h.t.Context(), key); err == nil {
		h.t.Fatalf("%s is still there after its deletion", objectKey)
	}
}
