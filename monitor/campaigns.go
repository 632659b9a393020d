package monitor

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/internal/filename"
	"github.com/wxqr/wxqr/scans"
	"github.com/wxqr/wxqr/storage"
)

// codesPerPage is how many codes a campaign page shows.
const codesPerPage = 200

//go:embed templates/*.html
var templateFiles embed.FS

var pages = struct {
	campaigns, campaign, upload *template.Template
}{
	campaigns: parsePage("templates/campaigns.html"),
	campaign:  parsePage("templates/campaign.html"),
	upload:    parsePage("templates/upload.html"),
}

func parsePage(name string) *template.Template {
	return template.Must(template.New("layout.html").Funcs(template.FuncMap{
		"num":         formatCount[int],
		"num64":       formatCount[int64],
		"campaignURL": campaignPath,
	}).ParseFS(templateFiles, "templates/layout.html", "templates/scans.html", name))
}

// layout is what every page's frame shows.
type layout struct {
	Title    string
	ReadOnly bool
	Metrics  bool // whether /metrics is served
}

func (s *Server) layout(title string) layout {
	return layout{Title: title, ReadOnly: s.cfg.ReadOnly, Metrics: s.cfg.Metrics != nil}
}

// campaignRow is one line of the campaigns page.
type campaignRow struct {
	Name  string
	Stats catalog.Stats
	Scans scans.Counts
}

// campaigns lists every campaign with its counts: a few reads per campaign
// (the catalog's counters, the scan counts), none per code.
func (s *Server) campaigns(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	names, err := s.cfg.Catalog.Campaigns(ctx)
	if err != nil {
		s.fail(w, r, "list campaigns", err)
		return
	}
	stats, err := s.cfg.Catalog.CampaignStatsOf(ctx, names, time.Now(), s.cfg.ExpiringSoon)
	if err != nil {
		s.fail(w, r, "count campaigns", err)
		return
	}
	rows := make([]campaignRow, len(names))
	for i, name := range names {
		rows[i] = campaignRow{Name: name, Stats: stats[i]}
	}
	if err := s.addScanCounts(ctx, rows); err != nil {
		s.fail(w, r, "count scans", err)
		return
	}
	s.render(w, r, pages.campaigns, struct {
		layout
		Window    string
		Campaigns []campaignRow
		Upload    bool
		MaxUpload string
	}{s.layout("Campaigns"), formatWindow(s.cfg.ExpiringSoon), rows, s.uploads != nil, s.maxUpload()})
}

// codeView is one code on a campaign page.
type codeView struct {
	ID, Label, Kind, AppID string
	Expires                string // when a temporary code expires; "" for the others
	Status                 string // "retired", "expired", "expiring soon" or ""
}

// campaign shows one campaign: its counts and a page of its codes, the
// page after the cursor ?after= (from the first code without it): a cursor,
// so that a page deep in a large campaign costs what the first one does.
func (s *Server) campaign(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name := r.PathValue("name")
	after := r.URL.Query().Get("after")
	now := time.Now()
	stats, err := s.cfg.Catalog.CampaignStats(ctx, name, now, s.cfg.ExpiringSoon)
	if err != nil {
		s.fail(w, r, "count campaign "+name, err)
		return
	}
	if stats == (catalog.Stats{}) {
		http.Error(w, "no such campaign", http.StatusNotFound)
		return
	}
	page, err := s.cfg.Catalog.PageAfter(ctx, name, after, codesPerPage)
	if err != nil {
		s.fail(w, r, "list codes of campaign "+name, err)
		return
	}
	codes := make([]codeView, len(page.Records))
	for i, rec := range page.Records {
		codes[i] = s.codeView(rec, now)
	}
	scanned, err := s.campaignScans(ctx, name, now)
	if err != nil {
		s.fail(w, r, "count scans of campaign "+name, err)
		return
	}
	pageURL := func(ok bool, after string) string {
		switch {
		case !ok:
			return ""
		case after == "":
			return campaignPath(name)
		}
		return campaignPath(name) + "?after=" + url.QueryEscape(after)
	}
	s.render(w, r, pages.campaign, struct {
		layout
		Name             string
		Window           string
		Stats            catalog.Stats
		Scans            scanView
		Codes            []codeView
		First, Last      int64 // 1-based positions of the codes shown
		PrevURL, NextURL string
		Flash            string
	}{
		Flash:  queuedFlash(r),
		layout: s.layout(name), Name: name, Window: formatWindow(s.cfg.ExpiringSoon), Stats: stats,
		Scans: scanned, Codes: codes,
		First: page.Before + 1, Last: page.Before + int64(len(codes)),
		PrevURL: pageURL(page.HasPrev, page.Prev), NextURL: pageURL(page.HasNext, page.Next),
	})
}

