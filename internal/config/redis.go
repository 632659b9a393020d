package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// Redis is a parsed REDIS_URL: one Redis server (redis://, rediss:// for
// TLS), a Sentinel-managed master (redis-sentinel://) or a Redis Cluster
// (redis-cluster://, rediss-cluster:// for TLS). It makes both the go-redis
// client the catalog, tokens and limits use and the connection options
// asynq takes.
//
// Printing a Redis (any verb) shows the URL without its password.
type Redis struct {
	single    *redis.Options         // redis://, rediss://
	failover  *redis.FailoverOptions // redis-sentinel://
	cluster   *redis.ClusterOptions  // redis-cluster://, rediss-cluster://
	keyPrefix string                 // see KeyPrefix
	display   string
}

// Key prefixes of wxqr's own keys (the catalog, scan counts, notices). On a
// cluster the prefix carries a hash tag, so that every multi-key script and
// transaction of theirs finds its keys in one slot.
const (
	DefaultKeyPrefix        = "wxqr:"
	DefaultClusterKeyPrefix = "{wxqr}:"
)

// ParseRedisURL parses
//
//	redis://[[user]:password@]host[:port][/db][?option=value...]
//	rediss://... (the same, over TLS)
//	redis-sentinel://[[user]:password@]host:port[,host:port...]/mastername[/db][?sentinel_username=u&sentinel_password=p]
//	redis-cluster://[[user]:password@]host:port[,host:port...][/][?key_prefix=p&option=value...]
//	rediss-cluster://... (the same, over TLS)
//
// redis:// and rediss:// accept go-redis's URL options (dial_timeout,
// pool_size, ...). For redis-sentinel://, the user and password are the
// master's; the Sentinels' own credentials, if they need any, go in the
// query. redis-cluster:// names some of the cluster's nodes (the client
// finds the others), has no database number (a cluster has only database
// 0), and accepts go-redis's cluster URL options and key_prefix (see
// KeyPrefix), which must hold a hash tag ("{...}"). The error never quotes
// the password.
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
	case "redis-cluster", "rediss-cluster":
		opts, prefix, err := parseClusterURL(u)
		if err != nil {
			return Redis{}, err
		}
		return Redis{cluster: opts, keyPrefix: prefix, display: displayURL(u)}, nil
	default:
		// Not quoted: without "://", what precedes a colon may be a password.
		return Redis{}, errors.New("scheme: want redis://, rediss://, redis-sentinel://, redis-cluster:// or rediss-cluster://")
	}
}

// parseClusterURL reads a redis-cluster:// URL through go-redis's cluster
// URL parser, which wants the first node as the host and the others as
// addr options, and takes out key_prefix, which is wxqr's.
func parseClusterURL(u *url.URL) (*redis.ClusterOptions, string, error) {
	addrs := strings.Split(u.Host, ",")
	for _, addr := range addrs {
		if host, port, err := net.SplitHostPort(addr); err != nil || host == "" || port == "" {
			return nil, "", fmt.Errorf("cluster node address %q: want host:port", addr)
		}
	}
	if strings.Trim(u.Path, "/") != "" {
		return nil, "", errors.New("want redis-cluster://host:port[,host:port][?option=value]: a cluster has no database number")
	}
	query := u.Query()
	prefix := DefaultClusterKeyPrefix
	if values, ok := query["key_prefix"]; ok {
		prefix = values[0]
		if !hasHashTag(prefix) {
			return nil, "", fmt.Errorf("key_prefix %q: want a hash tag, e.g. %q, so that wxqr's multi-key scripts find their keys in one slot", prefix, DefaultClusterKeyPrefix)
		}
		query.Del("key_prefix")
	}
	if _, ok := query["addr"]; ok {
		return nil, "", errors.New("option addr: list the cluster's nodes in the host, host:port,host:port")
	}
	for _, addr := range addrs[1:] {
		query.Add("addr", addr)
	}
	v := *u
	v.Scheme = strings.TrimSuffix(u.Scheme, "-cluster")
	v.Host, v.Path, v.RawPath, v.RawQuery = addrs[0], "", "", query.Encode()
	opts, err := redis.ParseClusterURL(v.String())
	if err != nil {
		return nil, "", err
	}
	return opts, prefix, nil
}

// hasHashTag reports whether every key that starts with prefix hashes by
// what the prefix holds: Redis Cluster hashes a key by the part between its
// first "{" and the next "}", when that part is not empty.
func hasHashTag(prefix string) bool {
	_, after, ok := strings.Cut(prefix, "{")
	if !ok {
		return false
	}
	end := strings.Index(after, "}")
	return end > 0
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

// Cluster reports whether r is a Redis Cluster (redis-cluster://).
func (r Redis) Cluster() bool { return r.cluster != nil }

// KeyPrefix returns the prefix of wxqr's own keys: "wxqr:", or on a cluster
// the URL's key_prefix, by default "{wxqr}:" (DefaultClusterKeyPrefix). The
// hash tag puts those keys in one slot, and so on one master: see the
// README's "Redis Cluster".
func (r Redis) KeyPrefix() string {
	if r.cluster != nil {
		return r.keyPrefix
	}
	return DefaultKeyPrefix
}

// NewClient returns a new client for r; the caller closes it.
func (r Redis) NewClient() redis.UniversalClient {
	if r.cluster != nil {
		opts := *r.cluster
		opts.Addrs = slices.Clone(r.cluster.Addrs)
		return redis.NewClusterClient(&opts)
	}
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
	if c := r.cluster; c != nil {
		return asynq.RedisClusterClientOpt{
			Addrs:        slices.Clone(c.Addrs),
			MaxRedirects: c.MaxRedirects,
			Username:     c.Username,
			Password:     c.Password,
			DialTimeout:  c.DialTimeout,
			ReadTimeout:  c.ReadTimeout,
			WriteTimeout: c.WriteTimeout,
			TLSConfig:    c.TLSConfig,
		}
	}
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
