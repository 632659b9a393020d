package wechatsim

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net"
	"net/http"
	"time"
)

// FaultKind is a way for a call to go wrong.
type FaultKind int

// The faults InjectFault and SetFaultRates can inject.
const (
	// FaultSystemBusy answers errcode -1 ("system error"), WeChat's
	// transient failure, without processing the call.
	FaultSystemBusy FaultKind = iota + 1
	// FaultHTTP500 answers HTTP 500 with an HTML body, without processing.
	FaultHTTP500
	// FaultReset resets the connection (TCP RST) before processing: the
	// client sees no response at all.
	FaultReset
	// FaultTruncate processes the call (quotas are spent), then declares the
	// full Content-Length, sends half the body and closes the connection.
	FaultTruncate
	// FaultLatency waits Fault.Delay (real time) before processing; it gives
	// up, answering nothing, when the request's context ends or the Server
	// closes.
	FaultLatency
	// FaultJSONContentType answers a JSON error (Fault.Code, default -1) as
	// text/plain, without processing: a client must not take it for an image.
	FaultJSONContentType
	// FaultErrcode answers errcode Fault.Code with WeChat's message, without
	// processing; e.g. 40164 (IP not allow-listed) or 45011.
	FaultErrcode
)

func (k FaultKind) String() string {
	switch k {
	case FaultSystemBusy:
		return "system_busy"
	case FaultHTTP500:
		return "http_500"
	case FaultReset:
		return "reset"
	case FaultTruncate:
		return "truncate"
	case FaultLatency:
		return "latency"
	case FaultJSONContentType:
		return "json_content_type"
	case FaultErrcode:
		return "errcode"
	}
	return fmt.Sprintf("FaultKind(%d)", int(k))
}

// Fault is a failure to inject into the next calls of an API.
type Fault struct {
	Kind FaultKind
	// Count is how many consecutive calls get the fault. Default: 1.
	Count int
	// Delay is FaultLatency's wait.
	Delay time.Duration
	// Code is the errcode of FaultErrcode and FaultJSONContentType
	// (default -1 for the latter).
	Code int
}