func (s *Server) codeView(rec *wxqr.Record, now time.Time) codeView {
	v := codeView{ID: rec.ID, Label: rec.Label(), Kind: string(rec.Kind), AppID: rec.AppID}
	if !rec.ExpiresAt.IsZero() {
		v.Expires = rec.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC")
	}
	switch {
	case rec.Retired:
		v.Status = "retired"
	case !rec.Valid(now):
		v.Status = "expired"
	case !rec.ExpiresAt.IsZero() && !rec.ExpiresAt.After(now.Add(s.cfg.ExpiringSoon)):
		v.Status = "expiring soon"
	}
	return v
}

// image serves the image of one code, with its content type.
func (s *Server) image(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	rec, err := s.cfg.Catalog.Get(ctx, r.PathValue("id"))
	if errors.Is(err, catalog.ErrNotFound) {
		http.Error(w, "no such code", http.StatusNotFound)
		return
	}
	if err != nil {
		s.fail(w, r, "read code", err)
		return
	}
	obj, err := s.cfg.Store.Get(ctx, rec.Spec.Key())
	if errors.Is(err, storage.ErrNotFound) {
		http.Error(w, "the code's image is missing from storage", http.StatusNotFound)
		return
	}
	if err != nil {
		s.fail(w, r, "read image", err)
		return
	}
	sum := sha256.Sum256(obj.Body)
	h := w.Header()
	h.Set("Content-Type", imageType(obj.ContentType))
	if rec.Name != "" {
		// Shown in the page; saved from it under the code's name.
		var files filename.Set
		h.Set("Content-Disposition", mime.FormatMediaType("inline", map[string]string{"filename": path.Base(files.Code(rec))}))
	}
	// A temporary code's image is replaced in place when it is
	// regenerated: browsers may keep it, but must ask whether it changed.
	h.Set("ETag", `"`+hex.EncodeToString(sum[:16])+`"`)
	h.Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(obj.Body))
}

// imageType is the content type to serve a stored object with: its own if
// it is an image, else a download, so that the store can never make the
// browser run a page from the server's origin.
func imageType(contentType string) string {
	if strings.HasPrefix(contentType, "image/") {
		return contentType
	}
	return "application/octet-stream"
}

// manifest streams the campaign's records as CSV with their scan counts
// (the columns of enqueue export), one batch of records in memory at a
// time.
func (s *Server) manifest(w http.ResponseWriter, r *http.Request) {
	name, out := s.startDownload(w, r, "text/csv; charset=utf-8", ".csv")
	if out == nil {
		return
	}
	_, err := s.cfg.Catalog.Export(r.Context(), name, catalog.WriteCSV(out, scans.ExportColumns...), s.cfg.Scans.ExportValues)
	if err != nil {
		s.streamFailed(w, r, out.sent, "export manifest of "+name, err)
	}
}

// images streams every image of the campaign as one zip, each file named
// after its code's name, or its storage key for a code without one (see
// filename.Set). Only one image is in memory at a time. Images missing
// from storage are listed in MISSING.txt at the end of the archive.
func (s *Server) images(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name, out := s.startDownload(w, r, "application/zip", ".zip")
	if out == nil {
		return
	}
	zw := zip.NewWriter(out)
	var (
		files   filename.Set
		missing []string
	)
	err := s.cfg.Catalog.Each(ctx, name, func(rec *wxqr.Record) error {
		key := rec.Spec.Key()
		obj, err := s.cfg.Store.Get(ctx, key)
		if errors.Is(err, storage.ErrNotFound) {
			missing = append(missing, strings.TrimSpace(key+"  "+rec.Name))
			return nil
		}
		if err != nil {
			return err
		}
		// Images are compressed already: store them as they are.
		f, err := zw.CreateHeader(&zip.FileHeader{Name: files.Code(rec), Method: zip.Store, Modified: rec.CreatedAt})
		if err != nil {
			return err
		}
		_, err = f.Write(obj.Body)
		return err
	})
	if err == nil && len(missing) > 0 {
		s.log.Warn().Str("campaign", name).Int("missing", len(missing)).Msg("images missing from storage; listed in MISSING.txt of the zip")
		err = writeMissing(zw, missing)
	}
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		s.streamFailed(w, r, out.sent, "zip images of "+name, err)
	}
}

