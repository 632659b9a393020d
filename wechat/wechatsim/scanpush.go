package wechatsim

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/wxqr/wxqr/wechat/push"
)

// The events PushScan pushes, as WeChat names them in Event.
const (
	// EventSubscribe: the user followed the account, by scanning a code
	// when the Push names one (EventKey qrscene_<scene> and Ticket), or
	// from elsewhere (no EventKey, no Ticket).
	EventSubscribe = "subscribe"
	// EventScan: a user who already follows scanned a code (EventKey
	// <scene> and Ticket).
	EventScan = "SCAN"
	// EventUnsubscribe: the user unfollowed (no EventKey, no Ticket).
	EventUnsubscribe = "unsubscribe"
)

// ErrUnknownTicket: a Push names a ticket, without a Scene, that the
// Server did not issue to the app or whose code had expired at the push's
// CreateTime. WeChat pushes scans of live codes only; give Scene to push
// one for a code made elsewhere.
var ErrUnknownTicket = errors.New("ticket not issued to the app, or expired")

// Push is one event for PushScan to push.
type Push struct {
	// URL is the account's server URL, such as
	// http://127.0.0.1:8081/wechat/wx0123456789abcdef. A query it has is
	// kept. Required.
	URL string
	// AppID is the account: the app whose tickets Ticket is looked up in,
	// and the app id an encrypted message carries. Required.
	AppID string
	// Token is the token of the account's server configuration, which
	// signs the push. Required.
	Token string
	// AESKey is the EncodingAESKey, 43 characters of [A-Za-z0-9]. Empty
	// (the default): plain mode. Set: safe mode (encrypt_type=aes and
	// msg_signature in the query, the message encrypted in the body).
	AESKey string
	// ToUserName is the account's original id. Default: "gh_" and 12 hex
	// digits derived from AppID, the same for every push of the app.
	ToUserName string
	// OpenID is the user's openid in FromUserName and in the query.
	// Default: a new random one, a user never seen before; PushResult
	// tells which, so that the same user can act again.
	OpenID string
	// Event is EventSubscribe, EventScan or EventUnsubscribe. Required.
	Event string
	// Ticket is the ticket of the scanned code. Without Scene it must be
	// one the Server issued to the app (see Tickets), live at CreateTime
	// (else ErrUnknownTicket), and the EventKey comes from its code's
	// scene. Empty with Scene: a new ticket, as a code made elsewhere has.
	// A SCAN needs Ticket or Scene; an unsubscribe takes neither.
	Ticket string
	// Scene overrides the scene, for codes the Server never made: the
	// EventKey is qrscene_<Scene> on subscribe and <Scene> on SCAN, and
	// Ticket is sent as given, unchecked. Default: the ticket's.
	Scene string
	// CreateTime is when the user acted, sent in Unix seconds as
	// CreateTime and as the query's timestamp. Default: now, by the
	// Server's clock (Config.Now).
	CreateTime time.Time
	// Deliveries is how many times the same push (the same body, query
	// and signature) is sent, one after the other, whatever the answers:
	// 1 to 4, a push and WeChat's retries. Default: 1.
	Deliveries int
	// Timeout is how long each delivery may take before it is abandoned,
	// as WeChat abandons one after 5 s. Default: 5 s.
	Timeout time.Duration
	// BadSignature signs the push with a wrong token, as a forger would:
	// a receiver must reject it (403). Default: false.
	BadSignature bool
}

func (p Push) validate() error {
	u, err := url.Parse(p.URL)
	switch {
	case p.URL == "":
		return errors.New("URL is required")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return errors.New("URL is not an absolute http(s) URL")
	case p.AppID == "":
		return errors.New("AppID is required")
	case p.Token == "":
		return errors.New("Token is required")
	case p.Deliveries < 0 || p.Deliveries > maxDeliveries:
		return fmt.Errorf("deliveries %d not in 1..%d", p.Deliveries, maxDeliveries)
	case p.Timeout < 0:
		return fmt.Errorf("negative timeout %v", p.Timeout)
	}
	switch p.Event {
	case EventSubscribe:
	case EventScan:
		if p.Ticket == "" && p.Scene == "" {
			return errors.New("a SCAN needs a ticket or a scene: it comes from a code")
		}
	case EventUnsubscribe:
		if p.Ticket != "" || p.Scene != "" {
			return errors.New("an unsubscribe has no ticket and no scene")
		}
	default:
		return fmt.Errorf("event %q is none of %s, %s, %s", p.Event, EventSubscribe, EventScan, EventUnsubscribe)
	}
	return nil
}

