// Package keys generates, stores and loads the signing keys of a ferry channel.
//
// Keys are ed25519 (the default, deterministic signatures) or ECDSA P-256
// (randomised signatures: kits signed with them are not byte-reproducible).
// Private keys are PKCS#8 PEM files written with mode 0600; public keys are
// PKIX PEM files. A private key is never printed, logged or put in an error
// message: errors name the file, not its content. LoadPrivate refuses a key
// file that others than its owner may access (ErrKeyPermissions), as ssh
// does. Detector finds private key material of any common kind in a stream,
// so that callers refuse to copy it anywhere (a kit, a store).
//
// Package keys never opens a network connection.
package keys
