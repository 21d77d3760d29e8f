// Package trust creates and rotates a channel's TUF root and loads the root
// chain that every kit carries.
//
// A channel has root keys (kept offline, k of n) that sign the root, and
// signing keys for the targets, snapshot and timestamp roles. Root v1 is
// written by Init; Rotate writes v(N+1) signed by the threshold of the old
// root and by the threshold of the new one, so a site pinned to any earlier
// root can follow the chain offline. The channel name is part of the signed
// root ("x-ferry": {"channel": …}), so a root cannot be reused for another
// channel unnoticed.
//
// Package trust never opens a network connection and never writes a private
// key anywhere.
package trust
