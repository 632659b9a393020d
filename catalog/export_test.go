package catalog_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
)

// exportRecords are written by the golden tests: CSV quoting, times in
// another zone and with fractions of a second, empty optional fields, a
// retired code, a URL with '&'.
func exportRecords() []*wxqr.Record {
	shanghai := time.FixedZone("CST", 8*3600)
	return []*wxqr.Record{
		{
			ID:       "id-temp",
			Spec:     wxqr.Spec{Kind: wxqr.KindOATemp, AppID: "wxapp", SceneStr: `a,"b"`},
			Campaign: "spring", Name: "Store 12, entrance", Ticket: "gQ+/=", URL: "http://weixin.qq.com/q/02x",
			ExpireSeconds: 2592000, ExpiresAt: time.Date(2025, 3, 31, 16, 0, 0, 0, shanghai),
			CreatedAt: time.Date(2025, 3, 1, 8, 0, 0, 5e8, time.UTC), Generation: 1,
			Bucket: "codes", ObjectKey: "wxapp/oa_temp/s-a.jpg", ContentType: "image/jpeg", Size: 2048, SHA256: "ab12",
		},
		{
			ID:     "id-perm",
			Spec:   wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: "wxapp", SceneID: 42},
			Ticket: "t2", URL: "http://weixin.qq.com/q/02y",
			CreatedAt: base, Generation: 1,
			Bucket: "codes", ObjectKey: "wxapp/oa_perm/i-42.jpg", ContentType: "image/jpeg", Size: 100, SHA256: "cd34",
			Retired: true,
		},
		{
			ID:       "id-mini",
			Spec:     wxqr.Spec{Kind: wxqr.KindWxaQRCode, AppID: "wxmini", Path: "pages/a?x=1&y=2", Width: 430},
			Campaign: "spring", CreatedAt: base, Generation: 3,
			Bucket: "codes", ObjectKey: "wxmini/wxa_qrcode/p.jpg", ContentType: "image/jpeg", Size: 5, SHA256: "ef56",
		},
	}
}

const csvHeader = "id,kind,app_id,scene_id,scene_str,path,width,campaign,ticket,url,expire_seconds,expires_at,created_at,generation,bucket,key,content_type,size,sha256,retired,name\n"

