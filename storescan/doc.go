// Package storescan adapts the offline store to scan's small read
// interfaces: the advisories, KEV and EPSS of the active kits
// (scan.Advisories, scan.KEV, scan.EPSS over one store.Reader) and the
// images kits imported (scan.ImageSource), and Scan runs a scan against
// them.
//
// It lives apart from both: scan never imports store, so it never links
// bbolt and a scan of files needs no store; store does not grow scan's
// types. It is not under scan/ because the image source builds images
// through package images, which links sigstore-go and with it net/http,
// and nothing under scan/ may (internal/depcheck).
//
// Package storescan never opens a network connection, never writes to the
// store and never reads the clock.
package storescan
