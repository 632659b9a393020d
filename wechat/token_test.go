package wechat

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxqr/wxqr/internal/testenv"
	"github.com/wxqr/wxqr/wechat/wechatsim"
)

// tokenSourceKinds are the two sources that fetch tokens themselves, with
// the simulator API each one calls.
var tokenSourceKinds = []struct {
	name string
	new  func(TokenConfig) (TokenSource, error)
	api  string
}{
	{"stable", NewStableTokenSource, wechatsim.APIStableToken},
	{"classic", NewClassicTokenSource, wechatsim.APIToken},
}

func TestTokenConfig(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled
	t.Cleanup(func() { rdb.Close() })
	tests := []struct {
		name    string
		cfg     TokenConfig
		wantErr bool
	}{
		{"minimal", TokenConfig{AppID: "wx1", Secret: "s", Redis: rdb}, false},
		{"no appid", TokenConfig{Secret: "s", Redis: rdb}, true},
		{"no secret", TokenConfig{AppID: "wx1", Redis: rdb}, true},
		{"no redis", TokenConfig{AppID: "wx1", Secret: "s"}, true},
		{"lock too short", TokenConfig{AppID: "wx1", Secret: "s", Redis: rdb, LockTTL: time.Millisecond}, true},
		{"negative refresh margin", TokenConfig{AppID: "wx1", Secret: "s", Redis: rdb, RefreshBefore: -time.Second}, true},
		{"bad base URL", TokenConfig{AppID: "wx1", Secret: "s", Redis: rdb, APIBaseURL: "//nohost"}, true},
		{"negative hold", TokenConfig{AppID: "wx1", Secret: "s", Redis: rdb, HoldFor: -time.Second}, true},
		{"hold past the refresh margin", TokenConfig{AppID: "wx1", Secret: "s", Redis: rdb, RefreshBefore: time.Second, HoldFor: 2 * time.Second}, true},
	}
	for _, kind := range tokenSourceKinds {
		for _, tt := range tests {
			t.Run(kind.name+"/"+tt.name, func(t *testing.T) {
				ts, err := kind.new(tt.cfg)
				if (err != nil) != tt.wantErr {
					t.Fatalf("error = %v, want error: %v", err, tt.wantErr)
				}
				if err != nil {
					return
				}
				s := ts.(*sharedTokenSource)
				if want := "wxqr:token:" + kind.name + ":wx1"; s.key != want || s.lockKey != want+":lock" {
					t.Errorf("keys %q, %q; want %q and its :lock", s.key, s.lockKey, want)
				}
				if s.lockTTL != DefaultLockTTL || s.refreshBefore != DefaultRefreshBefore || s.holdFor != DefaultHoldFor ||
					s.api.String() != DefaultAPIBaseURL+"/" {
					t.Errorf("lockTTL %s, refreshBefore %s, holdFor %s, api %s; want the defaults", s.lockTTL, s.refreshBefore, s.holdFor, s.api)
				}
			})
		}
	}
}

// TestTokenSharedAcrossProcesses is the fleet case: three processes (each
// with its own Redis connection, token source and client) of twenty
// goroutines each start at once with an empty cache, and WeChat sees one
// token call; when WeChat kills that token, they recover with one more.
func TestTokenSharedAcrossProcesses(t *testing.T) {
	const processes, goroutines = 3, 20
	for _, kind := range tokenSourceKinds {
		t.Run(kind.name, func(t *testing.T) {
			opts := testenv.RedisOptions(t)
			sim := startSim(t)
			clients := make([]*Client, processes)
			var fetched atomic.Int64
			onFetch := func(appID string) {
				if appID == oaApp {
					fetched.Add(1)
				}
			}
			for i := range clients {
				rdb := redis.NewClient(opts)
				t.Cleanup(func() { rdb.Close() })
				hc := processHTTPClient(t)
				tokens, err := kind.new(TokenConfig{AppID: oaApp, Secret: oaSecret, Redis: rdb, APIBaseURL: sim.URL(), HTTPClient: hc, OnFetch: onFetch})
				if err != nil {
					t.Fatal(err)
				}
				if clients[i], err = NewClient(Config{AppID: oaApp, Tokens: tokens, APIBaseURL: sim.URL(), MPBaseURL: sim.URL(), HTTPClient: hc}); err != nil {
					t.Fatal(err)
				}
			}
			scene := int64(0)
			burst := func(t *testing.T) {
				t.Helper()
				start := make(chan struct{})
				errs := make(chan error, processes*goroutines)
				var wg sync.WaitGroup
				for _, c := range clients {
					for range goroutines {
						scene++
						req := &CreateQRCodeRequest{ActionName: QRScene, SceneID: scene, ExpireSeconds: 600}
						wg.Go(func() {
							<-start
							_, err := c.CreateQRCode(t.Context(), req)
							errs <- err
						})
					}
				}
				close(start)
				wg.Wait()
				close(errs)
				for err := range errs {
					if err != nil {
						t.Errorf("call failed: %v", err)
					}
				}
			}

			burst(t)
			if got := sim.TokensIssued(oaApp); got != 1 {
				t.Errorf("cold cache: %d tokens issued, want 1", got)
			}
			if got := sim.Calls(kind.api); got != 1 {
				t.Errorf("cold cache: %d calls of %s, want 1", got, kind.api)
			}

			sim.InvalidateTokens(oaApp)
			burst(t)
			if got := sim.TokensIssued(oaApp); got != 2 {
				t.Errorf("after invalidation: %d tokens issued, want 2", got)
			}
			if got := sim.Calls(kind.api); got != 2 {
				t.Errorf("after invalidation: %d calls of %s, want 2", got, kind.api)
			}
			if got := fetched.Load(); got != 2 {
				t.Errorf("OnFetch called %d times, want 2 (one per token fetched)", got)
			}
			if got := sim.CallsByErrcode(wechatsim.APICreateQRCode, 0); got != 2*processes*goroutines {
				t.Errorf("%d codes made, want %d", got, 2*processes*goroutines)
			}
		})
	}
}

