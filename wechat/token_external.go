package wechat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// NewRedisKeyTokenSource returns a source that reads the token another
// system keeps at key in Redis, as a plain string (for example a
// third-party platform's authorizer_access_token). wxqr never refreshes such
// a token: Token reads the key on every call, and Invalidate does nothing,
// since the next Token reads the key again. A missing or empty key is
// ErrToken.
func NewRedisKeyTokenSource(rdb redis.UniversalClient, key string) TokenSource {
	return &redisKeyTokenSource{rdb: rdb, key: key}
}

type redisKeyTokenSource struct {
	rdb redis.UniversalClient
	key string
}

const opRedisKeyToken = "token from Redis key"

func (s *redisKeyTokenSource) Token(ctx context.Context) (string, error) {
	token, err := s.rdb.Get(ctx, s.key).Result()
	switch {
	case errors.Is(err, redis.Nil):
		token = ""
	case err != nil:
		return "", fmt.Errorf("wechat: %s %q: %w", opRedisKeyToken, s.key, err)
	}
	if token = strings.TrimSpace(token); token == "" {
		return "", &failure{op: opRedisKeyToken, class: ErrToken, msg: fmt.Sprintf("no token at %q", s.key)}
	}
	return token, nil
}

func (s *redisKeyTokenSource) Invalidate(context.Context, string) error { return nil }

// NewURLTokenSource returns a source that GETs the token from rawURL, a
// service that another system keeps current. The response is either JSON,
// {"access_token": "...", "expires_in": seconds} (expires_in optional; an
// errcode is reported as an *APIError), or the token as plain text. wxqr
// never refreshes the token: it keeps it until expires_in passes or
// Invalidate reports it rejected, then GETs the URL again. The URL's query
// is kept out of errors, since it may hold a key. httpClient nil means an
// http.Client with a DefaultHTTPTimeout (30 s) timeout.
func NewURLTokenSource(rawURL string, httpClient *http.Client) TokenSource {
	if httpClient == nil {
		httpClient = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	return &urlTokenSource{url: rawURL, http: requester{hc: httpClient, maxBody: maxTokenBody, hideQuery: true}, now: time.Now}
}

type urlTokenSource struct {
	url  string
	http requester
	now  func() time.Time

	mu      sync.Mutex
	token   string
	expires time.Time // zero: until invalidated
}

const opURLToken = "token from URL"

func (s *urlTokenSource) Token(ctx context.Context) (string, error) {
	s.mu.Lock()
	token, expires := s.token, s.expires
	s.mu.Unlock()
	if token != "" && (expires.IsZero() || s.now().Before(expires)) {
		return token, nil
	}
	token, ttl, err := s.fetch(ctx)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.token, s.expires = token, time.Time{}
	if ttl > 0 {
		s.expires = s.now().Add(ttl)
	}
	s.mu.Unlock()
	return token, nil
}

func (s *urlTokenSource) fetch(ctx context.Context) (string, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return "", 0, &failure{op: opURLToken, msg: "build request", err: s.http.sanitize(err)}
	}
	rsp, err := s.http.do(ctx, opURLToken, req)
	if err != nil {
		return "", 0, err
	}
	if !looksLikeJSON(rsp.body) {
		token := string(bytes.TrimSpace(rsp.body))
		if token == "" || strings.ContainsAny(token, " \t\r\n<>") {
			return "", 0, &failure{op: opURLToken, msg: fmt.Sprintf("body is neither JSON nor a bare token (%d bytes)", len(rsp.body))}
		}
		return token, 0, nil
	}
	var out struct {
		apiStatus
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := decodeJSON(opURLToken, rsp.body, &out); err != nil {
		return "", 0, err
	}
	if out.AccessToken == "" {
		return "", 0, &failure{op: opURLToken, class: ErrToken, msg: "response has no access_token"}
	}
	return out.AccessToken, time.Duration(out.ExpiresIn) * time.Second, nil
}

// Invalidate forgets the token if it is still failed, so that the next
// Token GETs the URL again.
func (s *urlTokenSource) Invalidate(_ context.Context, failed string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token == failed {
		s.token, s.expires = "", time.Time{}
	}
	return nil
}
