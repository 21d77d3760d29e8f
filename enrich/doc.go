// Package enrich reads the enrichment feeds a kit may carry: the CISA Known
// Exploited Vulnerabilities catalog and EPSS scores. The connected side
// validates them with it before packing; the offline store indexes them
// with it at import. Reading is streaming and capped (EPSS files are
// gzip-compressed: a decompression bomb is refused). FileKind tells the
// two apart by a kit target's media type (MediaKEV, MediaEPSS) or name;
// KEVEntry is the shape of a catalog entry.
//
// Package enrich never opens a network connection.
package enrich
