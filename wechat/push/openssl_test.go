package push

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"os/exec"
	"strings"
	"testing"

	"github.com/wxqr/wxqr/internal/testenv"
)

// The vectors of these tests come from openssl, an implementation of AES,
// base64 and SHA-1 independent of Go's, on plaintexts laid out here by hand
// (16 random bytes, big-endian length, XML, app id, 32-byte PKCS#7).

// openssl runs openssl with stdin and returns its output.
func openssl(t *testing.T, stdin []byte, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(testenv.Tool(t, "openssl"), args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// opensslKey decodes an EncodingAESKey with openssl: the hex of the AES key
// and of the IV (its first 16 bytes).
func opensslKey(t *testing.T, encodingAESKey string) (key, iv string) {
	t.Helper()
	raw := openssl(t, []byte(encodingAESKey+"=\n"), "base64", "-d", "-A")
	if len(raw) != 32 {
		t.Fatalf("openssl decoded the key to %d bytes, want 32", len(raw))
	}
	return hex.EncodeToString(raw), hex.EncodeToString(raw[:16])
}

// wechatPlaintext lays out a plaintext as WeChat's documentation does.
func wechatPlaintext(random, msg []byte, appID string) []byte {
	var b []byte
	b = append(b, random...)
	b = append(b, byte(len(msg)>>24), byte(len(msg)>>16), byte(len(msg)>>8), byte(len(msg)))
	b = append(b, msg...)
	b = append(b, appID...)
	pad := 32 - len(b)%32
	for range pad {
		b = append(b, byte(pad))
	}
	return b
}

func TestDecryptsWhatOpenSSLEncrypts(t *testing.T) {
	key, iv := opensslKey(t, testAESKey)
	c := newTestCodec(t, Config{AESKey: testAESKey})
	random := []byte("0123456789abcdef")
	// Lengths that land on each side of a 32-byte block boundary, so the
	// padding is 32 bytes in one case.
	for _, msg := range [][]byte{
		[]byte(testEventXML),
		[]byte("<xml></xml>"),
		bytes.Repeat([]byte("x"), 32*4-16-4-len(testAppID)),
	} {
		plain := wechatPlaintext(random, msg, testAppID)
		ciphertext := openssl(t, plain, "enc", "-aes-256-cbc", "-K", key, "-iv", iv, "-nopad")
		encrypted := base64.StdEncoding.EncodeToString(ciphertext)

		got, err := c.Decrypt(encrypted)
		if err != nil {
			t.Fatalf("Decrypt of %d bytes: %v", len(msg), err)
		}
		if !bytes.Equal(got, msg) {
			t.Errorf("Decrypt = %q, want %q", got, msg)
		}
		if ours := c.keys[0].encrypt(random, msg, testAppID); ours != encrypted {
			t.Errorf("encrypt of %d bytes differs from openssl:\n got %s\nwant %s", len(msg), ours, encrypted)
		}
	}
}

func TestOpenSSLDecryptsWhatEncryptMakes(t *testing.T) {
	key, iv := opensslKey(t, testAESKey)
	c := newTestCodec(t, Config{AESKey: testAESKey})
	msg := []byte(testEventXML)
	encrypted, err := c.Encrypt(msg)
	if err != nil {
		t.Fatal(err)
	}
	ciphertext, err := base64.StdEncoding.DecodeString(encrypted)
	if err != nil {
		t.Fatal(err)
	}
	plain := openssl(t, ciphertext, "enc", "-d", "-aes-256-cbc", "-K", key, "-iv", iv, "-nopad")
	if len(plain)%32 != 0 {
		t.Fatalf("plaintext of %d bytes is not padded to 32", len(plain))
	}
	if want := wechatPlaintext(plain[:16], msg, testAppID); !bytes.Equal(plain, want) {
		t.Errorf("openssl decrypted\n%q\nwant\n%q", plain, want)
	}
	if n := binary.BigEndian.Uint32(plain[16:20]); n != uint32(len(msg)) {
		t.Errorf("length field = %d, want %d", n, len(msg))
	}
}

func TestSignatureMatchesOpenSSL(t *testing.T) {
	// Sorted by hand: digits before upper case before lower case.
	for _, tc := range []struct {
		parts  []string
		sorted string
	}{
		{[]string{testToken, "1700000000", "nonce42"}, "1700000000" + "nonce42" + testToken},
		{[]string{testToken, "1700000000", "nonce42", "Q2lwaGVy+/="}, "1700000000" + "Q2lwaGVy+/=" + "nonce42" + testToken},
	} {
		out := openssl(t, []byte(tc.sorted), "dgst", "-sha1", "-r")
		want, _, _ := strings.Cut(string(out), " ")
		if got := Signature(tc.parts...); got != want {
			t.Errorf("Signature(%q) = %s, openssl says %s", tc.parts, got, want)
		}
	}
}

func TestOpensAPushBuiltWithOpenSSL(t *testing.T) {
	key, iv := opensslKey(t, testAESKey)
	ciphertext := openssl(t, wechatPlaintext([]byte("fedcba9876543210"), []byte(testEventXML), testAppID),
		"enc", "-aes-256-cbc", "-K", key, "-iv", iv, "-nopad")
	encrypted := strings.TrimSpace(string(openssl(t, ciphertext, "base64", "-A")))
	const timestamp, nonce = "1700000000", "n0nce"
	sorted := []string{testToken, timestamp, nonce, encrypted}
	// Sort with the shell's C locale, not Go.
	sortCmd := exec.Command("sort")
	sortCmd.Env = []string{"LC_ALL=C"}
	sortCmd.Stdin = strings.NewReader(strings.Join(sorted, "\n") + "\n")
	lines, err := sortCmd.Output()
	if err != nil {
		t.Fatalf("sort: %v", err)
	}
	out := openssl(t, []byte(strings.ReplaceAll(string(lines), "\n", "")), "dgst", "-sha1", "-r")
	msgSignature, _, _ := strings.Cut(string(out), " ")

	c := newTestCodec(t, Config{AESKey: testAESKey})
	body := []byte("<xml><ToUserName><![CDATA[gh_test]]></ToUserName><Encrypt><![CDATA[" + encrypted + "]]></Encrypt></xml>")
	ev, err := c.Open(Query{Timestamp: timestamp, Nonce: nonce, EncryptType: "aes", MsgSignature: msgSignature}, body)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if *ev != *testEvent() {
		t.Errorf("Open = %+v, want %+v", *ev, *testEvent())
	}
}
