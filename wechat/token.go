package wechat

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
)

// TokenSource supplies an app's access tokens.
type TokenSource interface {
	// Token returns an access token that was valid when it was fetched.
	Token(ctx context.Context) (string, error)
	// Invalidate reports that WeChat rejected the token failed (errcode
	// 40001, 40014 or 42001). The source drops it if it is still its current
	// token, so that the next Token returns another one; a token that has
	// already been replaced is left alone.
	Invalidate(ctx context.Context, failed string) error
}

// Defaults of TokenConfig.
const (
	DefaultTokenKeyPrefix = "wxqr:token:"
	DefaultLockTTL        = 10 * time.Second
	DefaultRefreshBefore  = 5 * time.Minute
	DefaultHoldFor        = time.Second
)

const (
	// minTokenTTL is the shortest time a fetched token is cached, so that a
	// token WeChat hands out close to its renewal is not fetched again on
	// every call.
	minTokenTTL = 5 * time.Second
	// maxTokenBody bounds a token response: a token is ~150 bytes.
	maxTokenBody = 64 << 10
	// Waiting for another process's refresh polls Redis, first after
	// pollMin, backing off to pollMax.
	pollMin = 10 * time.Millisecond
	pollMax = 250 * time.Millisecond
)

// TokenConfig configures the token sources that fetch tokens from WeChat
// with the app's secret and share them through Redis.
type TokenConfig struct {
	// AppID and Secret are the app's credentials. Required. The secret never
	// appears in errors or logs.
	AppID, Secret string
	// Redis caches the token for every process of the fleet. Required.
	Redis redis.UniversalClient
	// APIBaseURL is the API host. Default: DefaultAPIBaseURL
	// (https://api.weixin.qq.com).
	APIBaseURL string
	// HTTPClient fetches the tokens. Default: an http.Client with a
	// DefaultHTTPTimeout (30 s) timeout.
	HTTPClient *http.Client
	// KeyPrefix starts the Redis keys: the token lives at
	// KeyPrefix+"<source>:"+AppID ("stable" or "classic": the two kinds of
	// token are separate sets) and the refresh lock at that key + ":lock".
	// Default: DefaultTokenKeyPrefix ("wxqr:token:").
	KeyPrefix string
	// LockTTL is how long one process may hold the refresh lock; a fetch
	// taking longer is abandoned. Default: DefaultLockTTL (10 s).
	LockTTL time.Duration
	// RefreshBefore treats a token as expired this long before WeChat's
	// expires_in, so that no call carries a token about to die. The cache
	// keeps a token at least 5 s. Default: DefaultRefreshBefore (5 min).
	RefreshBefore time.Duration
	// HoldFor is how long a process keeps using the token it last read or
	// fetched before it reads the cache again, so that a call does not pay
	// a round trip to Redis. A token replaced by another process meanwhile
	// still works (a stable token stays the same while it is valid; a
	// classic one lives 5 minutes past the next fetch), one about to expire
	// has RefreshBefore left, and one WeChat rejects is dropped at once
	// (see Invalidate). At most RefreshBefore. Default: DefaultHoldFor
	// (1 s), or RefreshBefore if shorter.
	HoldFor time.Duration
	// Logger receives token fetches and invalidations (never a token or
	// secret). Default: the zero zerolog.Logger, which logs nothing.
	Logger zerolog.Logger
	// OnFetch, if set, is called after each token this source fetched from
	// WeChat (not after cache hits), for metrics. Default: nil.
	OnFetch func(appID string)
}

