package monitor

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"iter"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/jobfile"
	"github.com/wxqr/wxqr/preflight"
)

// Defaults of UploadConfig.
const (
	DefaultUploadMaxBytes    = 20 << 20
	DefaultUploadTTL         = 30 * time.Minute
	DefaultUploadMaxListed   = 200
	DefaultUploadConcurrency = 8
)

// Preflight weighs a campaign's codes against the quotas (a
// *preflight.Checker).
type Preflight interface {
	Check(ctx context.Context, codes iter.Seq[preflight.Code]) (*preflight.Report, error)
}

// UploadConfig lets /campaigns take a jobs file (CSV or XLSX, as enqueue
// reads it), check it, show the per-row errors or the pre-flight, and
// queue it once the user confirms.
type UploadConfig struct {
	// Apps are the configured apps' types, by app id: what the rows are
	// checked against (jobfile.Checker.Apps). Required.
	Apps map[string]wxqr.AppType
	// Preflight weighs the campaign against the lifetime and daily quotas.
	// Required.
	Preflight Preflight
	// NewQueuer returns the queuer of one confirmed upload, the one enqueue
	// uses. Required.
	NewQueuer func() *jobfile.Queuer
	// MaxBytes bounds an uploaded file; a larger one is refused with 413.
	// Default DefaultUploadMaxBytes (20 MB).
	MaxBytes int64
	// TTL is how long a checked upload waits for its confirmation; then it
	// is deleted. Default DefaultUploadTTL (30 min).
	TTL time.Duration
	// MaxListed is how many row errors the page lists, with the total.
	// Default DefaultUploadMaxListed (200).
	MaxListed int
	// Concurrency is how many goroutines queue a confirmed upload. Default
	// DefaultUploadConcurrency (8).
	Concurrency int
	// Now is the time uploads expire by. Default time.Now.
	Now func() time.Time
}

