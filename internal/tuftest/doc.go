// Package tuftest builds small TUF repositories for tests with go-tuf's
// metadata API and serves them on a loopback TLS server, so that the TUF
// client (mirror.FetchTUF) and the offline re-verification
// (verify.TUFRepo) are tested against real, signed metadata.
//
// Only tests import it. Its keys are derived from fixed seeds and are
// public: nothing it signs is to be trusted outside a test. It opens no
// connection itself; Serve listens on loopback only.
package tuftest
