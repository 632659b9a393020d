package wechat

import "net/http"

// NewTransport returns the HTTP transport for the clients of every app to
// share (WeChat's API and showqrcode hosts are the same for all apps). It
// keeps up to conns idle connections to each host, and opens as many as
// needed: set conns to the number of calls made at once (a worker's
// concurrency). net/http's default transport keeps 2 per host, so under
// load most calls opened a connection (and, against WeChat, made a TLS
// handshake) only to close it after one request. Below 2, conns counts as 2.
func NewTransport(conns int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = max(conns, http.DefaultMaxIdleConnsPerHost)
	t.MaxIdleConns = 0    // bounded per host
	t.MaxConnsPerHost = 0 // never makes a call wait for a connection
	return t
}
