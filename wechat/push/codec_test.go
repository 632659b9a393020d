package push

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"strings"
	"testing"
)

const (
	testAppID   = "wxb11529c136998cb6"
	testToken   = "pamtest"
	testAESKey  = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	otherAESKey = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"
	testOpenID  = "oUser1234567890abcdefghijklm"

	testEventXML = "<xml><ToUserName><![CDATA[gh_test]]></ToUserName>" +
		"<FromUserName><![CDATA[" + testOpenID + "]]></FromUserName>" +
		"<CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]></MsgType>" +
		"<Event><![CDATA[subscribe]]></Event><EventKey><![CDATA[qrscene_123]]></EventKey>" +
		"<Ticket><![CDATA[gQH47joAAAAAAAAAASxodHRw]]></Ticket></xml>"
)

func testEvent() *Event {
	return &Event{
		XMLName:      xml.Name{Local: "xml"},
		ToUserName:   "gh_test",
		FromUserName: testOpenID,
		CreateTime:   1700000000,
		MsgType:      "event",
		Event:        "subscribe",
		EventKey:     "qrscene_123",
		Ticket:       "gQH47joAAAAAAAAAASxodHRw",
	}
}

// newTestCodec fills AppID and Token when cfg leaves them empty.
func newTestCodec(t *testing.T, cfg Config) *Codec {
	t.Helper()
	if cfg.AppID == "" {
		cfg.AppID = testAppID
	}
	if cfg.Token == "" {
		cfg.Token = testToken
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// checkErr fails unless err is want, and checks that err tells no secret
// and no openid.
func checkErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
	for _, secret := range []string{testToken, testAESKey, otherAESKey, testOpenID} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q contains %q", err, secret)
		}
	}
}

func TestNewChecksKeys(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want error
	}{
		{"42 characters", Config{AESKey: testAESKey[:42]}, ErrKey},
		{"44 characters", Config{AESKey: testAESKey + "H"}, ErrKey},
		{"not alphanumeric", Config{AESKey: "+" + testAESKey[1:]}, ErrKey},
		{"bad previous", Config{AESKey: testAESKey, PreviousAESKey: otherAESKey[:40] + "=/="}, ErrKey},
		{"previous alone", Config{PreviousAESKey: testAESKey}, ErrKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.AppID, tt.cfg.Token = testAppID, testToken
			_, err := New(tt.cfg)
			checkErr(t, err, tt.want)
		})
	}
	for _, cfg := range []Config{{Token: testToken}, {AppID: testAppID}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) = nil error, want AppID and Token required", cfg)
		}
	}
}

func TestVerifyURL(t *testing.T) {
	c := newTestCodec(t, Config{})
	good := Query{Signature: Signature(testToken, "1700000000", "abc"), Timestamp: "1700000000", Nonce: "abc"}
	if err := c.VerifyURL(good); err != nil {
		t.Fatalf("VerifyURL: %v", err)
	}
	for name, q := range map[string]Query{
		"other timestamp": {Signature: good.Signature, Timestamp: "1700000001", Nonce: "abc"},
		"other token":     {Signature: Signature("other", "1700000000", "abc"), Timestamp: "1700000000", Nonce: "abc"},
		"upper case":      {Signature: strings.ToUpper(good.Signature), Timestamp: "1700000000", Nonce: "abc"},
		"empty":           {Timestamp: "1700000000", Nonce: "abc"},
	} {
		t.Run(name, func(t *testing.T) { checkErr(t, c.VerifyURL(q), ErrSignature) })
	}
}

func TestSignatureSortsItsParts(t *testing.T) {
	if a, b := Signature("b", "a", "c"), Signature("c", "b", "a"); a != b {
		t.Errorf("Signature depends on the order of its parts: %s, %s", a, b)
	}
	if a, b := Signature("ab", "c"), Signature("a", "bc"); a != b {
		t.Errorf("Signature(ab, c) = %s, Signature(a, bc) = %s: both hash abc", a, b)
	}
}

func TestSealOpenRoundTrip(t *testing.T) {
	msg, err := xml.Marshal(testEvent())
	if err != nil {
		t.Fatal(err)
	}
	for name, cfg := range map[string]Config{
		"plain": {},
		"aes":   {AESKey: testAESKey},
	} {
		t.Run(name, func(t *testing.T) {
			c := newTestCodec(t, cfg)
			q, body, err := c.Seal("gh_test", msg, "1700000000", "nonce")
			if err != nil {
				t.Fatal(err)
			}
			if cfg.AESKey != "" && bytes.Contains(body, []byte(testOpenID)) {
				t.Errorf("encrypted body shows the openid: %s", body)
			}
			ev, err := c.Open(QueryFrom(q.Values()), body)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if *ev != *testEvent() {
				t.Errorf("Open = %+v, want %+v", *ev, *testEvent())
			}
		})
	}
}

