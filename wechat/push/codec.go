package push

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net/url"
)

// Config configures a Codec for one app.
type Config struct {
	// AppID is the app's id, which encrypted messages must carry. Required.
	AppID string
	// Token is the token of the account's server configuration. Required.
	Token string
	// AESKey is the EncodingAESKey: 43 characters of [A-Za-z0-9]. Empty
	// (the default): only plain pushes are accepted.
	AESKey string
	// PreviousAESKey is the key AESKey replaced, tried when AESKey fails,
	// for the pushes sent before WeChat switched. Optional; needs AESKey.
	PreviousAESKey string
}

// Query is what WeChat puts in a push's query string.
type Query struct {
	Signature    string // signature: token, timestamp, nonce
	Timestamp    string // timestamp
	Nonce        string // nonce
	EncryptType  string // encrypt_type: "aes" in safe and compatible modes, else "" or "raw"
	MsgSignature string // msg_signature: token, timestamp, nonce, Encrypt
}

// QueryFrom reads a Query from a request's query string.
func QueryFrom(v url.Values) Query {
	return Query{
		Signature:    v.Get("signature"),
		Timestamp:    v.Get("timestamp"),
		Nonce:        v.Get("nonce"),
		EncryptType:  v.Get("encrypt_type"),
		MsgSignature: v.Get("msg_signature"),
	}
}

// Values is the query string of q, as WeChat sends it.
func (q Query) Values() url.Values {
	v := url.Values{"signature": {q.Signature}, "timestamp": {q.Timestamp}, "nonce": {q.Nonce}}
	if q.EncryptType != "" {
		v.Set("encrypt_type", q.EncryptType)
	}
	if q.MsgSignature != "" {
		v.Set("msg_signature", q.MsgSignature)
	}
	return v
}

// Codec checks, decrypts and parses one app's pushes, and builds them.
// It is safe for concurrent use.
type Codec struct {
	appID string
	token string
	keys  []*aesKey // current first, then previous
}

// New checks cfg and returns its Codec. A bad key is ErrKey.
func New(cfg Config) (*Codec, error) {
	if cfg.AppID == "" {
		return nil, errors.New("push: AppID is required")
	}
	if cfg.Token == "" {
		return nil, errors.New("push: Token is required")
	}
	if cfg.AESKey == "" && cfg.PreviousAESKey != "" {
		return nil, fmt.Errorf("%w: PreviousAESKey needs AESKey", ErrKey)
	}
	c := &Codec{appID: cfg.AppID, token: cfg.Token}
	for _, k := range []struct{ name, value string }{{"AESKey", cfg.AESKey}, {"PreviousAESKey", cfg.PreviousAESKey}} {
		if k.value == "" {
			continue
		}
		key, err := parseAESKey(k.value)
		if err != nil {
			return nil, fmt.Errorf("push: %s: %w", k.name, err)
		}
		c.keys = append(c.keys, key)
	}
	return c, nil
}

// VerifyURL checks WeChat's URL verification (GET): the signature of the
// token, timestamp and nonce. On nil, the receiver answers echostr as is.
func (c *Codec) VerifyURL(q Query) error {
	return verify(q.Signature, c.token, q.Timestamp, q.Nonce)
}

// Open checks a push and returns its message: in plain mode, the signature
// of the query; with encrypt_type=aes, the msg_signature over the
// envelope's Encrypt, then decryption with the current key and then the
// previous one. The body is capped at MaxBodyBytes.
func (c *Codec) Open(q Query, body []byte) (*Event, error) {
	switch q.EncryptType {
	case "", "raw":
		if err := checkSize(body); err != nil {
			return nil, err
		}
		if err := c.VerifyURL(q); err != nil {
			return nil, err
		}
		return ParseEvent(body)
	case "aes":
		env, err := parseEnvelope(body)
		if err != nil {
			return nil, err
		}
		if err := verify(q.MsgSignature, c.token, q.Timestamp, q.Nonce, env.Encrypt); err != nil {
			return nil, err
		}
		msg, err := c.Decrypt(env.Encrypt)
		if err != nil {
			return nil, err
		}
		return ParseEvent(msg)
	default:
		return nil, fmt.Errorf("%w: unknown encrypt_type", ErrMalformed)
	}
}