// processHTTPClient returns an HTTP client with connections of its own, as
// a separate process has, which are closed when the test ends (before the
// simulator, which otherwise waits for them).
func processHTTPClient(t *testing.T) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// newSimTokens returns a token source of kind for the simulator's OA app,
// on rdb, with cfg tweaked.
func newSimTokens(t *testing.T, newSource func(TokenConfig) (TokenSource, error), sim *wechatsim.Server, rdb redis.UniversalClient, tweak ...func(*TokenConfig)) *sharedTokenSource {
	t.Helper()
	cfg := TokenConfig{AppID: oaApp, Secret: oaSecret, Redis: rdb, APIBaseURL: sim.URL()}
	for _, f := range tweak {
		f(&cfg)
	}
	ts, err := newSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return ts.(*sharedTokenSource)
}

func TestTokenCacheTTL(t *testing.T) {
	tests := []struct {
		name          string
		simTTL        time.Duration
		refreshBefore time.Duration
		wantMin       time.Duration
		wantMax       time.Duration
	}{
		{"WeChat's 2 hours, 5 min margin", 7200 * time.Second, 0, 6895 * time.Second, 6900 * time.Second},
		{"10 min margin", 7200 * time.Second, 10 * time.Minute, 6595 * time.Second, 6600 * time.Second},
		{"margin longer than the token", 4 * time.Minute, 0, time.Second, minTokenTTL},
	}
	rdb := testenv.Redis(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim := wechatsim.NewServer(wechatsim.Config{
				Apps:     map[string]wechatsim.App{oaApp: {Secret: oaSecret, Type: "oa"}},
				TokenTTL: tt.simTTL,
				Now:      simNow,
			})
			t.Cleanup(sim.Close)
			ts := newSimTokens(t, NewStableTokenSource, sim, rdb, func(c *TokenConfig) {
				c.RefreshBefore = tt.refreshBefore
				c.KeyPrefix = "ttl:" + tt.name + ":"
			})
			token, err := ts.Token(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if cached, err := rdb.Get(t.Context(), ts.key).Result(); err != nil || cached != token {
				t.Errorf("cached %q (%v), want the token", cached, err)
			}
			ttl, err := rdb.PTTL(t.Context(), ts.key).Result()
			if err != nil || ttl < tt.wantMin || ttl > tt.wantMax {
				t.Errorf("cache TTL %s (%v), want %s..%s", ttl, err, tt.wantMin, tt.wantMax)
			}
		})
	}
}