// PushResult is what PushScan pushed and what each delivery got back.
type PushResult struct {
	// OpenID, EventKey, Ticket and CreateTime (Unix seconds) are what the
	// message carried, defaults included.
	OpenID     string
	EventKey   string
	Ticket     string
	CreateTime int64
	// Deliveries are the deliveries in the order they were sent.
	Deliveries []Delivery
}

// Delivery is one delivery of a push and its answer.
type Delivery struct {
	// Status is the HTTP status of the answer; 0 when none came.
	Status int
	// Body is the answer's body, at most 64 KiB: "success", empty, or a
	// reply message.
	Body []byte
	// Duration is the real time from sending to the end of the answer.
	Duration time.Duration
	// Err is why no whole answer came (refused, reset, timed out). It
	// names the URL with the openid redacted.
	Err error
}

// OK tells whether WeChat would take the delivery as answered: a whole
// HTTP 200 answer in time. It does not judge the body.
func (d Delivery) OK() bool { return d.Err == nil && d.Status == http.StatusOK }

// maxAnswerBytes caps the answer kept from each delivery.
const maxAnswerBytes = 64 << 10

// PushScan pushes one event to p.URL as WeChat pushes it to an Official
// Account's server: a POST of the XML message, signed (plain mode) or
// encrypted and signed (safe mode), with signature, timestamp, nonce and
// openid (and encrypt_type, msg_signature) in the query, sent
// p.Deliveries times.
//
// It fails, sending nothing, on an invalid Push or ErrUnknownTicket. A
// delivery that gets no answer does not stop the next one: its Delivery
// says what happened. When ctx ends, PushScan returns the deliveries made
// so far and ctx's error.
func (s *Server) PushScan(ctx context.Context, p Push) (PushResult, error) {
	if err := p.validate(); err != nil {
		return PushResult{}, fmt.Errorf("wechatsim: PushScan: %w", err)
	}
	p = s.pushDefaults(p)
	key, ticket, err := s.eventCode(p)
	if err != nil {
		return PushResult{}, fmt.Errorf("wechatsim: PushScan: app %s: %w", p.AppID, err)
	}
	msg := scanMessage{
		ToUserName:   cdata{p.ToUserName},
		FromUserName: cdata{p.OpenID},
		CreateTime:   p.CreateTime.Unix(),
		MsgType:      cdata{"event"},
		Event:        cdata{p.Event},
		EventKey:     cdata{key},
	}
	if ticket != "" {
		msg.Ticket = &cdata{ticket}
	}
	target, shown, body, err := seal(p, msg)
	if err != nil {
		return PushResult{}, fmt.Errorf("wechatsim: PushScan: %w", err)
	}
	res := PushResult{OpenID: p.OpenID, EventKey: key, Ticket: ticket, CreateTime: msg.CreateTime}
	for range p.Deliveries {
		res.Deliveries = append(res.Deliveries, s.deliver(ctx, target, shown, body, p.Timeout))
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("wechatsim: PushScan: %w", err)
		}
	}
	return res, nil
}

// pushDefaults fills in p's defaults.
func (s *Server) pushDefaults(p Push) Push {
	if p.ToUserName == "" {
		sum := sha1.Sum([]byte(p.AppID))
		p.ToUserName = "gh_" + hex.EncodeToString(sum[:6])
	}
	if p.OpenID == "" {
		p.OpenID = newOpenID()
	}
	if p.CreateTime.IsZero() {
		p.CreateTime = s.now()
	}
	if p.Deliveries == 0 {
		p.Deliveries = 1
	}
	if p.Timeout == 0 {
		p.Timeout = pushTimeout
	}
	return p
}

// eventCode returns the EventKey and Ticket of p's event: none for an
// unsubscribe or a follow from elsewhere; else from the code p names.
func (s *Server) eventCode(p Push) (key, ticket string, err error) {
	if p.Ticket == "" && p.Scene == "" {
		return "", "", nil
	}
	scene, ticket := p.Scene, p.Ticket
	switch {
	case scene == "":
		if scene, err = s.issuedScene(p.AppID, ticket, p.CreateTime); err != nil {
			return "", "", err
		}
	case ticket == "":
		ticket = newTicket(newCodeURL())
	}
	if p.Event == EventSubscribe {
		return subscribeKeyPrefix + scene, ticket, nil
	}
	return scene, ticket, nil
}