func TestWriters(t *testing.T) {
	recs := exportRecords()
	csvRows := []string{
		`id-temp,oa_temp,wxapp,,"a,""b""",,,spring,gQ+/=,http://weixin.qq.com/q/02x,2592000,2025-03-31T08:00:00Z,2025-03-01T08:00:00Z,1,codes,wxapp/oa_temp/s-a.jpg,image/jpeg,2048,ab12,false,"Store 12, entrance"` + "\n",
		`id-perm,oa_perm,wxapp,42,,,,,t2,http://weixin.qq.com/q/02y,,,2025-03-01T08:00:00Z,1,codes,wxapp/oa_perm/i-42.jpg,image/jpeg,100,cd34,true,` + "\n",
		`id-mini,wxa_qrcode,wxmini,,,pages/a?x=1&y=2,430,spring,,,,,2025-03-01T08:00:00Z,3,codes,wxmini/wxa_qrcode/p.jpg,image/jpeg,5,ef56,false,` + "\n",
	}
	jsonLines := []string{
		`{"id":"id-temp","kind":"oa_temp","app_id":"wxapp","scene_str":"a,\"b\"","campaign":"spring","name":"Store 12, entrance","ticket":"gQ+/=","url":"http://weixin.qq.com/q/02x","expire_seconds":2592000,"expires_at":"2025-03-31T16:00:00+08:00","created_at":"2025-03-01T08:00:00.5Z","generation":1,"bucket":"codes","key":"wxapp/oa_temp/s-a.jpg","content_type":"image/jpeg","size":2048,"sha256":"ab12"}` + "\n",
		`{"id":"id-perm","kind":"oa_perm","app_id":"wxapp","scene_id":42,"ticket":"t2","url":"http://weixin.qq.com/q/02y","created_at":"2025-03-01T08:00:00Z","generation":1,"bucket":"codes","key":"wxapp/oa_perm/i-42.jpg","content_type":"image/jpeg","size":100,"sha256":"cd34","retired":true}` + "\n",
		`{"id":"id-mini","kind":"wxa_qrcode","app_id":"wxmini","path":"pages/a?x=1&y=2","width":430,"campaign":"spring","created_at":"2025-03-01T08:00:00Z","generation":3,"bucket":"codes","key":"wxmini/wxa_qrcode/p.jpg","content_type":"image/jpeg","size":5,"sha256":"ef56"}` + "\n",
	}
	tests := []struct {
		name      string
		recs      []*wxqr.Record
		wantCSV   string
		wantJSONL string
	}{
		{"no records", nil, csvHeader, ""},
		{"one", recs[:1], csvHeader + csvRows[0], jsonLines[0]},
		{"all", recs, csvHeader + strings.Join(csvRows, ""), strings.Join(jsonLines, "")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			writers := []struct {
				format string
				new    func(*bytes.Buffer) catalog.RecordWriter
				want   string
			}{
				{"csv", func(b *bytes.Buffer) catalog.RecordWriter { return catalog.WriteCSV(b) }, tt.wantCSV},
				{"jsonl", func(b *bytes.Buffer) catalog.RecordWriter { return catalog.WriteJSONL(b) }, tt.wantJSONL},
			}
			for _, w := range writers {
				t.Run(w.format, func(t *testing.T) {
					var buf bytes.Buffer
					rw := w.new(&buf)
					for _, rec := range tt.recs {
						if err := rw.Write(rec); err != nil {
							t.Fatalf("Write: %v", err)
						}
					}
					if err := rw.Flush(); err != nil {
						t.Fatalf("Flush: %v", err)
					}
					if got := buf.String(); got != w.want {
						t.Errorf("output:\n%s\nwant:\n%s", got, w.want)
					}
				})
			}
		})
	}
}

// failingWriter fails every write.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWritersReportWriteErrors(t *testing.T) {
	writers := map[string]catalog.RecordWriter{
		"csv":   catalog.WriteCSV(failingWriter{}),
		"jsonl": catalog.WriteJSONL(failingWriter{}),
	}
	for format, rw := range writers {
		t.Run(format, func(t *testing.T) {
			err := rw.Write(exportRecords()[0])
			if err == nil {
				err = rw.Flush()
			}
			if err == nil || !strings.Contains(err.Error(), "disk full") {
				t.Errorf("error = %v, want the writer's error", err)
			}
		})
	}
}

func TestExport(t *testing.T) {
	c, _ := newCatalog(t, catalog.Config{BatchSize: 2})
	spring := []*wxqr.Record{
		tempRecord("x1", "spring", base), tempRecord("x2", "spring", base), tempRecord("x3", "spring", base),
		permRecord("wxoa", wxqr.KindOAPerm, 5, "spring"),
	}
	mustPut(t, c, spring...)
	mustPut(t, c, tempRecord("y", "summer", base))
	wantIDs := sorted(ids(spring)...)

	t.Run("csv", func(t *testing.T) {
		var buf bytes.Buffer
		n, err := c.Export(t.Context(), "spring", catalog.WriteCSV(&buf), nil)
		if err != nil || n != len(spring) {
			t.Fatalf("Export() = %d, %v; want %d", n, err, len(spring))
		}
		rows, err := csv.NewReader(&buf).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(rows[0], ",") + "\n"; got != csvHeader {
			t.Errorf("header = %q", got)
		}
		var got []string
		for _, row := range rows[1:] {
			got = append(got, row[0])
		}
		if !slices.Equal(got, wantIDs) {
			t.Errorf("exported ids %v, want %v", got, wantIDs)
		}
	})

	t.Run("jsonl", func(t *testing.T) {
		var buf bytes.Buffer
		n, err := c.Export(t.Context(), "spring", catalog.WriteJSONL(&buf), nil)
		if err != nil || n != len(spring) {
			t.Fatalf("Export() = %d, %v; want %d", n, err, len(spring))
		}
		var got []string
		sc := bufio.NewScanner(&buf)
		for sc.Scan() {
			var rec wxqr.Record
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				t.Fatalf("line %q: %v", sc.Text(), err)
			}
			if want := toJSON(t, mustGet(t, c, rec.ID)); toJSON(t, &rec) != want {
				t.Errorf("exported %s, want %s", sc.Text(), want)
			}
			got = append(got, rec.ID)
		}
		if !slices.Equal(got, wantIDs) {
			t.Errorf("exported ids %v, want %v", got, wantIDs)
		}
	})
}