func TestSealReplyRoundTrip(t *testing.T) {
	c := newTestCodec(t, Config{AESKey: testAESKey})
	body, err := c.SealReply([]byte("success"), "1700000000", "nonce")
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.OpenReply(body)
	if err != nil {
		t.Fatalf("OpenReply: %v", err)
	}
	if string(got) != "success" {
		t.Errorf("OpenReply = %q, want success", got)
	}
	tampered := bytes.Replace(body, []byte("<TimeStamp>1700000000"), []byte("<TimeStamp>1700000001"), 1)
	_, err = c.OpenReply(tampered)
	checkErr(t, err, ErrSignature)
}

// sealed returns an encrypted push of the test event by c, its random
// prefix fixed so that failures are the same on every run.
func sealed(t *testing.T, c *Codec, appID string) string {
	t.Helper()
	return c.keys[0].encrypt([]byte("0123456789abcdef"), []byte(testEventXML), appID)
}

func TestPreviousKey(t *testing.T) {
	old := newTestCodec(t, Config{AESKey: otherAESKey})
	rotated := newTestCodec(t, Config{AESKey: testAESKey, PreviousAESKey: otherAESKey})
	fresh := newTestCodec(t, Config{AESKey: testAESKey})

	for name, c := range map[string]*Codec{"previous key": old, "current key": fresh} {
		t.Run(name, func(t *testing.T) {
			got, err := rotated.Decrypt(sealed(t, c, testAppID))
			if err != nil {
				t.Fatalf("Decrypt: %v", err)
			}
			if string(got) != testEventXML {
				t.Errorf("Decrypt = %q", got)
			}
		})
	}
	t.Run("without the previous key", func(t *testing.T) {
		_, err := fresh.Decrypt(sealed(t, old, testAppID))
		checkErr(t, err, ErrPadding)
	})
	t.Run("app id mismatch with the previous key", func(t *testing.T) {
		_, err := rotated.Decrypt(sealed(t, old, "wxother"))
		checkErr(t, err, ErrAppID)
	})
}

func TestAppIDMismatch(t *testing.T) {
	c := newTestCodec(t, Config{AESKey: testAESKey})
	other := newTestCodec(t, Config{AppID: "wx0000000000000000", AESKey: testAESKey})
	q, body, err := other.Seal("gh_test", []byte(testEventXML), "1700000000", "nonce")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Open(q, body)
	checkErr(t, err, ErrAppID)
	// An app id that only starts like ours is another app id.
	_, err = c.Decrypt(sealed(t, c, testAppID+"x"))
	checkErr(t, err, ErrAppID)
}

// rawEncrypt encrypts plain (whole blocks, no padding added) with key.
func rawEncrypt(t *testing.T, encodingAESKey string, plain []byte) string {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(encodingAESKey + "=")
	if err != nil {
		t.Fatal(err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, key[:16]).CryptBlocks(out, plain)
	return base64.StdEncoding.EncodeToString(out)
}

func TestBadPadding(t *testing.T) {
	c := newTestCodec(t, Config{AESKey: testAESKey})
	good := wechatPlaintext([]byte("0123456789abcdef"), []byte(testEventXML), testAppID)
	if got, err := c.Decrypt(rawEncrypt(t, testAESKey, good)); err != nil || string(got) != testEventXML {
		t.Fatalf("Decrypt of a good plaintext = %q, %v", got, err)
	}
	withLast := func(tail ...byte) []byte {
		b := bytes.Clone(good)
		copy(b[len(b)-len(tail):], tail)
		return b
	}
	for name, plain := range map[string][]byte{
		"zero":         withLast(0),
		"over 32":      withLast(33),
		"inconsistent": withLast(3, 4, 3),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := c.Decrypt(rawEncrypt(t, testAESKey, plain))
			checkErr(t, err, ErrPadding)
		})
	}
}