func (c UploadConfig) withDefaults() UploadConfig {
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultUploadMaxBytes
	}
	if c.TTL == 0 {
		c.TTL = DefaultUploadTTL
	}
	if c.MaxListed == 0 {
		c.MaxListed = DefaultUploadMaxListed
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultUploadConcurrency
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (c UploadConfig) validate() error {
	switch {
	case c.Apps == nil:
		return errors.New("monitor: Upload.Apps is required")
	case c.Preflight == nil:
		return errors.New("monitor: Upload.Preflight is required")
	case c.NewQueuer == nil:
		return errors.New("monitor: Upload.NewQueuer is required")
	case c.MaxBytes < 0, c.TTL < 0, c.MaxListed < 0, c.Concurrency < 0:
		return errors.New("monitor: Upload's MaxBytes, TTL, MaxListed and Concurrency must not be negative")
	}
	return nil
}

// upload is a checked jobs file waiting for its confirmation.
type upload struct {
	path     string // the file, in the uploads' directory
	filename string // as the browser named it; how errors name the file
	campaign string // the campaign field: fills the rows' empty campaign cells
	sheet    string
	expires  time.Time
}

// uploads are the files waiting for confirmation, by token. The token is
// the only name of a file (unguessable: 128 random bits), so holding it is
// what ties a confirmation to the upload it confirms. They live in this
// process: a confirmation must reach the worker that took the upload.
type uploads struct {
	dir string
	mu  sync.Mutex
	m   map[string]*upload
}

func newUploads() (*uploads, error) {
	dir, err := os.MkdirTemp("", "wxqr-uploads-*")
	if err != nil {
		return nil, fmt.Errorf("monitor: uploads directory: %w", err)
	}
	return &uploads{dir: dir, m: map[string]*upload{}}, nil
}

// add keeps u under a new token.
func (us *uploads) add(u *upload) string {
	us.mu.Lock()
	defer us.mu.Unlock()
	token := strings.TrimSuffix(filepath.Base(u.path), ".upload")
	us.m[token] = u
	return token
}

// take removes and returns the upload of token, nil if there is none or it
// has expired at now: a token is used once.
func (us *uploads) take(token string, now time.Time) *upload {
	us.mu.Lock()
	u := us.m[token]
	delete(us.m, token)
	us.mu.Unlock()
	if u != nil && !now.Before(u.expires) {
		os.Remove(u.path)
		return nil
	}
	return u
}

// sweep deletes the uploads expired at now.
func (us *uploads) sweep(now time.Time) {
	us.mu.Lock()
	defer us.mu.Unlock()
	for token, u := range us.m {
		if !now.Before(u.expires) {
			os.Remove(u.path)
			delete(us.m, token)
		}
	}
}

// close deletes every upload.
func (us *uploads) close() error {
	us.mu.Lock()
	defer us.mu.Unlock()
	clear(us.m)
	return os.RemoveAll(us.dir)
}

// errTooLarge is an upload past UploadConfig.MaxBytes.
var errTooLarge = errors.New("upload too large")

// receive saves the multipart form's file to the uploads' directory and
// returns it with the form's campaign and sheet fields, unchecked.
func (s *Server) receive(r *http.Request) (*upload, error) {
	cfg := s.cfg.Upload
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, fmt.Errorf("want a multipart form: %w", err)
	}
	u := &upload{}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return u, fmt.Errorf("read the form: %w", err)
		}
		switch part.FormName() {
		case "campaign":
			u.campaign, err = formValue(part)
		case "sheet":
			u.sheet, err = formValue(part)
		case "file":
			if u.path != "" {
				// A second file would overwrite the first's path and
				// leave its file behind.
				err = errors.New("one file per upload")
				break
			}
			u.filename = filepath.Base(part.FileName())
			err = s.saveUpload(u, part, cfg.MaxBytes)
		}
		part.Close()
		if err != nil {
			return u, err
		}
	}
	if u.path == "" || u.filename == "" || u.filename == "." {
		return u, errors.New("no file chosen")
	}
	u.campaign, u.sheet = strings.TrimSpace(u.campaign), strings.TrimSpace(u.sheet)
	return u, nil
}

// formValue reads a text field of a form, up to 1 KB.
func formValue(part *multipart.Part) (string, error) {
	b, err := io.ReadAll(io.LimitReader(part, 1<<10+1))
	if err != nil {
		return "", fmt.Errorf("read the form: %w", err)
	}
	if len(b) > 1<<10 {
		return "", fmt.Errorf("field %s is longer than 1 KB", part.FormName())
	}
	return string(b), nil
}

