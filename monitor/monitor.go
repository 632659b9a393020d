// Package monitor is the worker's web server for people and probes: the
// asynq web UI, a campaigns page with downloads, Prometheus metrics and
// health checks.
//
// # Routes
//
//	GET /healthz                          200 while the process runs (never behind auth)
//	GET /readyz                           200 {"redis":"ok","storage":"ok"}, or 503 naming what failed
//	GET /metrics                          Config.Metrics (when set)
//	    /monitoring/                      the asynq web UI (asynqmon): queues, pauses, retries, archive
//	                                      (its resume button resumes through Config.Pauses)
//	GET /campaigns                        every campaign with its counts, scans and follows included
//	GET /campaigns/{name}                 one campaign: counts, a chart of its last 30 days, its top codes,
//	                                      and its codes, 200 per page (?page=n)
//	GET /campaigns/{name}/manifest.csv    the campaign's records and their scan counts as CSV, streamed
//	GET /campaigns/{name}/images.zip      every image of the campaign, one zip, streamed
//	GET /campaigns/{name}/print.pdf       PDF label sheets (?paper=a4|letter&grid=3x4&size=50mm&margin=&gutter=)
//	GET /campaigns/{name}/codes.zip       one SVG or PNG per code (?format=svg|png&size=50mm), streamed
//	GET /codes/{id}/image                 one code's image
//	POST /campaigns/upload                a jobs file (CSV or XLSX, multipart): its row errors, or its
//	                                      pre-flight and a button to queue it (Config.Upload)
//	POST /campaigns/upload/{token}/queue  queues a checked upload; the token is used once
//
// Everything is served from the binary: the pages load nothing from
// elsewhere, so the server works offline.
//
// # Safety
//
// The server listens on 127.0.0.1:8080 unless told otherwise. On any
// address that is not loopback, New refuses to build it without
// credentials: then every route but /healthz needs HTTP basic auth. Writes
// (pausing, resuming, deleting tasks in the asynq UI) are refused from other
// sites (cross-origin protection), and refused altogether in read-only mode.
// Uploading a campaign is a write: from this site only, never in read-only
// mode (the form is not shown then).
package monitor

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/wxqr/wxqr"
	"github.com/wxqr/wxqr/catalog"
	"github.com/wxqr/wxqr/printsheet"
	"github.com/wxqr/wxqr/scans"
	"github.com/wxqr/wxqr/storage"
)

// Catalog is what the server reads from the code catalog (a
// *catalog.Catalog).
type Catalog interface {
	Campaigns(ctx context.Context) ([]string, error)
	Each(ctx context.Context, campaign string, fn func(*wxqr.Record) error) error
	CampaignStats(ctx context.Context, campaign string, now time.Time, soon time.Duration) (catalog.Stats, error)
	CampaignStatsOf(ctx context.Context, campaigns []string, now time.Time, soon time.Duration) ([]catalog.Stats, error)
	PageAfter(ctx context.Context, campaign, after string, size int) (catalog.Page, error)
	Get(ctx context.Context, id string) (*wxqr.Record, error)
	GetMany(ctx context.Context, ids []string) ([]*wxqr.Record, error)
	Export(ctx context.Context, campaign string, w catalog.RecordWriter, extra catalog.Extra) (int, error)
}

var _ Catalog = (*catalog.Catalog)(nil)

// Scans reads what the campaigns' codes brought: scans, follows and Mini
// Program launches (a *scans.Store).
type Scans interface {
	Campaigns(ctx context.Context, names []string) ([]scans.Counts, error)
	Days(ctx context.Context, campaign string, from, to time.Time) ([]scans.Day, error)
	Top(ctx context.Context, campaign string, n int) ([]scans.CodeCounts, error)
	ExportValues(ctx context.Context, recs []*wxqr.Record) ([][]int64, error)
}

var _ Scans = (*scans.Store)(nil)

// Pauses resumes queues the way wxqr does: asynq's pause flag and wxqr's
// record of why the queue was paused go together (a *tasks.Pauses).
type Pauses interface {
	Resume(ctx context.Context, queue string) error
}