// TestWritersExtraColumns: the extra columns follow the record's own, in
// the CSV header and rows and as the last fields of each JSON line.
func TestWritersExtraColumns(t *testing.T) {
	rec := exportRecords()[1]
	extra := []string{"scans", "new_follows"}
	tests := []struct {
		format string
		new    func(*bytes.Buffer) catalog.RecordWriter
		want   string
	}{
		{"csv", func(b *bytes.Buffer) catalog.RecordWriter { return catalog.WriteCSV(b, extra...) },
			strings.TrimSuffix(csvHeader, "\n") + ",scans,new_follows\n" +
				`id-perm,oa_perm,wxapp,42,,,,,t2,http://weixin.qq.com/q/02y,,,2025-03-01T08:00:00Z,1,codes,wxapp/oa_perm/i-42.jpg,image/jpeg,100,cd34,true,,12,0` + "\n"},
		{"jsonl", func(b *bytes.Buffer) catalog.RecordWriter { return catalog.WriteJSONL(b, extra...) },
			`{"id":"id-perm","kind":"oa_perm","app_id":"wxapp","scene_id":42,"ticket":"t2","url":"http://weixin.qq.com/q/02y","created_at":"2025-03-01T08:00:00Z","generation":1,"bucket":"codes","key":"wxapp/oa_perm/i-42.jpg","content_type":"image/jpeg","size":100,"sha256":"cd34","retired":true,"scans":12,"new_follows":0}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			var buf bytes.Buffer
			rw := tt.new(&buf)
			if err := rw.Write(rec, 12, 0); err != nil {
				t.Fatalf("Write: %v", err)
			}
			if err := rw.Flush(); err != nil {
				t.Fatalf("Flush: %v", err)
			}
			if got := buf.String(); got != tt.want {
				t.Errorf("output:\n%s\nwant:\n%s", got, tt.want)
			}
		})
		t.Run(tt.format+" refuses a wrong number of values", func(t *testing.T) {
			var buf bytes.Buffer
			rw := tt.new(&buf)
			for _, values := range [][]int64{nil, {1}, {1, 2, 3}} {
				if err := rw.Write(rec, values...); err == nil {
					t.Errorf("Write with %d values for 2 columns: no error", len(values))
				}
			}
		})
	}
	t.Run("csv header without records", func(t *testing.T) {
		var buf bytes.Buffer
		if err := catalog.WriteCSV(&buf, extra...).Flush(); err != nil {
			t.Fatal(err)
		}
		if want := strings.TrimSuffix(csvHeader, "\n") + ",scans,new_follows\n"; buf.String() != want {
			t.Errorf("header %q, want %q", buf.String(), want)
		}
	})
}

// TestExportExtra: the extra values are read a batch of records at a time,
// and each lands on its own record's row.
func TestExportExtra(t *testing.T) {
	c, _ := newCatalog(t, catalog.Config{BatchSize: 2})
	spring := []*wxqr.Record{
		tempRecord("x1", "spring", base), tempRecord("x2", "spring", base), tempRecord("x3", "spring", base),
		tempRecord("x4", "spring", base), tempRecord("x5", "spring", base),
	}
	mustPut(t, c, spring...)
	mustPut(t, c, tempRecord("y", "summer", base))
	// Each record's value is its scene's length times 100, plus its
	// position in the batch: a value on the wrong row shows.
	var batches []int
	extra := func(_ context.Context, recs []*wxqr.Record) ([][]int64, error) {
		batches = append(batches, len(recs))
		rows := make([][]int64, len(recs))
		for i, rec := range recs {
			rows[i] = []int64{int64(len(rec.Scene())) * 100, int64(i)}
		}
		return rows, nil
	}

	var buf bytes.Buffer
	n, err := c.Export(t.Context(), "spring", catalog.WriteCSV(&buf, "size100", "pos"), extra)
	if err != nil || n != len(spring) {
		t.Fatalf("Export() = %d, %v; want %d", n, err, len(spring))
	}
	if !slices.Equal(batches, []int{2, 2, 1}) {
		t.Errorf("extra called with batches of %v records, want [2 2 1]", batches)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for i, row := range rows[1:] {
		rec := mustGet(t, c, row[0])
		want := []string{strconv.Itoa(len(rec.Scene()) * 100), strconv.Itoa(i % 2)}
		if got := row[len(row)-2:]; !slices.Equal(got, want) {
			t.Errorf("row %d (%s) ends in %v, want %v", i, row[0], got, want)
		}
	}

	t.Run("an error from extra stops the export", func(t *testing.T) {
		boom := errors.New("counts unreadable")
		_, err := c.Export(t.Context(), "spring", catalog.WriteCSV(io.Discard, "a"),
			func(context.Context, []*wxqr.Record) ([][]int64, error) { return nil, boom })
		if !errors.Is(err, boom) {
			t.Errorf("Export() error %v, want %v", err, boom)
		}
	})
	t.Run("too few rows of values", func(t *testing.T) {
		_, err := c.Export(t.Context(), "spring", catalog.WriteCSV(io.Discard, "a"),
			func(context.Context, []*wxqr.Record) ([][]int64, error) { return [][]int64{{1}}, nil })
		if err == nil || !strings.Contains(err.Error(), "1 rows of extra values for 2 records") {
			t.Errorf("Export() error %v, want one about the row count", err)
		}
	})
}

func ExampleWriteCSV() {
	w := catalog.WriteCSV(os.Stdout)
	rec := &wxqr.Record{
		ID:        "5f0c1d7e9a3b2c4d5e6f708192a3b4c5",
		Spec:      wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: "wx1234", SceneID: 7},
		Campaign:  "spring",
		Name:      "Store 7",
		Ticket:    "gQH47joAAAAAAAAAASxodHRwOi8v",
		URL:       "http://weixin.qq.com/q/02abc",
		CreatedAt: time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC), Generation: 1,
		Bucket: "codes", ObjectKey: "wx1234/oa_perm/i-7.jpg", ContentType: "image/jpeg", Size: 2048,
	}
	if err := w.Write(rec); err != nil {
		panic(err)
	}
	if err := w.Flush(); err != nil {
		panic(err)
	}
	// Output:
	// id,kind,app_id,scene_id,scene_str,path,width,campaign,ticket,url,expire_seconds,expires_at,created_at,generation,bucket,key,content_type,size,sha256,retired,name
	// 5f0c1d7e9a3b2c4d5e6f708192a3b4c5,oa_perm,wx1234,7,,,,spring,gQH47joAAAAAAAAAASxodHRwOi8v,http://weixin.qq.com/q/02abc,,,2025-03-01T08:00:00Z,1,codes,wx1234/oa_perm/i-7.jpg,image/jpeg,2048,,false,Store 7
}
