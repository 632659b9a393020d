// Package push secures and reads the messages WeChat pushes to an Official
// Account's server URL: the scan events (subscribe, SCAN, unsubscribe) that
// tell which code a user scanned.
//
// It does, for one app:
//
//   - URL verification: signature = SHA-1 of the sorted token, timestamp and
//     nonce (VerifyURL);
//   - plain mode: the same signature over the query of each push;
//   - safe and compatible modes (encrypt_type=aes): msg_signature over the
//     sorted token, timestamp, nonce and Encrypt value, then AES-256-CBC
//     with key = Base64(EncodingAESKey + "="), IV = the key's first 16
//     bytes, PKCS#7 padding to 32-byte blocks, and a plaintext of 16 random
//     bytes, the 4-byte big-endian length of the XML, the XML and the app
//     id, which must be this app's. The current key is tried first, then the
//     previous one, since WeChat lets an account change its key;
//   - the reverse (Seal, SealReply, Encrypt), for a simulator that pushes
//     events as WeChat does and for encrypted replies;
//   - parsing of the pushed XML into an Event, with bodies capped at
//     MaxBodyBytes.
//
// Signatures are checked before anything is decrypted, and compared in
// constant time, so a bad padding can never be probed by a sender without
// the token. Errors match one of ErrSignature, ErrKey, ErrPadding, ErrAppID
// or ErrMalformed (errors.Is), and never contain the token, a key, or a
// field of the message (an openid is personal data).
//
// It does not: serve HTTP, read the request (the caller caps and reads the
// body, see ReadBody), reject old timestamps or replays (WeChat retries a
// push with the same signature; deduplicating them is the receiver's job),
// decide what an event means, or record anything.
package push