// TestTokenHeld checks that a process uses the token it read for HoldFor
// without reading the cache, reads it again after, and stops using a token
// it invalidated at once.
func TestTokenHeld(t *testing.T) {
	rdb := testenv.Redis(t)
	sim := startSim(t)
	ctx := t.Context()
	token := func(ts *sharedTokenSource) string {
		t.Helper()
		got, err := ts.Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	long := newSimTokens(t, NewStableTokenSource, sim, rdb, func(c *TokenConfig) { c.HoldFor = time.Minute })
	short := newSimTokens(t, NewStableTokenSource, sim, rdb, func(c *TokenConfig) { c.HoldFor = 20 * time.Millisecond })
	first := token(long)
	if got := token(short); got != first {
		t.Fatalf("second process: Token = %q, want the cached %q", got, first)
	}
	// Another process stores another token (as after a rejection).
	if err := rdb.Set(ctx, long.key, "next-token", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	if got := token(long); got != first {
		t.Errorf("within HoldFor: Token = %q, want the token held, %q", got, first)
	}
	deadline := time.Now().Add(10 * time.Second)
	for token(short) != "next-token" {
		if time.Now().After(deadline) {
			t.Fatal("past HoldFor, the cache is never read again")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Rejected: the process drops the token it holds (the cache holds
	// another, which it keeps) and reads the cache.
	if err := long.Invalidate(ctx, first); err != nil {
		t.Fatal(err)
	}
	if got := token(long); got != "next-token" {
		t.Errorf("after invalidating the token held: Token = %q, want the cached one", got)
	}
	if got := sim.Calls(wechatsim.APIStableToken); got != 1 {
		t.Errorf("%d token calls, want 1", got)
	}
}

func TestTokenInvalidateComparesFirst(t *testing.T) {
	rdb := testenv.Redis(t)
	sim := startSim(t)
	for _, kind := range tokenSourceKinds {
		t.Run(kind.name, func(t *testing.T) {
			ts := newSimTokens(t, kind.new, sim, rdb)
			ctx := t.Context()
			first, err := ts.Token(ctx)
			if err != nil {
				t.Fatal(err)
			}
			// A token that is no longer the cached one: left alone.
			if err := ts.Invalidate(ctx, "some-older-token"); err != nil {
				t.Fatal(err)
			}
			if got, err := ts.Token(ctx); err != nil || got != first {
				t.Errorf("after invalidating another token: Token = %q, %v; want the cached %q", got, err, first)
			}
			if got := sim.Calls(kind.api); got != 1 {
				t.Errorf("%d token calls, want 1", got)
			}
			// The cached one: dropped, and the next Token fetches.
			if err := ts.Invalidate(ctx, first); err != nil {
				t.Fatal(err)
			}
			if n, err := rdb.Exists(ctx, ts.key).Result(); err != nil || n != 0 {
				t.Errorf("cached token still there after invalidating it (%d, %v)", n, err)
			}
			if _, err := ts.Token(ctx); err != nil {
				t.Fatal(err)
			}
			if got := sim.Calls(kind.api); got != 2 {
				t.Errorf("%d token calls, want 2", got)
			}
		})
	}
}

func TestTokenStableAndClassicAreSeparate(t *testing.T) {
	rdb := testenv.Redis(t)
	sim := startSim(t)
	stable := newSimTokens(t, NewStableTokenSource, sim, rdb)
	classic := newSimTokens(t, NewClassicTokenSource, sim, rdb)
	st, err := stable.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ct, err := classic.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st == ct || stable.key == classic.key {
		t.Errorf("stable and classic share a token (%v) or a key (%v)", st == ct, stable.key == classic.key)
	}
	if sim.Calls(wechatsim.APIStableToken) != 1 || sim.Calls(wechatsim.APIToken) != 1 {
		t.Errorf("calls: stable %d, classic %d; want 1 each", sim.Calls(wechatsim.APIStableToken), sim.Calls(wechatsim.APIToken))
	}
}

// TestTokenWaitsForAnotherProcess: a process that finds the lock taken
// waits for the holder's token, and takes over when the holder dies.
func TestTokenWaitsForAnotherProcess(t *testing.T) {
	rdb := testenv.Redis(t)
	sim := startSim(t)
	ctx := t.Context()

	t.Run("holder stores a token", func(t *testing.T) {
		ts := newSimTokens(t, NewStableTokenSource, sim, rdb, func(c *TokenConfig) { c.KeyPrefix = "holder:" })
		if err := rdb.Set(ctx, ts.lockKey, "other-process", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		got := make(chan string, 1)
		go func() {
			token, err := ts.Token(ctx)
			if err != nil {
				t.Errorf("Token: %v", err)
			}
			got <- token
		}()
		// The waiter polls; it returns once the holder's token appears.
		if err := rdb.Set(ctx, ts.key, "token-of-other-process", time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
		if token := <-got; token != "token-of-other-process" {
			t.Errorf("Token = %q, want the other process's", token)
		}
		if n := sim.Calls(wechatsim.APIStableToken); n != 0 {
			t.Errorf("%d token calls, want 0", n)
		}
	})

	t.Run("holder dies", func(t *testing.T) {
		ts := newSimTokens(t, NewStableTokenSource, sim, rdb, func(c *TokenConfig) { c.KeyPrefix = "dead:" })
		// A lock left by a process that died while fetching.
		if err := rdb.Set(ctx, ts.lockKey, "dead-process", 300*time.Millisecond).Err(); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if _, err := ts.Token(ctx); err != nil {
			t.Fatalf("Token: %v", err)
		}
		if elapsed := time.Since(start); elapsed < 200*time.Millisecond {
			t.Errorf("Token returned after %s, before the dead holder's lock expired", elapsed)
		}
		if n := sim.Calls(wechatsim.APIStableToken); n != 1 {
			t.Errorf("%d token calls, want 1", n)
		}
		if n, err := rdb.Exists(ctx, ts.lockKey).Result(); err != nil || n != 0 {
			t.Errorf("lock still held after the refresh (%d, %v)", n, err)
		}
	})

	t.Run("caller gives up", func(t *testing.T) {
		ts := newSimTokens(t, NewStableTokenSource, sim, rdb, func(c *TokenConfig) { c.KeyPrefix = "slow:"; c.LockTTL = time.Second })
		if err := rdb.Set(ctx, ts.lockKey, "slow-process", time.Second).Err(); err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := ts.Token(cctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Token error = %v, want context.DeadlineExceeded", err)
		}
		if elapsed := time.Since(start); elapsed > 500*time.Millisecond {
			t.Errorf("Token returned after %s, long after its context ended", elapsed)
		}
	})
}

func TestTokenFetchErrors(t *testing.T) {
	rdb := testenv.Redis(t)
	for _, kind := range tokenSourceKinds {
		t.Run(kind.name, func(t *testing.T) {
			sim := startSim(t)
			ts := newSimTokens(t, kind.new, sim, rdb, func(c *TokenConfig) { c.Secret = "wrong-secret-3e1f" })
			for i := range 2 {
				_, err := ts.Token(t.Context())
				if !errors.Is(err, ErrAccount) {
					t.Errorf("attempt %d: error = %v, want ErrAccount", i+1, err)
				}
				// A failure is not cached: the next Token asks again.
				if got := sim.Calls(kind.api); got != i+1 {
					t.Errorf("attempt %d: %d token calls, want %d", i+1, got, i+1)
				}
				if n, err := rdb.Exists(t.Context(), ts.lockKey, ts.key).Result(); err != nil || n != 0 {
					t.Errorf("attempt %d: lock or token left behind (%d, %v)", i+1, n, err)
				}
			}
			sim.InjectFault(kind.api, wechatsim.Fault{Kind: wechatsim.FaultHTTP500})
			ts = newSimTokens(t, kind.new, sim, rdb)
			if _, err := ts.Token(t.Context()); !errors.Is(err, ErrTransient) {
				t.Errorf("after HTTP 500: error = %v, want ErrTransient", err)
			}
		})
	}
}

func TestRedisKeyTokenSource(t *testing.T) {
	rdb := testenv.Redis(t)
	sim := startSim(t)
	ctx := t.Context()
	const key = "partner:authorizer_token:" + mpApp
	ts := NewRedisKeyTokenSource(rdb, key)

	if _, err := ts.Token(ctx); !errors.Is(err, ErrToken) {
		t.Errorf("missing key: error = %v, want ErrToken", err)
	}
	// Another system keeps a valid token at the key.
	fetched, err := newSimTokens(t, NewStableTokenSource, sim, rdb, func(c *TokenConfig) { c.AppID, c.Secret = mpApp, mpSecret }).Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(ctx, key, fetched+"\n", 0).Err(); err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(Config{AppID: mpApp, Tokens: ts, APIBaseURL: sim.URL(), MPBaseURL: sim.URL()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetWxaCodeUnlimited(ctx, &GetWxaCodeUnlimitedRequest{Scene: "s"}); err != nil {
		t.Fatalf("call with the external token: %v", err)
	}
	// wxqr never refreshes an external token: a rejected one is retried once
	// as read again, then reported.
	sim.InvalidateTokens(mpApp)
	_, err = c.GetWxaCodeUnlimited(ctx, &GetWxaCodeUnlimitedRequest{Scene: "s"})
	if !errors.Is(err, ErrToken) {
		t.Errorf("after invalidation: error = %v, want ErrToken", err)
	}
	if got := sim.Calls(wechatsim.APIStableToken); got != 1 {
		t.Errorf("%d token calls, want the 1 made by the other system", got)
	}
	if got, err := rdb.Get(ctx, key).Result(); err != nil || got != fetched+"\n" {
		t.Errorf("the external key was changed to %q (%v)", got, err)
	}
}
