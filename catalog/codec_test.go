package catalog

import (
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wxqr/wxqr"
)

// wechatTicket returns a ticket shaped like WeChat's, which carries url.
func wechatTicket(url string) string {
	return base64.StdEncoding.EncodeToString(append([]byte{0x81, 0x07, 0xee, 0x3a, 0, 0, 0, 0, 0, 0, 0, 0, 1, byte(len(url))}, url+"\x02\x04gm\xecS\x03\x04\x9am\xecS"...))
}

// codecRecords are records that each exercise a flag of the compact form,
// both ways.
func codecRecords() map[string]*wxqr.Record {
	at := time.Date(2026, 3, 4, 5, 6, 7, 891011121, time.UTC)
	oa := wxqr.Spec{Kind: wxqr.KindOATemp, AppID: "wx1234567890abcdef", SceneStr: "store-12"}
	url := "http://weixin.qq.com/q/02kZgfwMTm72WWPkovabbI"
	temp := &wxqr.Record{
		ID: oa.ID(), Spec: oa, Campaign: "spring", Name: "Store 12 · 入口",
		Ticket: wechatTicket(url), URL: url,
		ExpireSeconds: 2592000, ExpiresAt: at.Add(30 * 24 * time.Hour), CreatedAt: at,
		Generation: 3, Bucket: "codes", ObjectKey: "prod/" + oa.Key(),
		ContentType: "image/jpeg", Size: 28734, SHA256: strings.Repeat("0f", 32),
	}
	mp := wxqr.Spec{Kind: wxqr.KindWxaUnlimited, AppID: "wxmp", SceneStr: "a=1", Path: "pages/index",
		Width: 280, LineColor: "#1a5fb4", IsHyaline: true, EnvVersion: wxqr.EnvTrial, CheckPath: wxqr.BoolFalse}.Normalize()
	unlimited := &wxqr.Record{
		ID: mp.ID(), Spec: mp, CreatedAt: at, Generation: 1, Bucket: "b", ObjectKey: mp.Key(),
		ContentType: mp.ImageContentType(), Size: 1, SHA256: strings.Repeat("ab", 32), Retired: true,
	}
	auto := wxqr.Spec{Kind: wxqr.KindWxaCode, AppID: "wxmp", Path: "p", AutoColor: true}.Normalize()
	odd := &wxqr.Record{ // nothing fits a pattern: every value is stored as it is
		ID: auto.ID(), Spec: auto, Ticket: "not base64!", URL: "http://elsewhere",
		CreatedAt: time.Unix(0, 0).UTC(), ExpireSeconds: 60, ExpiresAt: time.Unix(100, 5).UTC(), // not 60 s after
		Generation: 1, Bucket: "b", ObjectKey: "somewhere/else.jpg",
		ContentType: "image/gif", Size: -1, SHA256: "ABCDEF",
	}
	perm := wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: "wx0123456789ABCDEF", SceneID: -5}              // upper-case hex is not WeChat's
	sparse := &wxqr.Record{ID: perm.ID(), Spec: perm, Ticket: "aGVsbG8=", URL: "not in the ticket"} // zero times, no sha
	return map[string]*wxqr.Record{"temporary": temp, "mini program, styled": unlimited, "odd values": odd, "sparse": sparse}
}

func TestCompactRecordRoundTrips(t *testing.T) {
	for name, rec := range codecRecords() {
		t.Run(name, func(t *testing.T) {
			want := stored{rec: rec, earlier: []earlierTicket{{hashTicket("t1"), 1 << 40}, {hashTicket("t2"), -3}}}
			data := want.encode()
			got, err := decodeStored(rec.ID, data)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("round trip:\n got %+v %+v\nwant %+v %+v", got.rec, got.earlier, want.rec, want.earlier)
			}
			for n := range len(data) {
				if _, err := decodeStored(rec.ID, data[:n]); err == nil {
					t.Errorf("the first %d of %d bytes decode without error", n, len(data))
				}
			}
			if _, err := decodeStored(rec.ID, append(data, 0)); err == nil {
				t.Error("a trailing byte decodes without error")
			}
		})
	}
}

func TestCompactRecordIsSmall(t *testing.T) {
	rec := codecRecords()["temporary"]
	data := stored{rec: rec}.encode()
	// What cannot be left out: the strings, the ticket as bytes (the url is
	// in it, the object key is the prefix and the spec's key), the sha256 as
	// bytes. The rest (lengths, numbers, flags, two times to the nanosecond)
	// fits in 50 bytes.
	ticket, _ := base64.StdEncoding.DecodeString(rec.Ticket)
	payload := len(rec.Kind) + len(rec.AppID) + len(rec.SceneStr) + len(rec.Campaign) + len(rec.Name) +
		len(ticket) + len(rec.Bucket) + len("prod/") + 32
	if len(data) > payload+50 {
		t.Errorf("compact record: %d bytes for %d of content", len(data), payload)
	}
}

func TestJSONRecordsStillDecode(t *testing.T) {
	rec := codecRecords()["temporary"]
	data, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeStored(rec.ID, data)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if !reflect.DeepEqual(got.rec, rec) || got.earlier != nil {
		t.Errorf("decoded %+v, want %+v", got, rec)
	}
	if _, err := decodeStored(rec.ID, []byte("{not json")); err == nil {
		t.Error("broken JSON decodes without error")
	}
	if _, err := decodeStored(rec.ID, []byte{9, 0}); err == nil {
		t.Error("an unknown form decodes without error")
	}
}

func TestEarlierTickets(t *testing.T) {
	base := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	gen := func(n int, ticket string) *wxqr.Record {
		rec := *codecRecords()["temporary"]
		rec.Generation, rec.Ticket = n, ticket
		rec.CreatedAt = base.Add(time.Duration(n) * 24 * time.Hour)
		rec.ExpiresAt = rec.CreatedAt.Add(3 * 24 * time.Hour) // the ticket finds it a day longer: 4 days
		return &rec
	}
	value := stored{rec: gen(1, "t1")}
	for n := 2; n <= 6; n++ {
		next := gen(n, "t"+string(rune('0'+n)))
		value = stored{rec: next, earlier: value.succeed(next)}
	}
	now := value.rec.CreatedAt // generation 6's creation: 3 to 5 are still scannable
	for ticket, want := range map[string]bool{"t1": false, "t2": false, "t3": true, "t5": true, "t6": true, "t7": false} {
		if got := value.knows(ticket, now); got != want {
			t.Errorf("knows %s at generation 6: %v, want %v", ticket, got, want)
		}
	}
	if got := value.knows("t3", now.Add(24*time.Hour)); got {
		t.Error("generation 3's ticket still finds the code after it expired")
	}
	same := gen(7, value.rec.Ticket) // a put that keeps the ticket adds none
	if got := (stored{rec: value.rec, earlier: value.earlier}).succeed(same); len(got) != len(value.earlier)-1 {
		t.Errorf("a put with the same ticket kept %d earlier tickets, want %d (one more expired)", len(got), len(value.earlier)-1)
	}
	if len(value.earlier) > maxEarlierTickets {
		t.Errorf("%d earlier tickets kept, at most %d", len(value.earlier), maxEarlierTickets)
	}
}

func FuzzDecodeCompact(f *testing.F) {
	for _, rec := range codecRecords() {
		f.Add(stored{rec: rec}.encode())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := decodeCompact(data)
		if err != nil {
			return
		}
		again, err := decodeCompact(s.encode())
		if err != nil || !reflect.DeepEqual(again.rec.Spec, s.rec.Spec) {
			t.Errorf("a decoded record does not round-trip: %v", err)
		}
	})
}