// issuedScene returns the scene of the app's code with the ticket, if it
// was live at the time.
func (s *Server) issuedScene(appID, ticket string, at time.Time) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.tickets[ticket]
	if !ok || c.appID != appID || c.expired(at) {
		return "", ErrUnknownTicket
	}
	return c.scene, nil
}

// cdata is a text element in a CDATA section, as WeChat writes them.
type cdata struct {
	Text string `xml:",cdata"`
}

// scanMessage is a scan event as WeChat writes it. The simulator writes it
// itself, CDATA sections and all, rather than with wechat/push's Event, so
// that receivers meet WeChat's form and not wxqr's idea of it.
type scanMessage struct {
	XMLName      xml.Name `xml:"xml"`
	ToUserName   cdata
	FromUserName cdata
	CreateTime   int64
	MsgType      cdata
	Event        cdata
	EventKey     cdata  // empty for an unsubscribe and a follow from elsewhere
	Ticket       *cdata `xml:",omitempty"` // only for a scanned code
}

// seal builds p's push of msg: the URL to post to, the same URL with the
// openid redacted (for errors), and the body.
func seal(p Push, msg scanMessage) (target, shown string, body []byte, err error) {
	plain, err := xml.Marshal(msg)
	if err != nil {
		return "", "", nil, fmt.Errorf("marshal the message: %w", err)
	}
	token := p.Token
	if p.BadSignature {
		token = "not-" + token
	}
	codec, err := push.New(push.Config{AppID: p.AppID, Token: token, AESKey: p.AESKey})
	if err != nil {
		return "", "", nil, err
	}
	q, body, err := codec.Seal(p.ToUserName, plain, strconv.FormatInt(msg.CreateTime, 10), newNonce())
	if err != nil {
		return "", "", nil, err
	}
	u, err := url.Parse(p.URL) // validated
	if err != nil {
		return "", "", nil, fmt.Errorf("URL: %w", err)
	}
	values := u.Query()
	for k, v := range q.Values() {
		values[k] = v
	}
	values.Set("openid", "REDACTED")
	u.RawQuery = values.Encode()
	shown = u.String()
	values.Set("openid", p.OpenID)
	u.RawQuery = values.Encode()
	return u.String(), shown, body, nil
}

// deliver posts body to target once, within timeout, and reads the answer.
// Errors name the URL as shown: without the openid, which is personal data.
func (s *Server) deliver(ctx context.Context, target, shown string, body []byte, timeout time.Duration) Delivery {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	d, err := s.post(ctx, target, body)
	d.Duration = time.Since(start)
	if err != nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			ue.URL = shown
		} else {
			err = &url.Error{Op: "Post", URL: shown, Err: err}
		}
		d.Err = fmt.Errorf("wechatsim: push: %w", err)
	}
	return d
}

func (s *Server) post(ctx context.Context, target string, body []byte) (Delivery, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return Delivery{}, err
	}
	req.Header.Set("Content-Type", "text/xml")
	resp, err := s.pushes.Do(req)
	if err != nil {
		return Delivery{}, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	d := Delivery{Status: resp.StatusCode, Body: answer}
	if err != nil {
		return d, fmt.Errorf("read the answer: %w", err)
	}
	return d, nil
}

// newPushClient returns PushScan's client: a transport of its own,
// without the environment's proxy (WeChat does not use the receiver's),
// and redirects not followed, so that a receiver that redirects a push
// shows it in the Delivery's status.
func newPushClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// newOpenID returns an openid shaped like WeChat's: 28 characters, "o"
// and URL-safe base64.
func newOpenID() string {
	b := make([]byte, 20)
	rand.Read(b)
	return "o" + base64.RawURLEncoding.EncodeToString(b)
}

// newNonce returns a nonce shaped like WeChat's: a decimal number.
func newNonce() string {
	var b [4]byte
	rand.Read(b[:])
	return strconv.FormatUint(uint64(binary.BigEndian.Uint32(b[:])), 10)
}