// Config configures a Server.
type Config struct {
	// Addr is the TCP address Start listens on. Default "127.0.0.1:8080".
	// Any address whose host is not a loopback IP or "localhost" (":8080"
	// included) requires Username and Password.
	Addr string

	// Username and Password, when set, protect every route but /healthz
	// with HTTP basic auth. Give both or neither. Default: none, which is
	// allowed only on a loopback Addr.
	Username, Password string

	// ReadOnly makes the asynq UI view-only and refuses every request that
	// is not GET or HEAD with 403. Default false.
	ReadOnly bool

	// RedisConnOpt is the Redis of the asynq queues, for the asynq UI.
	// Required.
	RedisConnOpt asynq.RedisConnOpt

	// Redis is pinged by /readyz. Required.
	Redis redis.UniversalClient

	// Store holds the images: served one by one and zipped per campaign;
	// /readyz checks it. Required.
	Store storage.Store

	// Catalog lists the campaigns and their codes. Required.
	Catalog Catalog

	// Scans counts what each campaign and code brought, for the campaign
	// pages. Required.
	Scans Scans

	// Pauses resumes a queue when the asynq UI's resume button is pressed,
	// in place of asynq's own resume, which would leave wxqr's pause record
	// behind. Required.
	Pauses Pauses

	// Metrics serves /metrics (metrics.Metrics.Handler). Default nil: no
	// /metrics route.
	Metrics http.Handler

	// PrintFont draws the text of the PDF print sheets
	// (printsheet.LoadFont). Default nil: Helvetica, which prints Western
	// European text only.
	PrintFont *printsheet.Font

	// MaxSheetCodes bounds the codes of a campaign's PDF print sheets: the
	// server makes the whole PDF in memory (some 10 KB per Official Account
	// code, the image per Mini Program code) before it sends it. A larger
	// campaign is refused with 422 (enqueue print has no bound). Default
	// DefaultMaxSheetCodes.
	MaxSheetCodes int

	// MaxDownloads bounds the campaign-wide downloads served at once
	// (manifest.csv, images.zip, codes.zip, print.pdf): each reads the
	// whole campaign from Redis and storage, so a few people clicking at a
	// million-code campaign must not take the worker's Redis and bandwidth
	// from its codes. One more is refused with 503 and Retry-After.
	// Default DefaultMaxDownloads.
	MaxDownloads int
	// Upload lets /campaigns take a jobs file and queue it. Default nil:
	// no upload form.
	Upload *UploadConfig

	// Logger receives the server's errors and its start. Default: a logger
	// that discards everything.
	Logger zerolog.Logger

	// ExpiringSoon is the window in which a temporary code counts as
	// expiring soon on the campaign pages. Default 48 h.
	ExpiringSoon time.Duration

	// CheckTimeout bounds each readiness check (Redis, storage). Default
	// 5 s.
	CheckTimeout time.Duration
}

// Defaults for zero Config fields.
const (
	DefaultAddr         = "127.0.0.1:8080"
	DefaultExpiringSoon = 48 * time.Hour
	DefaultCheckTimeout = 5 * time.Second
	// DefaultMaxDownloads lets a few people download at once while the
	// worker keeps most of its Redis and bandwidth for making codes.
	DefaultMaxDownloads = 4
)

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.ExpiringSoon == 0 {
		c.ExpiringSoon = DefaultExpiringSoon
	}
	if c.CheckTimeout == 0 {
		c.CheckTimeout = DefaultCheckTimeout
	}
	if c.MaxDownloads == 0 {
		c.MaxDownloads = DefaultMaxDownloads
	}
	if c.MaxSheetCodes == 0 {
		c.MaxSheetCodes = DefaultMaxSheetCodes
	}
	if c.Upload != nil {
		u := c.Upload.withDefaults()
		c.Upload = &u
	}
	return c
}

