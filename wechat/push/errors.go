package push

import "errors"

// Errors, one per class of failure, for errors.Is. A receiver answers
// ErrSignature with 403 and the others with 400; ErrKey from New is a
// configuration error.
var (
	// ErrSignature: the signature or msg_signature does not match: the
	// sender does not know the token, or the message was altered.
	ErrSignature = errors.New("push: bad signature")
	// ErrKey: an EncodingAESKey is not 43 characters of [A-Za-z0-9], or an
	// encrypted message arrived for an app without one.
	ErrKey = errors.New("push: bad EncodingAESKey")
	// ErrPadding: the decrypted message does not end in a valid 32-byte
	// PKCS#7 padding: it was encrypted with another key.
	ErrPadding = errors.New("push: bad padding")
	// ErrAppID: the decrypted message names another app.
	ErrAppID = errors.New("push: app id mismatch")
	// ErrMalformed: not a message: too large, not XML, not base64, a
	// ciphertext that is not whole blocks, a length that does not fit.
	ErrMalformed = errors.New("push: malformed message")
)