// Decrypt decrypts an Encrypt value with the current key, then the
// previous one, and returns the message. It does not check a signature:
// Open does, first.
func (c *Codec) Decrypt(encrypted string) ([]byte, error) {
	if len(c.keys) == 0 {
		return nil, fmt.Errorf("%w: an encrypted message, and no EncodingAESKey", ErrKey)
	}
	ciphertext, err := decodeCiphertext(encrypted)
	if err != nil {
		return nil, err
	}
	var first error
	for _, key := range c.keys {
		msg, err := key.decrypt(ciphertext, c.appID)
		if err == nil {
			return msg, nil
		}
		// A key that decrypts to another app's message is the right key:
		// that is the error that tells what happened.
		if errors.Is(err, ErrAppID) {
			return nil, err
		}
		if first == nil {
			first = err
		}
	}
	return nil, first
}

// Encrypt encrypts msg with the current key, as WeChat does, and returns
// the Encrypt value.
func (c *Codec) Encrypt(msg []byte) (string, error) {
	if len(c.keys) == 0 {
		return "", fmt.Errorf("%w: no EncodingAESKey to encrypt with", ErrKey)
	}
	return c.keys[0].encrypt(randomPrefix(), msg, c.appID), nil
}

// Seal builds a push of msg as WeChat sends it: with no AESKey, the plain
// body and its signature; with one, the safe-mode envelope (toUserName and
// the encrypted msg) and its msg_signature.
func (c *Codec) Seal(toUserName string, msg []byte, timestamp, nonce string) (Query, []byte, error) {
	q := Query{Signature: Signature(c.token, timestamp, nonce), Timestamp: timestamp, Nonce: nonce}
	if len(c.keys) == 0 {
		return q, msg, nil
	}
	encrypted, err := c.Encrypt(msg)
	if err != nil {
		return Query{}, nil, err
	}
	body, err := xml.Marshal(envelope{ToUserName: toUserName, Encrypt: encrypted})
	if err != nil {
		return Query{}, nil, fmt.Errorf("push: marshal envelope: %w", err)
	}
	q.EncryptType = "aes"
	q.MsgSignature = Signature(c.token, timestamp, nonce, encrypted)
	return q, body, nil
}

// SealReply encrypts a reply to a safe-mode push:
// `<xml><Encrypt/><MsgSignature/><TimeStamp/><Nonce/></xml>`.
func (c *Codec) SealReply(msg []byte, timestamp, nonce string) ([]byte, error) {
	encrypted, err := c.Encrypt(msg)
	if err != nil {
		return nil, err
	}
	body, err := xml.Marshal(reply{
		Encrypt:      encrypted,
		MsgSignature: Signature(c.token, timestamp, nonce, encrypted),
		TimeStamp:    timestamp,
		Nonce:        nonce,
	})
	if err != nil {
		return nil, fmt.Errorf("push: marshal reply: %w", err)
	}
	return body, nil
}

// OpenReply checks and decrypts a reply built by SealReply (a receiver's
// encrypted answer to a push) and returns its message.
func (c *Codec) OpenReply(body []byte) ([]byte, error) {
	var r reply
	if err := unmarshal(body, &r); err != nil {
		return nil, err
	}
	if r.Encrypt == "" {
		return nil, fmt.Errorf("%w: no Encrypt element", ErrMalformed)
	}
	if err := verify(r.MsgSignature, c.token, r.TimeStamp, r.Nonce, r.Encrypt); err != nil {
		return nil, err
	}
	return c.Decrypt(r.Encrypt)
}
