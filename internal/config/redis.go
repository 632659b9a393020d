package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// Redis is a parsed REDIS_URL: one Redis server (redis://, rediss:// for
// TLS) or a Sentinel-managed master (redis-sentinel://). It makes both the
// go-redis client the catalog, tokens and limits use and the connection
// options asynq takes.
//
// Printing a Redis (any verb) shows the URL without its password.
type Redis struct {
	single   *redis.Options         // redis://, rediss://
	failover *redis.FailoverOptions // redis-sentinel://
	display  string
}

// ParseRedisURL parses
//
//	redis://[[user]:password@]host[:port][/db][?option=value...]
//	rediss://... (the same, over TLS)
//	redis-sentinel://[[user]:password@]host:port[,host:port...]/mastername[/db][?sentinel_username=u&sentinel_password=p]
//
// redis:// and rediss:// accept go-redis's URL options (dial_timeout,
// pool_size, ...). For redis-sentinel://, the user and password are the
// master's; the Sentinels' own credentials, if they need any, go in the
// query. The error never quotes the password.
func ParseRedisURL(raw string) (Redis, error) {
	r, err := parseRedisURL(raw)
	if err != nil {
		return Redis{}, redactError(err, rawUserinfo(raw))
	}
	return r, nil
}

func parseRedisURL(raw string) (Redis, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the *url.Error's text quotes the whole URL
		}
		return Redis{}, fmt.Errorf("not a valid URL: %w", err)
	}
	switch u.Scheme {
	case "redis", "rediss":
		opts, err := redis.ParseURL(raw)
		if err != nil {
			return Redis{}, err
		}
		return Redis{single: opts, display: displayURL(u)}, nil
	case "redis-sentinel":
		opts, err := parseSentinelURL(u)
		if err != nil {
			return Redis{}, err
		}
		return Redis{failover: opts, display: displayURL(u)}, nil
	default:
		// Not quoted: without "://", what precedes a colon may be a password.
		return Redis{}, errors.New("scheme: want redis://, rediss:// or redis-sentinel://")
	}
}

func parseSentinelURL(u *url.URL) (*redis.FailoverOptions, error) {
	opts := &redis.FailoverOptions{}
	for _, addr := range strings.Split(u.Host, ",") {
		if host, port, err := net.SplitHostPort(addr); err != nil || host == "" || port == "" {
			return nil, fmt.Errorf("sentinel address %q: want host:port", addr)
		}
		opts.SentinelAddrs = append(opts.SentinelAddrs, addr)
	}
	path := strings.Split(strings.Trim(u.Path, "/"), "/")
	if path[0] == "" || len(path) > 2 {
		return nil, errors.New("want redis-sentinel://host:port[,host:port]/mastername[/db]")
	}
	opts.MasterName = path[0]
	if len(path) == 2 {
		db, err := strconv.Atoi(path[1])
		if err != nil || db < 0 {
			return nil, fmt.Errorf("database number %q: want a non-negative integer", path[1])
		}
		opts.DB = db
	}
	if u.User != nil {
		opts.Username = u.User.Username()
		opts.Password, _ = u.User.Password()
	}
	for key, values := range u.Query() {
		switch key {
		case "sentinel_username":
			opts.SentinelUsername = values[0]
		case "sentinel_password":
			opts.SentinelPassword = values[0]
		default:
			return nil, fmt.Errorf("unknown option %q (want sentinel_username, sentinel_password)", key)
		}
	}
	return opts, nil
}

// rawUserinfo returns the user info of a URL that may not parse, so that it
// can be cut out of any error about that URL.
func rawUserinfo(raw string) string {
	_, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		return rest[:i]
	}
	return ""
}

// redactError replaces every occurrence of userinfo, and of the password in
// it, in err's text. The result is a new error: err's chain is dropped, as it
// may print the secret too.
func redactError(err error, userinfo string) error {
	msg := err.Error()
	if userinfo != "" {
		secrets := []string{userinfo}
		if _, password, ok := strings.Cut(userinfo, ":"); ok && password != "" {
			secrets = append(secrets, password)
			if unescaped, err := url.PathUnescape(password); err == nil && unescaped != password {
				secrets = append(secrets, unescaped)
			}
		}
		for _, s := range secrets {
			msg = strings.ReplaceAll(msg, s, redacted)
		}
	}
	return errors.New(msg)
}

// Sentinel reports whether r is a Sentinel-managed master (redis-sentinel://).
func (r Redis) Sentinel() bool { return r.failover != nil }

// NewClient returns a new client for r; the caller closes it.
func (r Redis) NewClient() redis.UniversalClient {
	if r.failover != nil {
		opts := *r.failover
		return redis.NewFailoverClient(&opts)
	}
	opts := *r.options()
	return redis.NewClient(&opts)
}

// AsynqConnOpt returns r as asynq connection options, for asynq's servers,
// clients and inspectors that open their own connections.
func (r Redis) AsynqConnOpt() asynq.RedisConnOpt {
	if f := r.failover; f != nil {
		return asynq.RedisFailoverClientOpt{
			MasterName:       f.MasterName,
			SentinelAddrs:    f.SentinelAddrs,
			SentinelUsername: f.SentinelUsername,
			SentinelPassword: f.SentinelPassword,
			Username:         f.Username,
			Password:         f.Password,
			DB:               f.DB,
		}
	}
	o := r.options()
	return asynq.RedisClientOpt{
		Network:      o.Network,
		Addr:         o.Addr,
		Username:     o.Username,
		Password:     o.Password,
		DB:           o.DB,
		DialTimeout:  o.DialTimeout,
		ReadTimeout:  o.ReadTimeout,
		WriteTimeout: o.WriteTimeout,
		PoolSize:     o.PoolSize,
		TLSConfig:    o.TLSConfig,
	}
}

// options returns the single-server options; the zero Redis means the
// default URL.
func (r Redis) options() *redis.Options {
	if r.single != nil {
		return r.single
	}
	opts, err := redis.ParseURL(DefaultRedisURL)
	if err != nil {
		panic("config: default Redis URL does not parse: " + err.Error())
	}
	return opts
}

// String returns the URL without password or query.
func (r Redis) String() string {
	if r.display == "" {
		return DefaultRedisURL
	}
	return r.display
}

// Format prints String for every verb.
func (r Redis) Format(f fmt.State, verb rune) { io.WriteString(f, r.String()) }

// MarshalJSON writes String as a JSON string.
func (r Redis) MarshalJSON() ([]byte, error) { return json.Marshal(r.String()) }