// writeMissing lists the codes whose images are missing, one per line: the
// storage key, then the name if the code has one.
func writeMissing(zw *zip.Writer, codes []string) error {
	f, err := zw.Create("MISSING.txt")
	if err != nil {
		return err
	}
	_, err = io.WriteString(f, "These codes are in the catalog but their images are missing from storage:\n"+strings.Join(codes, "\n")+"\n")
	return err
}

// startDownload begins the download of a file about the campaign named in
// the path, saved as the campaign's name + ext: it returns the campaign and
// where to write the file. It returns a nil writer when there is nothing to
// write: the campaign does not exist (answered 404), or the request is a
// HEAD (answered with the headers alone).
func (s *Server) startDownload(w http.ResponseWriter, r *http.Request, contentType, ext string) (string, *sentWriter) {
	name := r.PathValue("name")
	names, err := s.cfg.Catalog.Campaigns(r.Context())
	if err != nil {
		s.fail(w, r, "list campaigns", err)
		return name, nil
	}
	if !slices.Contains(names, name) {
		http.Error(w, "no such campaign", http.StatusNotFound)
		return name, nil
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Disposition", attachment(name+ext))
	if r.Method == http.MethodHead {
		return name, nil
	}
	return name, &sentWriter{w: w}
}

// sentWriter tells whether anything reached the client yet.
type sentWriter struct {
	w    io.Writer
	sent bool
}

func (s *sentWriter) Write(p []byte) (int, error) {
	s.sent = s.sent || len(p) > 0
	return s.w.Write(p)
}

// streamFailed ends a download that failed: with a 500 if nothing was sent
// yet; otherwise by cutting the connection, so that the client sees a
// failed download rather than a file that looks complete.
func (s *Server) streamFailed(w http.ResponseWriter, r *http.Request, sent bool, what string, err error) {
	if !sent {
		w.Header().Del("Content-Disposition")
		s.fail(w, r, what, err)
		return
	}
	s.log.Error().Err(err).Str("path", r.URL.Path).Msg(what + " failed mid-way; connection cut")
	panic(http.ErrAbortHandler)
}

// fail logs err and answers 500 without its details, which may name hosts.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, what string, err error) {
	s.log.Error().Err(err).Str("path", r.URL.Path).Msg(what + " failed")
	http.Error(w, what+" failed; see the worker's log", http.StatusInternalServerError)
}

// render writes a page, with a policy that lets it load nothing but images
// from this server.
func (s *Server) render(w http.ResponseWriter, r *http.Request, t *template.Template, data any) {
	s.renderStatus(w, r, http.StatusOK, t, data)
}

// renderStatus is render answering with status.
func (s *Server) renderStatus(w http.ResponseWriter, r *http.Request, status int, t *template.Template, data any) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		s.fail(w, r, "render page", err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// Forms post to this server only (the upload).
	h.Set("Content-Security-Policy", "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// queuedFlash is the notice of an upload just queued, from the query the
// upload redirects with: "Queued 120 codes (3 queued or made already)."
func queuedFlash(r *http.Request) string {
	q := r.URL.Query()
	queued, err1 := strconv.Atoi(q.Get("queued"))
	already, err2 := strconv.Atoi(q.Get("already"))
	if err1 != nil || err2 != nil {
		return ""
	}
	return fmt.Sprintf("Queued %s codes (%s queued or made already).", formatCount(queued), formatCount(already))
}

// maxUpload is the upload bound as text, "" without uploads.
func (s *Server) maxUpload() string {
	if s.uploads == nil {
		return ""
	}
	return formatBytes(s.cfg.Upload.MaxBytes)
}

// campaignPath is the URL path of a campaign's page. The name is one path
// segment whatever it holds: "/" is escaped, and so are the dots of a name
// that is only dots, which would otherwise mean "this" or "parent".
func campaignPath(name string) string {
	seg := url.PathEscape(name)
	if strings.Trim(seg, ".") == "" {
		seg = strings.ReplaceAll(seg, ".", "%2E")
	}
	return "/campaigns/" + seg
}

// attachment is a Content-Disposition that saves the response as filename,
// whatever characters the campaign's name holds.
func attachment(filename string) string {
	safe := strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '/' || r == '\\' {
			return '_'
		}
		return r
	}, filename)
	return mime.FormatMediaType("attachment", map[string]string{"filename": safe})
}

// formatCount writes n with thousands separators: 12,345.
func formatCount[N int | int64](n N) string {
	s := strconv.FormatInt(int64(n), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// formatWindow writes the expiring-soon window for people: "48 h", "90 min"
// (with a no-break space).
func formatWindow(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%d\u00a0h", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%d\u00a0min", d/time.Minute)
	default:
		return d.String()
	}
}