func (c TokenConfig) withDefaults() TokenConfig {
	if c.APIBaseURL == "" {
		c.APIBaseURL = DefaultAPIBaseURL
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	if c.KeyPrefix == "" {
		c.KeyPrefix = DefaultTokenKeyPrefix
	}
	if c.LockTTL == 0 {
		c.LockTTL = DefaultLockTTL
	}
	if c.RefreshBefore == 0 {
		c.RefreshBefore = DefaultRefreshBefore
	}
	if c.HoldFor == 0 {
		c.HoldFor = min(DefaultHoldFor, c.RefreshBefore)
	}
	return c
}

func (c TokenConfig) validate() error {
	switch {
	case c.AppID == "":
		return errors.New("AppID is required")
	case c.Secret == "":
		return errors.New("Secret is required")
	case c.Redis == nil:
		return errors.New("Redis is required")
	case c.LockTTL < time.Second:
		return fmt.Errorf("LockTTL must be at least 1s, got %s", c.LockTTL)
	case c.RefreshBefore < 0:
		return fmt.Errorf("RefreshBefore must not be negative, got %s", c.RefreshBefore)
	case c.HoldFor < 0 || c.HoldFor > c.RefreshBefore:
		return fmt.Errorf("HoldFor must be within 0..RefreshBefore, got %s", c.HoldFor)
	}
	return nil
}

// Token operation names, as in errors and logs.
const (
	opStableToken  = "cgi-bin/stable_token"
	opClassicToken = "cgi-bin/token"
)

// NewStableTokenSource returns the recommended token source: tokens from
// POST cgi-bin/stable_token in normal mode (force_refresh false), which
// returns the same token while it is valid, so that other systems using the
// app's stable token are not knocked out. Tokens are cached in Redis for
// the whole fleet; see TokenConfig.
//
// WeChat API docs: https://developers.weixin.qq.com/doc/service/en/api/base/api_getstableaccesstoken.html
func NewStableTokenSource(cfg TokenConfig) (TokenSource, error) {
	return newSharedTokenSource(cfg, "stable", opStableToken, func(s *sharedTokenSource, ctx context.Context) (*http.Request, error) {
		body := struct {
			GrantType    string `json:"grant_type"`
			AppID        string `json:"appid"`
			Secret       string `json:"secret"`
			ForceRefresh bool   `json:"force_refresh"`
		}{"client_credential", s.appID, s.secret, false}
		return newRequest(ctx, http.MethodPost, s.api.ResolveReference(&url.URL{Path: "cgi-bin/stable_token"}), body)
	})
}

// NewClassicTokenSource returns a token source that uses GET cgi-bin/token.
// Every fetch there invalidates the app's previous classic token (after a
// 5-minute overlap), so use it only where nothing else fetches classic
// tokens for the app; it shares tokens and refreshes exactly as
// NewStableTokenSource does.
//
// WeChat API docs: https://developers.weixin.qq.com/doc/offiaccount/en/Basic_Information/Get_access_token.html
func NewClassicTokenSource(cfg TokenConfig) (TokenSource, error) {
	return newSharedTokenSource(cfg, "classic", opClassicToken, func(s *sharedTokenSource, ctx context.Context) (*http.Request, error) {
		q := url.Values{"grant_type": {"client_credential"}, "appid": {s.appID}, "secret": {s.secret}}
		return newRequest(ctx, http.MethodGet, s.api.ResolveReference(&url.URL{Path: "cgi-bin/token", RawQuery: q.Encode()}), nil)
	})
}

// sharedTokenSource caches an app's token in Redis for every process and
// fetches a new one under a Redis lock, so that however many processes and
// goroutines find the cache empty at once, WeChat sees one call.
type sharedTokenSource struct {
	appID, secret string
	op            string // the fetch's operation name
	rdb           redis.UniversalClient
	api           *url.URL
	http          requester
	newRequest    func(*sharedTokenSource, context.Context) (*http.Request, error)
	key, lockKey  string
	lockTTL       time.Duration
	refreshBefore time.Duration
	holdFor       time.Duration
	log           zerolog.Logger
	onFetch       func(appID string)

	mu     sync.Mutex
	flight *tokenFlight // the refresh this process is running, if any
	// held is the token this process uses until heldUntil (see HoldFor).
	held      string
	heldUntil time.Time
}

// tokenFlight is one refresh that every goroutine of the process waits for.
type tokenFlight struct {
	done  chan struct{}
	token string
	err   error
}

func newSharedTokenSource(cfg TokenConfig, kind, op string, newReq func(*sharedTokenSource, context.Context) (*http.Request, error)) (*sharedTokenSource, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("wechat: new %s token source: %w", kind, err)
	}
	api, err := parseBaseURL(cfg.APIBaseURL)
	if err != nil {
		return nil, fmt.Errorf("wechat: new %s token source: APIBaseURL: %w", kind, err)
	}
	key := cfg.KeyPrefix + kind + ":" + cfg.AppID
	return &sharedTokenSource{
		appID:         cfg.AppID,
		secret:        cfg.Secret,
		op:            op,
		rdb:           cfg.Redis,
		api:           api,
		http:          requester{hc: cfg.HTTPClient, maxBody: maxTokenBody},
		newRequest:    newReq,
		key:           key,
		lockKey:       key + ":lock",
		lockTTL:       cfg.LockTTL,
		refreshBefore: cfg.RefreshBefore,
		holdFor:       cfg.HoldFor,
		log:           cfg.Logger.With().Str("app_id", cfg.AppID).Str("token_source", kind).Logger(),
		onFetch:       cfg.OnFetch,
	}, nil
}

