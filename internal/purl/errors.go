package purl

import "errors"

// errNoName: a purl without a name identifies nothing.
var errNoName = errors.New("package URL has no name")