// CheckAccess checks who could reach a server listening on addr with these
// basic-auth credentials: it wants both a username and a password or
// neither, and credentials whenever addr is reachable from other machines.
// New runs it; a command runs it too, to refuse a bad value before it
// connects to anything. No error quotes the password.
func CheckAccess(addr, username, password string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("monitor: address %q: %w", addr, err)
	}
	if (username == "") != (password == "") {
		return errors.New("monitor: give both a username and a password for basic auth, or neither")
	}
	if username == "" && !isLoopback(host) {
		return fmt.Errorf("monitor: refusing to serve on %s without credentials: it is reachable from other machines; set a username and password for basic auth, or listen on 127.0.0.1", addr)
	}
	return nil
}

func (c Config) validate() error {
	if err := CheckAccess(c.Addr, c.Username, c.Password); err != nil {
		return err
	}
	switch {
	case c.RedisConnOpt == nil:
		return errors.New("monitor: RedisConnOpt is required")
	case c.Redis == nil:
		return errors.New("monitor: Redis is required")
	case c.Store == nil:
		return errors.New("monitor: Store is required")
	case c.Catalog == nil:
		return errors.New("monitor: Catalog is required")
	case c.Scans == nil:
		return errors.New("monitor: Scans is required")
	case c.Pauses == nil:
		return errors.New("monitor: Pauses is required")
	case c.ExpiringSoon < 0:
		return fmt.Errorf("monitor: ExpiringSoon must not be negative, got %s", c.ExpiringSoon)
	case c.CheckTimeout < 0:
		return fmt.Errorf("monitor: CheckTimeout must not be negative, got %s", c.CheckTimeout)
	case c.MaxDownloads < 0:
		return fmt.Errorf("monitor: MaxDownloads must not be negative, got %d", c.MaxDownloads)
	case c.MaxSheetCodes < 0:
		return fmt.Errorf("monitor: MaxSheetCodes must not be negative, got %d", c.MaxSheetCodes)
	case c.Upload != nil:
		return c.Upload.validate()
	}
	return nil
}

// isLoopback reports whether host (from host:port) only accepts
// connections from this machine.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Server is the monitoring web server.
type Server struct {
	cfg     Config
	log     zerolog.Logger
	ui      *asynqmon.HTTPHandler
	handler http.Handler
	http    *http.Server

	// basic auth credentials, hashed so that comparing them takes the
	// same time whatever their lengths
	userHash, passHash [sha256.Size]byte

	mu       sync.Mutex
	listener net.Listener // set by Start

	closeUI func() error // closes the asynq UI's connections, once

	// downloads holds a token per campaign-wide download being served
	// (Config.MaxDownloads).
	downloads chan struct{}
	// uploads wait for their confirmation; nil without Config.Upload.
	uploads *uploads
}

// New returns a server configured by cfg, after applying its defaults. It
// fails if cfg is invalid, and in particular if Addr is reachable from
// other machines and no credentials are set.
func New(cfg Config) (*Server, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:       cfg,
		log:       cfg.Logger,
		userHash:  sha256.Sum256([]byte(cfg.Username)),
		passHash:  sha256.Sum256([]byte(cfg.Password)),
		downloads: make(chan struct{}, cfg.MaxDownloads),
	}
	s.ui = asynqmon.New(asynqmon.Options{
		RootPath:     asynqUIRoot,
		RedisConnOpt: cfg.RedisConnOpt,
		ReadOnly:     cfg.ReadOnly,
	})
	s.closeUI = sync.OnceValue(s.ui.Close)
	if cfg.Upload != nil && !cfg.ReadOnly {
		var err error
		if s.uploads, err = newUploads(); err != nil {
			return nil, err
		}
	}
	s.handler = s.routes()
	s.http = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// No WriteTimeout: a campaign's zip may take minutes to stream.
		ErrorLog: zerologStdLogger(s.log),
	}
	return s, nil
}

// download serves a campaign-wide download while fewer than
// Config.MaxDownloads are being served, and refuses it otherwise.
func (s *Server) download(serve http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case s.downloads <- struct{}{}:
			defer func() { <-s.downloads }()
			serve(w, r)
		default:
			w.Header().Set("Retry-After", "30")
			http.Error(w, fmt.Sprintf("%d campaign downloads are being served already: try again in a moment", cap(s.downloads)), http.StatusServiceUnavailable)
		}
	})
}

