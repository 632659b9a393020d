package push

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
)

// MaxBodyBytes caps a pushed body, plain or encrypted. WeChat's events are
// well under 2 KB; text messages, the largest pushes, under 10 KB.
const MaxBodyBytes = 64 << 10

// Event is a pushed message, with the fields scan attribution needs. Other
// messages (text, location) parse too, with only the common fields. It
// marshals to WeChat's XML with xml.Marshal.
type Event struct {
	XMLName xml.Name `xml:"xml"`
	// ToUserName is the account's original id (gh_...).
	ToUserName string `xml:"ToUserName"`
	// FromUserName is the user's openid: personal data, keep it out of logs.
	FromUserName string `xml:"FromUserName"`
	// CreateTime is in Unix seconds.
	CreateTime int64 `xml:"CreateTime"`
	// MsgType is "event" for events.
	MsgType string `xml:"MsgType"`
	// Event is "subscribe", "SCAN", "unsubscribe", ...
	Event string `xml:"Event,omitempty"`
	// EventKey is "qrscene_<scene>" on subscribe, "<scene>" on SCAN.
	EventKey string `xml:"EventKey,omitempty"`
	// Ticket is the ticket of the scanned code.
	Ticket string `xml:"Ticket,omitempty"`
}

// envelope is an encrypted push (`<xml><ToUserName/><Encrypt/></xml>`; in
// compatible mode the plain fields are there too, and ignored).
type envelope struct {
	XMLName    xml.Name `xml:"xml"`
	ToUserName string   `xml:"ToUserName"`
	Encrypt    string   `xml:"Encrypt"`
}

// reply is an encrypted reply.
type reply struct {
	XMLName      xml.Name `xml:"xml"`
	Encrypt      string   `xml:"Encrypt"`
	MsgSignature string   `xml:"MsgSignature"`
	TimeStamp    string   `xml:"TimeStamp"`
	Nonce        string   `xml:"Nonce"`
}

// ReadBody reads a pushed body, at most MaxBodyBytes; a longer one is
// ErrMalformed.
func ReadBody(r io.Reader) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r, MaxBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("push: read body: %w", err)
	}
	if err := checkSize(body); err != nil {
		return nil, err
	}
	return body, nil
}

func checkSize(body []byte) error {
	if len(body) > MaxBodyBytes {
		return fmt.Errorf("%w: body over %d bytes", ErrMalformed, MaxBodyBytes)
	}
	return nil
}

// ParseEvent parses a plain (or decrypted) message. ToUserName,
// FromUserName and MsgType are required.
func ParseEvent(body []byte) (*Event, error) {
	var ev Event
	if err := unmarshal(body, &ev); err != nil {
		return nil, err
	}
	if ev.ToUserName == "" || ev.FromUserName == "" || ev.MsgType == "" {
		return nil, fmt.Errorf("%w: ToUserName, FromUserName and MsgType are required", ErrMalformed)
	}
	return &ev, nil
}

// parseEnvelope parses an encrypted push; Encrypt is required.
func parseEnvelope(body []byte) (*envelope, error) {
	var env envelope
	if err := unmarshal(body, &env); err != nil {
		return nil, err
	}
	if env.Encrypt == "" {
		return nil, fmt.Errorf("%w: no Encrypt element", ErrMalformed)
	}
	return &env, nil
}

// unmarshal decodes a capped body. Its errors say where the XML breaks but
// not what it holds: decoding errors may quote field values.
func unmarshal(body []byte, v any) error {
	if err := checkSize(body); err != nil {
		return err
	}
	if err := xml.Unmarshal(body, v); err != nil {
		var syntax *xml.SyntaxError
		if errors.As(err, &syntax) {
			return fmt.Errorf("%w: XML syntax error on line %d", ErrMalformed, syntax.Line)
		}
		return fmt.Errorf("%w: not a WeChat XML message", ErrMalformed)
	}
	return nil
}
