// Package mirror holds the connected-side sources of a kit: registry images,
// OSV advisories, OpenVEX and CSAF documents, OCI VEX attestations, TUF
// repositories and public keys. Each source fetches what kit.yaml names and
// hands back files for the kit with their provenance.
//
// mirror is the only package that opens network connections, and only
// where a source names a URL or a registry. Every source validates its
// input (records, documents, keys) before it is packed, so a site never
// receives what the connected side could have refused. Time comes in from
// the caller (the kit's created time); the package never reads the clock.
package mirror