// InjectFault makes the next f.Count calls of api, from any app, fail as f
// says. Faults injected for one API queue up in order. It panics on an
// unknown kind.
func (s *Server) InjectFault(api string, f Fault) {
	if f.Kind < FaultSystemBusy || f.Kind > FaultErrcode {
		panic(fmt.Sprintf("wechatsim: InjectFault: unknown %v", f.Kind))
	}
	if f.Count <= 0 {
		f.Count = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[api] = append(s.faults[api], f)
}

// FaultRate makes a share of an API's calls fail (see SetFaultRates).
type FaultRate struct {
	Kind FaultKind
	// P is the probability, 0..1, that a call suffers the fault.
	P float64
	// Delay is FaultLatency's wait. With MaxDelay above it, each wait is
	// drawn uniformly from Delay..MaxDelay.
	Delay, MaxDelay time.Duration
	// Code is the errcode of FaultErrcode and FaultJSONContentType
	// (default -1 for the latter).
	Code int
}

func (r FaultRate) validate() error {
	switch {
	case r.Kind < FaultSystemBusy || r.Kind > FaultErrcode:
		return fmt.Errorf("unknown %v", r.Kind)
	case !(r.P >= 0 && r.P <= 1):
		return fmt.Errorf("%v: probability %v is not in 0..1", r.Kind, r.P)
	case r.Delay < 0 || r.MaxDelay < 0:
		return fmt.Errorf("%v: negative delay", r.Kind)
	}
	return nil
}

// faultDice draws the faults of one API from its rates.
type faultDice struct {
	rates []FaultRate
	rng   *rand.Rand
}

// SetFaultRates makes a share of api's calls, from any app, fail at random:
// each call suffers at most one of rates, r.Kind with probability r.P, so
// the P of one API add up to at most 1. A fault queued by InjectFault takes
// precedence for the calls it covers. No rates, or all zero, stop the
// random faults of api. The draws come from a generator seeded with
// Config.FaultSeed and the API's name, once per call in the order the calls
// arrive: the same calls in the same order suffer the same faults. It
// fails on an unknown kind or probabilities out of range.
func (s *Server) SetFaultRates(api string, rates ...FaultRate) error {
	sum := 0.0
	for _, r := range rates {
		if err := r.validate(); err != nil {
			return fmt.Errorf("wechatsim: SetFaultRates %s: %w", api, err)
		}
		sum += r.P
	}
	if sum > 1 {
		return fmt.Errorf("wechatsim: SetFaultRates %s: probabilities add up to %v, more than 1", api, sum)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.dice[api]
	if !ok {
		// One stream per API, so that one API's calls never shift another's
		// draws.
		h := fnv.New64a()
		h.Write([]byte(api))
		d = &faultDice{rng: rand.New(rand.NewPCG(s.faultSeed, h.Sum64()))}
		s.dice[api] = d
	}
	d.rates = append([]FaultRate(nil), rates...)
	return nil
}

// roll draws the fault of one call, if any.
func (d *faultDice) roll() (Fault, bool) {
	u := d.rng.Float64()
	for _, r := range d.rates {
		if u >= r.P {
			u -= r.P
			continue
		}
		f := Fault{Kind: r.Kind, Count: 1, Delay: r.Delay, Code: r.Code}
		if r.MaxDelay > r.Delay {
			f.Delay += time.Duration(d.rng.Int64N(int64(r.MaxDelay-r.Delay) + 1))
		}
		return f, true
	}
	return Fault{}, false
}

// ParseFaultKind returns the kind whose String is name ("system_busy",
// "http_500", "reset", ...).
func ParseFaultKind(name string) (FaultKind, error) {
	for k := FaultSystemBusy; k <= FaultErrcode; k++ {
		if k.String() == name {
			return k, nil
		}
	}
	return 0, fmt.Errorf("unknown fault kind %q", name)
}

// begin counts a call of api and takes the fault it should suffer, if any:
// the next one InjectFault queued, else one drawn from the API's rates.
func (s *Server) begin(api string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[api]++
	var drawn Fault
	var hit bool
	if d, ok := s.dice[api]; ok {
		// Draw even when a queued fault wins, so that a call's draw depends
		// only on how many calls came before it.
		drawn, hit = d.roll()
	}
	if q := s.faults[api]; len(q) > 0 {
		drawn, hit = q[0], true
		if q[0].Count--; q[0].Count == 0 {
			q = q[1:]
		}
		if len(q) == 0 {
			delete(s.faults, api)
		} else {
			s.faults[api] = q
		}
	}
	if hit {
		s.faulted[apiFault{api, drawn.Kind}]++
	}
	return drawn, hit
}

// countAnswer records how a call of api was answered, and the code it made
// (cut short: the client never saw it).
func (s *Server) countAnswer(api string, rep reply, cutShort bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byCode[apiCode{api, rep.errcode}]++
	if m := rep.made; m != nil {
		s.made[*m]++
		if cutShort {
			s.cutShort[*m]++
		}
		u := s.apps[m.AppID].madeBy(api)
		u.Made++
		if m.Action == actionTempID || m.Action == actionTempStr {
			u.Temporary++
		}
	}
}

// countErrcode records how a call of api was answered.
func (s *Server) countErrcode(api string, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byCode[apiCode{api, code}]++
}

// resetConn drops the connection with a TCP RST (SO_LINGER 0), so the
// client reads "connection reset by peer".
func resetConn(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// Not hijackable (a wrapper or HTTP/2): aborting still kills the
		// response mid-flight.
		panic(http.ErrAbortHandler)
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		tcp.SetLinger(0) //nolint:errcheck // a plain close is still a failure to the client
	}
	conn.Close()
}

// writeTruncated sends rep's headers with its full Content-Length and half
// its body, then closes the connection.
func writeTruncated(w http.ResponseWriter, rep reply) {
	rep.writeHeader(w)
	w.Write(rep.body[:len(rep.body)/2]) //nolint:errcheck // cut off anyway
	rc := http.NewResponseController(w)
	if err := rc.Flush(); err != nil {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := rc.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	conn.Close()
}

// http500 is the page a failing WeChat front end serves.
var http500 = reply{
	status:      http.StatusInternalServerError,
	contentType: "text/html",
	body:        []byte("<html>\r\n<head><title>500 Internal Server Error</title></head>\r\n<body>\r\n<center><h1>500 Internal Server Error</h1></center>\r\n</body>\r\n</html>\r\n"),
}

// route serves api at its path: it counts the call, applies any injected
// fault, checks the method and lets h answer.
func (s *Server) route(mux *http.ServeMux, api, method string, h func(*http.Request) reply) {
	mux.HandleFunc(apiPaths[api], func(w http.ResponseWriter, r *http.Request) {
		f, faulted := s.begin(api)
		if faulted {
			switch f.Kind {
			case FaultSystemBusy, FaultErrcode:
				code := f.Code
				if f.Kind == FaultSystemBusy {
					code = errSystemBusy
				}
				rep := errReply(code)
				s.countErrcode(api, code)
				rep.write(w)
				return
			case FaultJSONContentType:
				code := f.Code
				if code == 0 {
					code = errSystemBusy
				}
				rep := errReply(code)
				rep.contentType = "text/plain"
				s.countErrcode(api, code)
				rep.write(w)
				return
			case FaultHTTP500:
				http500.write(w)
				return
			case FaultReset:
				resetConn(w)
				return
			case FaultLatency:
				timer := time.NewTimer(f.Delay)
				defer timer.Stop()
				select {
				case <-timer.C:
				case <-r.Context().Done():
					panic(http.ErrAbortHandler)
				case <-s.closing:
					panic(http.ErrAbortHandler)
				}
			}
		}
		var rep reply
		switch {
		case r.Method == method:
			rep = h(r)
		case api == APIShowQRCode:
			rep = notFoundReply()
		case method == http.MethodGet:
			rep = errReply(errRequireGET)
		default:
			rep = errReply(errRequirePOST)
		}
		truncate := faulted && f.Kind == FaultTruncate
		s.countAnswer(api, rep, truncate)
		if truncate {
			writeTruncated(w, rep)
			return
		}
		rep.write(w)
	})
}

// apiPaths are the paths WeChat serves each API at.
var apiPaths = map[string]string{
	APIToken:               "/cgi-bin/token",
	APIStableToken:         "/cgi-bin/stable_token",
	APICreateQRCode:        "/cgi-bin/qrcode/create",
	APIShowQRCode:          "/cgi-bin/showqrcode",
	APICreateWxaQRCode:     "/cgi-bin/wxaapp/createwxaqrcode",
	APIGetWxaCode:          "/wxa/getwxacode",
	APIGetWxaCodeUnlimited: "/wxa/getwxacodeunlimit",
	APIQuotaGet:            "/cgi-bin/openapi/quota/get",
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	s.route(mux, APIToken, http.MethodGet, s.classicToken)
	s.route(mux, APIStableToken, http.MethodPost, s.stableToken)
	s.route(mux, APICreateQRCode, http.MethodPost, s.createQRCode)
	s.route(mux, APIShowQRCode, http.MethodGet, s.showQRCode)
	s.route(mux, APICreateWxaQRCode, http.MethodPost, s.createWxaQRCode)
	s.route(mux, APIGetWxaCode, http.MethodPost, s.getWxaCode)
	s.route(mux, APIGetWxaCodeUnlimited, http.MethodPost, s.getWxaCodeUnlimited)
	s.route(mux, APIQuotaGet, http.MethodPost, s.quotaGet)
	return mux
}
