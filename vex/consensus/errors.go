package consensus

import "errors"

// ErrIssuers: an issuer list is invalid (a duplicate or empty id, an
// unknown tier, a regular expression that does not compile).
var ErrIssuers = errors.New("invalid issuer list")
