package monitor

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/jobfile"
	"github.com/wxqr/wxqr/jobfile/jobfiletest"
	"github.com/wxqr/wxqr/preflight"
	"github.com/wxqr/wxqr/storage"
)

// uploadApps are the apps of the upload tests, those of jobfiletest's rows.
var uploadApps = map[string]wxqr.AppType{"wxoa": wxqr.AppOA, "wxmp": wxqr.AppMP}

// uploadFixture is a monitor server that takes uploads, on a real Redis.
type uploadFixture struct {
	*fixture
	inspector *asynq.Inspector
	// permCap is the lifetime cap of every app's oa_perm class.
	permCap atomic.Int64
	// now is the upload clock's offset from the real time.
	now atomic.Int64
}

// newUploadFixture starts a server with uploads; configure may change its
// Config further.
func newUploadFixture(t *testing.T, configure func(*Config)) *uploadFixture {
	t.Helper()
	u := &uploadFixture{}
	u.permCap.Store(100_000)
	u.fixture = newFixture(t, func(cfg *Config) {
		rdb := cfg.Redis
		cat := cfg.Catalog.(*catalog.Catalog)
		pf, err := preflight.New(preflight.Config{
			Catalog: cat,
			LifetimeCaps: func(_ string, class wxqr.QuotaClass) (int64, bool) {
				if class == wxqr.ClassOAPerm {
					return u.permCap.Load(), true
				}
				return 0, false
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		inspector := asynq.NewInspectorFromRedisClient(rdb)
		store := cfg.Store
		u.inspector = inspector
		cfg.Upload = &UploadConfig{
			Apps:      uploadApps,
			Preflight: pf,
			NewQueuer: func() *jobfile.Queuer {
				return &jobfile.Queuer{
					Client: asynq.NewClientFromRedisClient(rdb), Inspector: inspector, Catalog: cat,
					OpenStore: func(context.Context) (storage.Store, error) { return store, nil },
					Now:       time.Now,
				}
			},
			Now: func() time.Time { return time.Now().Add(time.Duration(u.now.Load())) },
		}
		if configure != nil {
			configure(cfg)
		}
	})
	return u
}

// post sends a multipart form: fields, then the file (skipped when name is
// ""), with header (which may be nil).
func (u *uploadFixture) post(t *testing.T, path string, fields map[string]string, name string, file []byte, header http.Header) (*http.Response, string) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range fields {
			if !yield(k) {
				return
			}
		}
	}) {
		if err := mw.WriteField(k, fields[k]); err != nil {
			t.Fatal(err)
		}
	}
	// A name with "+" sends the file once per name: a form no browser
	// sends, but anyone can.
	for n := range strings.SplitSeq(name, "+") {
		if n == "" {
			continue
		}
		fw, err := mw.CreateFormFile("file", n)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fw.Write(file); err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, u.url+path, &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	for k, v := range header {
		req.Header[k] = v
	}
	return send(t, req)
}

// confirm posts the confirmation of the upload whose page is page.
func (u *uploadFixture) confirm(t *testing.T, page string, partial bool) (*http.Response, string) {
	t.Helper()
	action := confirmAction.FindStringSubmatch(page)
	if action == nil {
		t.Fatalf("no confirmation form in the page:\n%s", page)
	}
	form := url.Values{}
	if partial {
		form.Set("partial", "1")
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, u.url+action[1], strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return send(t, req)
}

var confirmAction = regexp.MustCompile(`<form class="confirm" method="post" action="([^"]+)"`)

// send sends req without following redirects.
func send(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// queued returns the task ids pending in every queue, sorted.
func (u *uploadFixture) queued(t *testing.T) []string {
	t.Helper()
	queues, err := u.inspector.Queues()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, q := range queues {
		infos, err := u.inspector.ListPendingTasks(q, asynq.PageSize(1000))
		if err != nil {
			t.Fatal(err)
		}
		for _, info := range infos {
			ids = append(ids, info.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

// taskIDs are the task ids of the distinct valid codes of rows, sorted, as
// enqueue would queue them with campaign filling the empty cells.
func taskIDs(t *testing.T, rows []jobfile.Row, campaign string) []string {
	t.Helper()
	chk := &jobfile.Checker{Apps: uploadApps, Defaults: jobfile.Defaults{Campaign: campaign}}
	var ids []string
	for _, r := range rows {
		p, errs := chk.Check(&r)
		if len(errs) > 0 {
			t.Fatalf("row %+v: %v", r, errs)
		}
		if !slices.Contains(ids, p.TaskID()) {
			ids = append(ids, p.TaskID())
		}
	}
	slices.Sort(ids)
	return ids
}

// csvOf writes rows as a jobs file with every column.
func csvOf(t *testing.T, rows []jobfile.Row) []byte {
	t.Helper()
	var b bytes.Buffer
	cw := csv.NewWriter(&b)
	_ = cw.Write(jobfile.Columns)
	for _, r := range rows {
		_ = cw.Write(jobfiletest.Cells(r))
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// xlsxOf writes rows as a workbook, on a second sheet named sheet.
func xlsxOf(t *testing.T, rows []jobfile.Row, sheet string) []byte {
	t.Helper()
	cells := [][]any{jobfiletest.Header()}
	for _, r := range rows {
		cells = append(cells, jobfiletest.TypedCells(r))
	}
	path := filepath.Join(t.TempDir(), "book.xlsx")
	jobfiletest.WriteWorkbook(t, path,
		jobfiletest.Sheet{Name: "Notes", Rows: jobfiletest.RowsOf([]any{"not a jobs sheet"})},
		jobfiletest.Sheet{Name: sheet, Rows: jobfiletest.RowsOf(cells...)})
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// campaignRows are a valid campaign: Official Account and Mini Program
// codes, one row twice, one without a campaign.
var campaignRows = []jobfile.Row{
	{Kind: "oa_perm", AppID: "wxoa", SceneID: "1", Name: "Store 1"},
	{Kind: "oa_perm", AppID: "wxoa", SceneStr: "store-2", Name: "Store 2"},
	{Kind: "oa_temp", AppID: "wxoa", SceneID: "3", ExpireSeconds: "604800"},
	{Kind: "wxa_qrcode", AppID: "wxmp", Path: "pages/index?id=4"},
	{Kind: "wxa_unlimited", AppID: "wxmp", SceneStr: "id=5", Path: "pages/shop", Style: jobfile.Style{LineColor: "#1a5fb4"}},
	{Kind: "oa_perm", AppID: "wxoa", SceneID: "1", Name: "Store 1"},
}

func TestUploadInvalidFile(t *testing.T) {
	u := newUploadFixture(t, nil)
	rows := []jobfile.Row{{Kind: "oa_perm", AppID: "wxoa", SceneID: "1"}} // row 2: valid
	for _, tt := range jobfiletest.InvalidRows {
		rows = append(rows, tt.Row) // rows 3...
	}
	check := func(t *testing.T, page string, at func(i int) string) {
		t.Helper()
		for i, tt := range jobfiletest.InvalidRows {
			want := regexp.MustCompile(`<tr><td class="nowrap">` + regexp.QuoteMeta(at(i)) + `</td><td>` +
				regexp.QuoteMeta(tt.WantField) + `: [^<]*` + regexp.QuoteMeta(htmlEscape(tt.WantRule)))
			if !want.MatchString(page) {
				t.Errorf("%s: the page does not list %s: %s: ...%s", tt.Name, at(i), tt.WantField, tt.WantRule)
			}
		}
		if want := fmt.Sprintf("%d of %d rows are invalid", len(jobfiletest.InvalidRows), len(rows)); !strings.Contains(page, want) {
			t.Errorf("the page does not say %q", want)
		}
		if strings.Contains(page, `class="confirm"`) {
			t.Error("the page of an invalid file offers to queue it")
		}
	}
	t.Run("csv", func(t *testing.T) {
		resp, page := u.post(t, "/campaigns/upload", nil, "jobs.csv", csvOf(t, rows), nil)
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("status %d, want 422:\n%s", resp.StatusCode, page)
		}
		check(t, page, func(i int) string { return fmt.Sprint(i + 3) })
	})
	t.Run("xlsx", func(t *testing.T) {
		resp, page := u.post(t, "/campaigns/upload", map[string]string{"sheet": "codes"}, "book.xlsx", xlsxOf(t, rows, "Codes"), nil)
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("status %d, want 422:\n%s", resp.StatusCode, page)
		}
		check(t, page, func(i int) string { return fmt.Sprintf("Codes!%d", i+3) })
	})
	t.Run("not a jobs file", func(t *testing.T) {
		resp, page := u.post(t, "/campaigns/upload", nil, "jobs.csv", []byte("colour,size\nred,1\n"), nil)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "unknown column") {
			t.Errorf("status %d, want 422 naming the unknown column:\n%s", resp.StatusCode, page)
		}
	})
	if got := u.queued(t); len(got) != 0 {
		t.Errorf("queued %v, want nothing", got)
	}
	if entries, _ := os.ReadDir(u.srv.uploads.dir); len(entries) != 0 {
		t.Errorf("%d files left in the uploads' directory, want none", len(entries))
	}
}

func TestUploadQueuesOnConfirmation(t *testing.T) {
	for _, tt := range []struct {
		name, file, sheet string
		contents          func(t *testing.T) []byte
	}{
		{"csv", "spring.csv", "", func(t *testing.T) []byte { return csvOf(t, campaignRows) }},
		{"xlsx", "spring.xlsx", "Codes", func(t *testing.T) []byte { return xlsxOf(t, campaignRows, "Codes") }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u := newUploadFixture(t, nil)
			fields := map[string]string{"campaign": "spring", "sheet": tt.sheet}
			resp, page := u.post(t, "/campaigns/upload", fields, tt.file, tt.contents(t), nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, want 200:\n%s", resp.StatusCode, page)
			}
			for count, want := range map[string]int{"rows": 6, "codes": 5, "new": 5, "made": 0, "duplicates": 1} {
				if !strings.Contains(page, fmt.Sprintf(`data-count="%s">%d<`, count, want)) {
					t.Errorf("the page does not count %d %s", want, count)
				}
			}
			if !strings.Contains(page, "<td>wxoa</td><td>oa_perm</td>") || !strings.Contains(page, "100000 of 100000") {
				t.Errorf("no pre-flight line of wxoa oa_perm with its lifetime quota:\n%s", page)
			}
			if got := u.queued(t); len(got) != 0 {
				t.Fatalf("queued %v before the confirmation", got)
			}

			resp, _ = u.confirm(t, page, false)
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("confirm: status %d, want 303", resp.StatusCode)
			}
			if got, want := u.queued(t), taskIDs(t, campaignRows, "spring"); !slices.Equal(got, want) {
				t.Errorf("queued %v, want %v", got, want)
			}
			loc := resp.Header.Get("Location")
			if !strings.HasPrefix(loc, "/campaigns/spring?") {
				t.Fatalf("redirect to %q, want the campaign's page", loc)
			}
			_, body := u.get(t, loc)
			if !strings.Contains(string(body), "Queued 5 codes (0 queued or made already).") {
				t.Errorf("the campaign page shows no notice of the codes queued:\n%s", body)
			}
			if entries, _ := os.ReadDir(u.srv.uploads.dir); len(entries) != 0 {
				t.Errorf("%d files left in the uploads' directory after queueing, want none", len(entries))
			}
		})
	}
}

func TestUploadToken(t *testing.T) {
	u := newUploadFixture(t, nil)
	upload := func(t *testing.T) string {
		t.Helper()
		resp, page := u.post(t, "/campaigns/upload", map[string]string{"campaign": "c"}, "jobs.csv", csvOf(t, campaignRows[:1]), nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d, want 200:\n%s", resp.StatusCode, page)
		}
		return page
	}
	t.Run("used twice", func(t *testing.T) {
		page := upload(t)
		if resp, _ := u.confirm(t, page, false); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("first confirmation: status %d, want 303", resp.StatusCode)
		}
		resp, body := u.confirm(t, page, false)
		if resp.StatusCode != http.StatusGone || !strings.Contains(body, "queued already, or it expired") {
			t.Errorf("second confirmation: status %d, want 410 saying so:\n%s", resp.StatusCode, body)
		}
	})
	t.Run("expired", func(t *testing.T) {
		page := upload(t)
		u.now.Store(int64(DefaultUploadTTL + time.Second))
		t.Cleanup(func() { u.now.Store(0) })
		resp, _ := u.confirm(t, page, false)
		if resp.StatusCode != http.StatusGone {
			t.Errorf("status %d, want 410", resp.StatusCode)
		}
		if entries, _ := os.ReadDir(u.srv.uploads.dir); len(entries) != 0 {
			t.Errorf("%d files left in the uploads' directory, want none", len(entries))
		}
	})
	t.Run("unknown", func(t *testing.T) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, u.url+"/campaigns/upload/NOSUCHTOKEN/queue", nil)
		if resp, _ := send(t, req); resp.StatusCode != http.StatusGone {
			t.Errorf("status %d, want 410", resp.StatusCode)
		}
	})
}

func TestUploadOverLifetimeQuota(t *testing.T) {
	u := newUploadFixture(t, nil)
	u.permCap.Store(1) // the campaign has two new oa_perm codes
	for _, partial := range []bool{false, true} {
		resp, page := u.post(t, "/campaigns/upload", map[string]string{"campaign": "big"}, "jobs.csv", csvOf(t, campaignRows), nil)
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, "1 of 1 (too few)") || !strings.Contains(page, `name="partial"`) {
			t.Fatalf("status %d, want 200 with the quota too small and a box to queue what fits:\n%s", resp.StatusCode, page)
		}
		resp, body := u.confirm(t, page, partial)
		switch {
		case !partial && resp.StatusCode != http.StatusConflict:
			t.Errorf("without queue what fits: status %d, want 409:\n%s", resp.StatusCode, body)
		case !partial && len(u.queued(t)) != 0:
			t.Errorf("without queue what fits: queued %v, want nothing", u.queued(t))
		case partial && resp.StatusCode != http.StatusSeeOther:
			t.Errorf("with queue what fits: status %d, want 303:\n%s", resp.StatusCode, body)
		case partial && len(u.queued(t)) != 5:
			t.Errorf("with queue what fits: queued %v, want 5 codes", u.queued(t))
		}
	}
}

func TestUploadRefused(t *testing.T) {
	csvFile := csvOf(t, campaignRows)
	t.Run("read-only", func(t *testing.T) {
		u := newUploadFixture(t, func(cfg *Config) { cfg.ReadOnly = true })
		if _, page := u.get(t, "/campaigns"); strings.Contains(string(page), "/campaigns/upload") {
			t.Error("the read-only campaigns page shows the upload form")
		}
		if resp, _ := u.post(t, "/campaigns/upload", nil, "jobs.csv", csvFile, nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("upload: status %d, want 403", resp.StatusCode)
		}
	})
	u := newUploadFixture(t, func(cfg *Config) { cfg.Upload.MaxBytes = 1 << 10 })
	t.Run("form shown", func(t *testing.T) {
		resp, page := u.get(t, "/campaigns")
		if !strings.Contains(string(page), `action="/campaigns/upload" enctype="multipart/form-data"`) {
			t.Error("the campaigns page shows no upload form")
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self'") {
			t.Errorf("Content-Security-Policy %q does not let forms post to this server", csp)
		}
	})
	t.Run("cross-origin", func(t *testing.T) {
		for _, h := range []http.Header{
			{"Sec-Fetch-Site": {"cross-site"}},
			{"Origin": {"https://elsewhere.example"}},
		} {
			if resp, _ := u.post(t, "/campaigns/upload", nil, "jobs.csv", csvFile, h); resp.StatusCode != http.StatusForbidden {
				t.Errorf("with %v: status %d, want 403", h, resp.StatusCode)
			}
		}
	})
	t.Run("two files", func(t *testing.T) {
		resp, _ := u.post(t, "/campaigns/upload", nil, "a.csv+b.csv", csvFile, nil)
		if resp.StatusCode != http.StatusUnprocessableEntity && resp.StatusCode != http.StatusBadRequest {
			t.Errorf("status %d, want 400 or 422", resp.StatusCode)
		}
		if entries, _ := os.ReadDir(u.srv.uploads.dir); len(entries) != 0 {
			t.Errorf("%d files left in the uploads' directory, want none", len(entries))
		}
	})
	t.Run("too large", func(t *testing.T) {
		big := append(slices.Clone(csvFile), strings.Repeat("oa_perm,wxoa,1,,,,,,,,,,,\n", 100)...)
		resp, page := u.post(t, "/campaigns/upload", nil, "jobs.csv", big, nil)
		if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(page, "larger than 1024 bytes") {
			t.Errorf("status %d, want 413 saying the bound:\n%s", resp.StatusCode, page)
		}
		if entries, _ := os.ReadDir(u.srv.uploads.dir); len(entries) != 0 {
			t.Errorf("%d files left in the uploads' directory, want none", len(entries))
		}
	})
	if got := u.queued(t); len(got) != 0 {
		t.Errorf("queued %v, want nothing", got)
	}
}
