package push

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
)

const (
	// encodingAESKeyLen is the length of an EncodingAESKey: 43 base64
	// characters, 32 bytes once "=" is appended.
	encodingAESKeyLen = 43
	// padBlock is WeChat's PKCS#7 block: 32 bytes, not AES's 16.
	padBlock = 32
	// randomLen and lengthLen are the plaintext's prefix: 16 random bytes,
	// then the XML's length, 4 bytes big-endian.
	randomLen = 16
	lengthLen = 4
)

// aesKey is one decoded EncodingAESKey.
type aesKey struct {
	block cipher.Block
	iv    []byte
}

// parseAESKey checks an EncodingAESKey (43 characters of [A-Za-z0-9]) and
// decodes it. The error never contains the key.
func parseAESKey(encoding string) (*aesKey, error) {
	if len(encoding) != encodingAESKeyLen {
		return nil, fmt.Errorf("%w: %d characters, want %d", ErrKey, len(encoding), encodingAESKeyLen)
	}
	for _, c := range []byte(encoding) {
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return nil, fmt.Errorf("%w: only letters and digits are allowed", ErrKey)
		}
	}
	key, err := base64.StdEncoding.DecodeString(encoding + "=")
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("%w: not base64 of 32 bytes", ErrKey)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	return &aesKey{block: block, iv: key[:aes.BlockSize]}, nil
}

// encrypt builds WeChat's plaintext (random, length, msg, appID), pads it
// to 32-byte blocks, encrypts it and returns it in base64.
func (k *aesKey) encrypt(random []byte, msg []byte, appID string) string {
	plain := make([]byte, 0, randomLen+lengthLen+len(msg)+len(appID)+padBlock)
	plain = append(plain, random[:randomLen]...)
	plain = binary.BigEndian.AppendUint32(plain, uint32(len(msg)))
	plain = append(plain, msg...)
	plain = append(plain, appID...)
	pad := padBlock - len(plain)%padBlock
	plain = append(plain, bytes.Repeat([]byte{byte(pad)}, pad)...)
	cipher.NewCBCEncrypter(k.block, k.iv).CryptBlocks(plain, plain)
	return base64.StdEncoding.EncodeToString(plain)
}

// decrypt reverses encrypt and returns the message, after checking the
// padding, the length and the app id.
func (k *aesKey) decrypt(ciphertext []byte, appID string) ([]byte, error) {
	plain := make([]byte, len(ciphertext))
	cipher.NewCBCDecrypter(k.block, k.iv).CryptBlocks(plain, ciphertext)
	pad := int(plain[len(plain)-1])
	if pad < 1 || pad > padBlock || pad > len(plain) {
		return nil, ErrPadding
	}
	for _, b := range plain[len(plain)-pad:] {
		if int(b) != pad {
			return nil, ErrPadding
		}
	}
	plain = plain[:len(plain)-pad]
	if len(plain) < randomLen+lengthLen {
		return nil, fmt.Errorf("%w: plaintext too short", ErrMalformed)
	}
	rest := plain[randomLen:]
	n := binary.BigEndian.Uint32(rest)
	rest = rest[lengthLen:]
	if uint64(n) > uint64(len(rest)) {
		return nil, fmt.Errorf("%w: length %d beyond the plaintext's %d bytes", ErrMalformed, n, len(rest))
	}
	if string(rest[n:]) != appID {
		return nil, ErrAppID
	}
	return rest[:n], nil
}

// decodeCiphertext turns an Encrypt value into whole AES blocks.
func decodeCiphertext(encrypted string) ([]byte, error) {
	ciphertext, err := base64.StdEncoding.DecodeString(encrypted)
	if err != nil {
		return nil, fmt.Errorf("%w: Encrypt is not base64", ErrMalformed)
	}
	if len(ciphertext) == 0 || len(ciphertext)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("%w: ciphertext of %d bytes is not whole blocks", ErrMalformed, len(ciphertext))
	}
	return ciphertext, nil
}

// randomPrefix reads the 16 random bytes that start a plaintext.
func randomPrefix() []byte {
	random := make([]byte, randomLen)
	rand.Read(random) // never fails: crypto/rand panics instead
	return random
}