// Token returns the token the process holds (see HoldFor), else the
// cached token, or waits for a refresh. Errors fetching the token are
// classified like the client's (a wrong secret is ErrAccount, errcode -1
// ErrTransient); Redis errors are returned wrapped and unclassified.
func (s *sharedTokenSource) Token(ctx context.Context) (string, error) {
	if token, ok := s.holding(); ok {
		return token, nil
	}
	token, err := s.rdb.Get(ctx, s.key).Result()
	switch {
	case err == nil:
		s.hold(token)
		return token, nil
	case !errors.Is(err, redis.Nil):
		return "", fmt.Errorf("wechat: %s for %s: read cache: %w", s.op, s.appID, err)
	}
	// One refresh per process: goroutines that find the cache empty at once
	// share it. It runs apart from the ctx of whichever goroutine started
	// it, so that this goroutine giving up does not fail the others; it is
	// bounded by the lock TTL instead.
	s.mu.Lock()
	f := s.flight
	if f == nil {
		f = &tokenFlight{done: make(chan struct{})}
		s.flight = f
		go s.runFlight(context.WithoutCancel(ctx), f)
	}
	s.mu.Unlock()
	select {
	case <-f.done:
		return f.token, f.err
	case <-ctx.Done():
		return "", fmt.Errorf("wechat: %s for %s: waiting for refresh: %w", s.op, s.appID, context.Cause(ctx))
	}
}

// holding returns the token the process holds, if it still may use it.
func (s *sharedTokenSource) holding() (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held, s.held != "" && time.Now().Before(s.heldUntil)
}

// hold makes token the one the process uses for HoldFor.
func (s *sharedTokenSource) hold(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.held, s.heldUntil = token, time.Now().Add(s.holdFor)
}

// runFlight refreshes the token for every caller waiting on f, and holds
// the one it got, once for them all.
func (s *sharedTokenSource) runFlight(ctx context.Context, f *tokenFlight) {
	f.token, f.err = s.refresh(ctx)
	if f.err == nil {
		s.hold(f.token)
	}
	s.mu.Lock()
	s.flight = nil
	s.mu.Unlock()
	close(f.done)
}