// saveUpload copies the file part to a new file named by a new token, at
// most maxBytes of it.
func (s *Server) saveUpload(u *upload, part io.Reader, maxBytes int64) error {
	token := rand.Text() // 26 base32 characters, 130 random bits
	f, err := os.OpenFile(filepath.Join(s.uploads.dir, token+".upload"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("save the upload: %w", err)
	}
	u.path = f.Name()
	n, err := io.Copy(f, io.LimitReader(part, maxBytes+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil:
		return fmt.Errorf("save the upload: %w", err)
	case n > maxBytes:
		return errTooLarge
	}
	return nil
}

// rowError is one broken rule of an invalid row: "Codes!12: scene_id:
// must be 1..100000".
type rowError struct{ At, Problem string }

// checkedUpload is what the check of an upload found.
type checkedUpload struct {
	source     jobfile.Source
	release    func()
	checker    *jobfile.Checker
	plan       *jobfile.Plan
	errors     []rowError // the first MaxListed
	errorCount int
}

// check reads and checks the upload, row by row, as enqueue does. A file
// that is no jobs file is an error wrapping jobfile.InputError.
func (s *Server) check(ctx context.Context, u *upload) (*checkedUpload, error) {
	cfg := s.cfg.Upload
	src, release, err := jobfile.Open(u.path, u.filename, jobfile.OpenOptions{Sheet: u.sheet})
	if err != nil {
		return nil, err
	}
	c := &checkedUpload{source: src, release: release,
		checker: &jobfile.Checker{Apps: cfg.Apps, Defaults: jobfile.Defaults{Campaign: u.campaign}}}
	c.plan, err = jobfile.Validate(ctx, src, c.checker, func(at string, fe *wxqr.FieldError) {
		c.errorCount++
		if len(c.errors) < cfg.MaxListed {
			// The file's name leads every location: the page says it once.
			c.errors = append(c.errors, rowError{At: strings.TrimPrefix(strings.TrimPrefix(at, u.filename), ":"), Problem: jobfile.Describe(fe)})
		}
	})
	if err != nil {
		release()
		return nil, err
	}
	return c, nil
}

// uploadPage is what the upload's result page shows.
type uploadPage struct {
	layout
	Filename, Campaign, Sheet string
	// Problem is why the file could not be read at all.
	Problem string
	// Errors are the broken rules, the first MaxListed of ErrorCount.
	Errors     []rowError
	ErrorCount int
	Invalid    int
	// The counts of a valid file.
	Rows, Codes, New, Made, Duplicates int
	Preflight                          []preflightRow
	Over                               bool // the campaign does not fit in a lifetime quota
	Token                              string
	Expires                            string
}

// preflightRow is one line of the pre-flight table.
type preflightRow struct {
	AppID, Class          string
	Codes, Needed         int64
	Lifetime, Today, Days string
	Fits                  bool
}

// uploadForm takes a jobs file, checks it and shows the errors, or the
// pre-flight and a button to queue it.
func (s *Server) uploadForm(w http.ResponseWriter, r *http.Request) {
	cfg := s.cfg.Upload
	now := cfg.Now()
	s.uploads.sweep(now)
	// The form's other fields and the multipart framing take a few KB.
	r.Body = http.MaxBytesReader(w, r.Body, cfg.MaxBytes+64<<10)
	u, err := s.receive(r)
	page := uploadPage{layout: s.layout("Upload")}
	if u != nil {
		page.Filename, page.Campaign, page.Sheet = u.filename, u.campaign, u.sheet
	}
	var tooLarge *http.MaxBytesError
	switch {
	case errors.Is(err, errTooLarge), errors.As(err, &tooLarge):
		if u != nil && u.path != "" {
			os.Remove(u.path)
		}
		page.Problem = fmt.Sprintf("The file is larger than %s: split the campaign, or queue it with enqueue.", formatBytes(cfg.MaxBytes))
		s.renderStatus(w, r, http.StatusRequestEntityTooLarge, pages.upload, page)
		return
	case err != nil:
		if u != nil && u.path != "" {
			os.Remove(u.path)
		}
		page.Problem = err.Error()
		s.renderStatus(w, r, http.StatusBadRequest, pages.upload, page)
		return
	}
	keep := false
	defer func() {
		if !keep {
			os.Remove(u.path)
		}
	}()
	c, err := s.check(r.Context(), u)
	var input *jobfile.InputError
	switch {
	case errors.As(err, &input):
		page.Problem = err.Error()
		s.renderStatus(w, r, http.StatusUnprocessableEntity, pages.upload, page)
		return
	case err != nil:
		s.fail(w, r, "check upload", err)
		return
	}
	defer c.release()
	page.Rows, page.Duplicates, page.Invalid = c.plan.Rows, c.plan.Duplicates, c.plan.Invalid
	if c.plan.Invalid > 0 {
		page.Errors, page.ErrorCount = c.errors, c.errorCount
		s.renderStatus(w, r, http.StatusUnprocessableEntity, pages.upload, page)
		return
	}
	report, err := cfg.Preflight.Check(r.Context(), c.plan.Distinct())
	if err != nil {
		s.fail(w, r, "pre-flight", err)
		return
	}
	page.Codes = c.plan.Unique()
	for _, cl := range report.Classes {
		page.New += int(cl.Calls)
		page.Made += int(cl.Codes - cl.Calls)
	}
	page.Preflight, page.Over = preflightRows(report), len(report.Over()) > 0
	u.expires = now.Add(cfg.TTL)
	page.Token = s.uploads.add(u)
	page.Expires = u.expires.UTC().Format("15:04 UTC")
	keep = true
	s.render(w, r, pages.upload, page)
}

// queueUpload queues a checked upload: its token is used once, and the
// pre-flight is weighed again, as the quotas may have moved since.
func (s *Server) queueUpload(w http.ResponseWriter, r *http.Request) {
	cfg := s.cfg.Upload
	u := s.uploads.take(r.PathValue("token"), cfg.Now())
	if u == nil {
		page := uploadPage{layout: s.layout("Upload"),
			Problem: "This upload was queued already, or it expired: upload the file again."}
		s.renderStatus(w, r, http.StatusGone, pages.upload, page)
		return
	}
	defer os.Remove(u.path)
	page := uploadPage{layout: s.layout("Upload"), Filename: u.filename, Campaign: u.campaign, Sheet: u.sheet}
	c, err := s.check(r.Context(), u)
	if err != nil {
		s.fail(w, r, "check upload", err)
		return
	}
	defer c.release()
	if c.plan.Invalid > 0 { // the file is on our disk: it cannot have changed
		s.fail(w, r, "check upload", fmt.Errorf("%d invalid rows in a checked upload", c.plan.Invalid))
		return
	}
	report, err := cfg.Preflight.Check(r.Context(), c.plan.Distinct())
	if err != nil {
		s.fail(w, r, "pre-flight", err)
		return
	}
	if len(report.Over()) > 0 && r.PostFormValue("partial") == "" {
		page.Problem = "The campaign does not fit in the lifetime quota, and \"queue what fits\" was not ticked: nothing was queued. Upload it again to see the numbers."
		page.Preflight, page.Over = preflightRows(report), true
		s.renderStatus(w, r, http.StatusConflict, pages.upload, page)
		return
	}
	q := cfg.NewQueuer()
	err = q.Queue(r.Context(), c.source, c.checker, c.plan, cfg.Concurrency)
	n := q.Counts()
	s.log.Info().Str("campaign", u.campaign).Int64("queued", n.Queued+n.Requeued).
		Int64("already_queued", n.AlreadyQueued).Int64("already_generated", n.AlreadyGenerated).Err(err).Msg("upload queued")
	if err != nil {
		s.fail(w, r, "queue upload", err)
		return
	}
	target := "/campaigns"
	if u.campaign != "" {
		target = campaignPath(u.campaign)
	}
	flash := url.Values{}
	flash.Set("queued", fmt.Sprint(n.Queued+n.Requeued))
	flash.Set("already", fmt.Sprint(n.AlreadyQueued+n.AlreadyGenerated))
	http.Redirect(w, r, target+"?"+flash.Encode(), http.StatusSeeOther)
}

// preflightRows lays the report out as enqueue prints it.
func preflightRows(r *preflight.Report) []preflightRow {
	rows := make([]preflightRow, 0, len(r.Classes))
	for _, c := range r.Classes {
		row := preflightRow{AppID: c.AppID, Class: string(c.Class), Codes: c.Codes, Needed: c.Calls,
			Lifetime: "-", Today: r.TodayLeft(c), Days: preflight.DaysText(r.Days(c.AppID, c.Class)), Fits: c.Fits()}
		if c.Lifetime != nil {
			row.Needed = c.Needed
			row.Lifetime = fmt.Sprintf("%d of %d", c.Lifetime.Remaining(), c.Lifetime.Cap)
		}
		rows = append(rows, row)
	}
	return rows
}

// formatBytes writes n as "20 MB".
func formatBytes(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
