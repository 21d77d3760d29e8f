// Package enrich reads the enrichment feeds a kit may carry: the CISA Known
// Exploited Vulnerabilities catalog and EPSS scores. The connected side
// validates them with it before packing; the offline store indexes them
// with it at import. Reading is streaming and capped (EPSS files are
// gzip-compressed: a decompression bomb is refused).
//
// Package enrich never opens a network connection.
package enrich