func TestTruncatedCiphertext(t *testing.T) {
	c := newTestCodec(t, Config{AESKey: testAESKey})
	ciphertext, err := base64.StdEncoding.DecodeString(sealed(t, c, testAppID))
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		ciphertext []byte
		want       error
	}{
		"not whole blocks": {ciphertext[:len(ciphertext)-5], ErrMalformed},
		// The last block is then text of the XML, not padding.
		"one block short": {ciphertext[:len(ciphertext)-16], ErrPadding},
		"empty":           {nil, ErrMalformed},
	} {
		t.Run(name, func(t *testing.T) {
			encrypted := base64.StdEncoding.EncodeToString(tc.ciphertext)
			q := Query{Timestamp: "1700000000", Nonce: "nonce", EncryptType: "aes",
				MsgSignature: Signature(testToken, "1700000000", "nonce", encrypted)}
			body := []byte("<xml><ToUserName>gh_test</ToUserName><Encrypt>" + encrypted + "</Encrypt></xml>")
			_, err := c.Open(q, body)
			checkErr(t, err, tc.want)
		})
	}
}

func TestLengthBeyondPlaintext(t *testing.T) {
	c := newTestCodec(t, Config{AESKey: testAESKey})
	plain := wechatPlaintext([]byte("0123456789abcdef"), []byte(testEventXML), testAppID)
	plain[16] = 0x7f // the length field now says about 2 GB
	_, err := c.Decrypt(rawEncrypt(t, testAESKey, plain))
	checkErr(t, err, ErrMalformed)
}

func TestOpenRejects(t *testing.T) {
	plainCodec := newTestCodec(t, Config{})
	aesCodec := newTestCodec(t, Config{AESKey: testAESKey})
	q, body, err := aesCodec.Seal("gh_test", []byte(testEventXML), "1700000000", "nonce")
	if err != nil {
		t.Fatal(err)
	}
	signed := func(extra ...string) Query {
		return Query{
			Signature: Signature(testToken, "1700000000", "nonce"), Timestamp: "1700000000", Nonce: "nonce",
			MsgSignature: Signature(append([]string{testToken, "1700000000", "nonce"}, extra...)...),
		}
	}
	aes := func(q Query) Query { q.EncryptType = "aes"; return q }
	badSig := q
	badSig.MsgSignature = Signature("other", q.Timestamp, q.Nonce)
	huge := []byte("<xml><ToUserName>gh_test</ToUserName><FromUserName>" + testOpenID +
		"</FromUserName><Content>" + strings.Repeat("x", MaxBodyBytes) + "</Content></xml>")

	tests := []struct {
		name  string
		codec *Codec
		q     Query
		body  []byte
		want  error
	}{
		{"bad msg_signature", aesCodec, badSig, body, ErrSignature},
		{"plain signature only", aesCodec, aes(signed()), body, ErrSignature},
		{"bad plain signature", plainCodec, Query{Signature: "0" + signed().Signature[1:], Timestamp: "1700000000", Nonce: "nonce"}, []byte(testEventXML), ErrSignature},
		{"encrypted, no key", plainCodec, q, body, ErrKey},
		{"not XML", plainCodec, signed(), []byte("<xml><FromUserName>" + testOpenID), ErrMalformed},
		{"no FromUserName", plainCodec, signed(), []byte("<xml><ToUserName>gh</ToUserName><MsgType>event</MsgType></xml>"), ErrMalformed},
		{"CreateTime not a number", plainCodec, signed(), []byte(strings.Replace(testEventXML, "1700000000", testOpenID, 1)), ErrMalformed},
		{"other root", plainCodec, signed(), []byte(strings.ReplaceAll(testEventXML, "xml>", "msg>")), ErrMalformed},
		{"too large", plainCodec, signed(), huge, ErrMalformed},
		{"too large, encrypted", aesCodec, q, huge, ErrMalformed},
		{"no Encrypt", aesCodec, aes(signed("")), []byte(testEventXML), ErrMalformed},
		{"Encrypt not base64", aesCodec, aes(signed("!!" + testOpenID)), []byte("<xml><Encrypt>!!" + testOpenID + "</Encrypt></xml>"), ErrMalformed},
		{"unknown encrypt_type", aesCodec, Query{EncryptType: "des"}, body, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.codec.Open(tt.q, tt.body)
			checkErr(t, err, tt.want)
		})
	}
}

func TestReadBodyCaps(t *testing.T) {
	body, err := ReadBody(strings.NewReader(strings.Repeat("x", MaxBodyBytes)))
	if err != nil || len(body) != MaxBodyBytes {
		t.Fatalf("ReadBody of MaxBodyBytes = %d bytes, %v", len(body), err)
	}
	_, err = ReadBody(strings.NewReader(strings.Repeat("x", MaxBodyBytes+1)))
	checkErr(t, err, ErrMalformed)
}