// refresh returns the token that is in the cache, or, if none, takes the
// refresh lock and fetches one. While another process holds the lock it
// polls (with backoff) until that process stores its token or its lock
// expires.
func (s *sharedTokenSource) refresh(ctx context.Context) (string, error) {
	// At most one lock TTL waiting for another process's lock, one holding
	// ours, and a little slack for Redis round trips.
	ctx, cancel := context.WithTimeout(ctx, 2*s.lockTTL+time.Second)
	defer cancel()
	lockValue := randomHex()
	wait := pollMin
	for {
		token, err := s.rdb.Get(ctx, s.key).Result()
		if err == nil {
			return token, nil
		}
		if !errors.Is(err, redis.Nil) {
			return "", fmt.Errorf("wechat: %s for %s: read cache: %w", s.op, s.appID, err)
		}
		locked, err := s.rdb.SetNX(ctx, s.lockKey, lockValue, s.lockTTL).Result()
		if err != nil {
			return "", fmt.Errorf("wechat: %s for %s: take refresh lock: %w", s.op, s.appID, err)
		}
		if locked {
			return s.fetchLocked(ctx, lockValue)
		}
		// Jittered, so that waiting processes do not poll in step.
		t := time.NewTimer(wait/2 + rand.N(wait/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return "", fmt.Errorf("wechat: %s for %s: waiting for another process's refresh: %w", s.op, s.appID, context.Cause(ctx))
		case <-t.C:
		}
		wait = min(2*wait, pollMax)
	}
}

// fetchLocked fetches a token from WeChat and caches it, holding the lock
// whose value is lockValue, and releases the lock.
func (s *sharedTokenSource) fetchLocked(ctx context.Context, lockValue string) (string, error) {
	defer func() {
		// Released even when ctx has ended, so that others need not wait for
		// the lock to expire; compare-and-delete, so that a lock that expired
		// and was taken by another process is left to it.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		if err := compareAndDelete.Run(rctx, s.rdb, []string{s.lockKey}, lockValue).Err(); err != nil {
			s.log.Warn().Err(err).Msg("releasing the token refresh lock failed; it expires by itself")
		}
	}()
	// The previous holder stores its token before it releases the lock, so
	// a token stored between our read and our lock is visible now.
	if token, err := s.rdb.Get(ctx, s.key).Result(); err == nil {
		return token, nil
	}
	// Stop before the lock expires: past that, another process may fetch too.
	fctx, cancel := context.WithTimeout(ctx, s.lockTTL)
	defer cancel()
	token, expiresIn, err := s.fetch(fctx)
	if err != nil {
		return "", err
	}
	ttl := max(expiresIn-s.refreshBefore, min(minTokenTTL, expiresIn))
	if err := s.rdb.Set(ctx, s.key, token, ttl).Err(); err != nil {
		// The token is good; only sharing it failed. Others will fetch their own.
		s.log.Warn().Err(err).Msg("caching the access token failed")
	}
	s.log.Info().Int64("expires_in_s", int64(expiresIn/time.Second)).Int64("cache_ttl_s", int64(ttl/time.Second)).Msg("access token fetched")
	if s.onFetch != nil {
		s.onFetch(s.appID)
	}
	return token, nil
}

// fetch asks WeChat for a token.
func (s *sharedTokenSource) fetch(ctx context.Context) (string, time.Duration, error) {
	req, err := s.newRequest(s, ctx)
	if err != nil {
		return "", 0, &failure{op: s.op, msg: "build request", err: s.http.sanitize(err)}
	}
	rsp, err := s.http.do(ctx, s.op, req)
	if err != nil {
		return "", 0, err
	}
	var out struct {
		apiStatus
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := scrub(decodeJSON(s.op, rsp.body, &out), s.secret); err != nil {
		return "", 0, err
	}
	if out.AccessToken == "" || out.ExpiresIn <= 0 {
		return "", 0, &failure{op: s.op, msg: "response has no access_token or expires_in"}
	}
	return out.AccessToken, time.Duration(out.ExpiresIn) * time.Second, nil
}

// compareAndDelete deletes KEYS[1] if it holds ARGV[1]: releasing a lock we
// hold, or dropping a token that is still the one that failed.
var compareAndDelete = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("DEL", KEYS[1])
end
return 0
`)

// Invalidate stops the process using failed, and deletes the cached token
// if it is still failed.
func (s *sharedTokenSource) Invalidate(ctx context.Context, failed string) error {
	s.mu.Lock()
	if s.held == failed {
		s.held = ""
	}
	s.mu.Unlock()
	n, err := compareAndDelete.Run(ctx, s.rdb, []string{s.key}, failed).Int()
	if err != nil {
		return fmt.Errorf("wechat: %s for %s: invalidate cached token: %w", s.op, s.appID, err)
	}
	if n == 1 {
		s.log.Info().Msg("rejected access token dropped from the cache")
	}
	return nil
}

// randomHex returns 128 random bits, the value that proves a lock is ours.
func randomHex() string {
	var b [16]byte
	_, _ = crand.Read(b[:]) // never fails: crypto/rand panics instead
	return hex.EncodeToString(b[:])
}
