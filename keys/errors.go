package keys

import "errors"

// ErrUnsupportedAlgorithm is returned for an algorithm or key type that ferry
// does not sign with (anything but ed25519 and ECDSA P-256).
var ErrUnsupportedAlgorithm = errors.New("unsupported key algorithm")

// ErrNotPrivateKey is returned when a public key is given where a private key
// is needed.
var ErrNotPrivateKey = errors.New("not a private key")

// ErrPrivateKeyGiven is returned when a private key is given where only a
// public key belongs (it is refused so that it is never copied anywhere).
var ErrPrivateKeyGiven = errors.New("a private key was given where a public key belongs")

// ErrKeyExists is returned by WritePair when a key file already exists: keys
// are never overwritten.
var ErrKeyExists = errors.New("key file already exists")

// ErrKeyPermissions is returned by LoadPrivate for a private key file that
// others than its owner may read or write (mode & 0o077 != 0).
var ErrKeyPermissions = errors.New("private key file is accessible by others")

// ErrNotFIPSApproved is returned in FIPS 140-only mode (GODEBUG=fips140=only)
// for what that mode forbids: a key generated from a reader other than the
// module's random source (a seeded test reader), which would bypass the
// approved key generation.
var ErrNotFIPSApproved = errors.New("not allowed in FIPS 140-only mode (GODEBUG=fips140=only)")
