// Package bundle is the kit file format v1: a PAX tar, compressed with zstd,
// whose first entries are the TUF metadata of the kit (tuf/N.root.json …,
// tuf/timestamp.json, tuf/snapshot.json, tuf/targets.json) and whose
// remaining entries are the content files, sorted bytewise by path.
//
// Write produces a byte-identical file for the same files, kit metadata and
// ed25519 keys: entries have fixed headers (mode 0644, uid/gid 0, no names,
// mtime = the kit's created time) and the zstd settings are pinned constants.
//
// EncodeMetadata is the one canonical form of a kit's TUF metadata, which
// the writer uses and ParseMetadata re-derives: a signature covers only the
// signed part, so every other byte must follow from it.
//
// Reader walks a kit as a stream and enforces the format's safety rules:
// only regular files, no unsafe or duplicate names, a decompressed-size
// budget against bombs. It does not decide trust; package verify does.
//
// Package bundle knows bytes and names, not advisories or images. It imports
// nothing of the project and never opens a network connection.
package bundle
