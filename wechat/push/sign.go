package push

import (
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"slices"
	"strings"
)

// Signature is WeChat's signature of a push: the hex SHA-1 of the strings
// sorted and concatenated. The URL check and plain pushes sign the token,
// timestamp and nonce; encrypted pushes and replies add the Encrypt value.
func Signature(parts ...string) string {
	sorted := slices.Clone(parts)
	slices.Sort(sorted)
	sum := sha1.Sum([]byte(strings.Join(sorted, "")))
	return hex.EncodeToString(sum[:])
}

// verify checks got against the signature of parts, in constant time.
func verify(got string, parts ...string) error {
	want := Signature(parts...)
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return ErrSignature
	}
	return nil
}