// Handler returns the server's handler, with authentication and the
// read-only rule applied: what Start serves.
func (s *Server) Handler() http.Handler { return s.handler }

// Start listens on Config.Addr and serves in the background until
// Shutdown. ctx bounds only the start itself. It fails if the address
// cannot be listened on, or if the server was started before.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listener != nil {
		return errors.New("monitor: already started")
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("monitor: listen on %s: %w", s.cfg.Addr, err)
	}
	s.listener = ln
	go func() {
		if err := s.http.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.log.Error().Err(err).Msg("monitor server stopped")
		}
	}()
	s.log.Info().Str("addr", ln.Addr().String()).Bool("basic_auth", s.cfg.Username != "").
		Bool("read_only", s.cfg.ReadOnly).Msg("monitor listening")
	return nil
}

// Addr returns the address the server listens on ("127.0.0.1:8080"; the
// actual port when Config.Addr asked for port 0), or "" before Start.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listener == nil {
		return ""
	}
	return s.listener.Addr().String()
}

// Shutdown stops the server: it stops accepting connections, waits for the
// requests in flight until ctx ends (then cuts them off), and closes the
// asynq UI's Redis connections. It may be called whether or not the server
// was started, and more than once.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.http.Shutdown(ctx)
	if err != nil {
		// Downloads still streaming when time ran out: cut them off.
		err = errors.Join(err, s.http.Close())
	}
	if cerr := s.closeUI(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("close asynq UI: %w", cerr))
	}
	if s.uploads != nil {
		if cerr := s.uploads.close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("delete uploads: %w", cerr))
		}
	}
	if err != nil {
		return fmt.Errorf("monitor: shutdown: %w", err)
	}
	return nil
}

// routes builds the handler: the routes, behind the read-only rule, the
// cross-origin protection and basic auth.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	if s.cfg.Metrics != nil {
		mux.Handle("GET /metrics", s.cfg.Metrics)
	}
	mux.Handle(asynqUIRoot+"/", resumeThrough(s.cfg.Pauses, s.log, offlineUI(s.ui)))
	mux.Handle("GET /{$}", http.RedirectHandler("/campaigns", http.StatusFound))
	mux.HandleFunc("GET /campaigns", s.campaigns)
	mux.HandleFunc("GET /campaigns/{name}", s.campaign)
	mux.Handle("GET /campaigns/{name}/manifest.csv", s.download(s.manifest))
	mux.Handle("GET /campaigns/{name}/images.zip", s.download(s.images))
	mux.Handle("GET /campaigns/{name}/print.pdf", s.download(s.printSheet))
	mux.Handle("GET /campaigns/{name}/codes.zip", s.download(s.codesZip))
	mux.HandleFunc("GET /codes/{id}/image", s.image)
	if s.uploads != nil {
		mux.HandleFunc("POST /campaigns/upload", s.uploadForm)
		mux.HandleFunc("POST /campaigns/upload/{token}/queue", s.queueUpload)
	}

	var h http.Handler = mux
	if s.cfg.ReadOnly {
		h = readOnly(h)
	}
	// The asynq UI changes queues with POST and DELETE, and the upload
	// queues codes with POST; a page on another site must not be able to
	// make a logged-in browser send them. (Sec-Fetch-Site, else Origin.)
	h = http.NewCrossOriginProtection().Handler(h)
	h = frameDenied(h)
	if s.cfg.Username != "" {
		h = s.basicAuth(h)
	}
	return h
}

// basicAuth requires the configured credentials on every route but
// /healthz, which liveness probes call without them.
func (s *Server) basicAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			next.ServeHTTP(w, r)
			return
		}
		user, pass, _ := r.BasicAuth()
		u, p := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(pass))
		if subtle.ConstantTimeCompare(u[:], s.userHash[:])&subtle.ConstantTimeCompare(p[:], s.passHash[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="wxqr monitoring", charset="UTF-8"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// readOnly refuses every request that could change something.
func readOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "the monitor is read-only: "+r.Method+" is not allowed", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// frameDenied keeps every page out of other sites' frames, where its
// buttons could be clicked by trickery.
func frameDenied(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}
