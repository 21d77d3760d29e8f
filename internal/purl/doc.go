// Package purl normalises package URLs, so that the spellings tools write
// for one package compare equal: scan's inventory, the store's VEX product
// index and the VEX consensus all go through it.
//
// Normal form: the type in lower case; a Go module path split into
// namespace and name and written with its slashes
// (pkg:golang/golang.org/x/text@v0.3.5, as the purl spec and osv-scanner
// write it, never golang.org%2Fx%2Ftext); PyPI names in lower case with
// '-' for '_' and '.'; github, bitbucket and oci names in lower case;
// qualifiers sorted by key; subpath without surrounding slashes.
//
// The package never reads files or the network.
package purl
