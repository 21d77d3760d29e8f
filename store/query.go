package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ferry-dev/ferry/osv"
	bolt "go.etcd.io/bbolt"
)

// ErrReaderClosed is returned by a Reader used after the View that made it
// returned.
var ErrReaderClosed = errors.New("store reader used after its View returned")

// Reader reads the typed indexes (advisories, enrich, vex, sources) of
// every channel's active kit inside one read transaction, so that a scan
// sees one state of the store however long it runs: the state before an
// import's commit or after it, never a mix.
//
// Lookups are index lookups (a bbolt cursor seek per channel), never scans
// of the data. Results come in a fixed order: by channel name, then in key
// order (id, source). Every slice and byte a Reader returns belongs to the
// caller and stays valid after the View.
//
// A Reader is valid only inside the function given to View and is not safe
// for concurrent use.
type Reader struct {
	tx   *bolt.Tx
	ctx  context.Context
	s    *Store
	done bool
	// blobs are the blobs this Reader mapped, by hex sha256; unmapped
	// when the View returns.
	blobs map[string][]byte
	// The channels' buckets of each typed index, sorted by channel.
	enrich, vex, sources []chanBucket
	// adv are the record indexes of the channels' advisories, by channel
	// and source.
	adv []advSource
	// roots are the kits read, by channel (Store.kitRoots).
	roots []kitRoot
}

// chanBucket is one channel's bucket of an index.
type chanBucket struct {
	channel string
	b       *bolt.Bucket
}

// View runs fn with a Reader over one read transaction of the store. It
// returns fn's error, ErrNoStore for a directory without a store, ErrBusy
// when a commit held the database longer than Options.LockTimeout, or a
// *SchemaError.
//
// While fn runs the database is open with a shared lock, and an import's
// commit waits for it (up to its own LockTimeout): keep fn to one scan or
// one query, never to a wait for something else.
func (s *Store) View(ctx context.Context, fn func(r *Reader) error) error {
	return s.view(ctx, func(tx *bolt.Tx) error {
		r, err := newReader(ctx, tx, s)
		if err != nil {
			return err
		}
		defer r.close()
		return fn(r)
	})
}

func newReader(ctx context.Context, tx *bolt.Tx, s *Store) (*Reader, error) {
	r := &Reader{tx: tx, ctx: ctx, s: s, blobs: map[string][]byte{}}
	var err error
	if r.roots, err = s.kitRoots(tx); err != nil {
		return nil, err
	}
	pick := func(name string) []chanBucket {
		var out []chanBucket
		for _, k := range r.roots {
			if b := k.indexBucket(name); b != nil {
				out = append(out, chanBucket{k.channel, b})
			}
		}
		return out
	}
	if r.adv, err = advSources(tx, pick(advisoriesIndex)); err != nil {
		return nil, err
	}
	r.enrich = pick(enrichIndex)
	r.vex = pick(vexIndex)
	r.sources = pick(sourcesIndex)
	return r, nil
}

// Channels lists the channels that have an active kit (or, in a view
// AtVersions, a pinned one), sorted.
func (r *Reader) Channels() ([]string, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	var out []string
	for _, k := range r.roots {
		out = append(out, k.channel)
	}
	return out, nil
}

func (r *Reader) close() {
	r.done = true
	for _, b := range r.blobs {
		unmapBlob(b)
	}
	r.blobs = nil
}

// blob maps a blob of the store for reading, once per Reader.
func (r *Reader) blob(hexDigest string) ([]byte, error) {
	if b, ok := r.blobs[hexDigest]; ok {
		return b, nil
	}
	if !isHexDigest(hexDigest) {
		return nil, fmt.Errorf("malformed blob digest %q in the index", hexDigest)
	}
	b, err := mapBlob(r.s.blobPath(hexDigest))
	if err != nil {
		return nil, err
	}
	r.blobs[hexDigest] = b
	return b, nil
}

func (r *Reader) check() error {
	if r.done {
		return ErrReaderClosed
	}
	return nil
}

// Keys of the typed indexes are a one-byte kind followed by fields
// separated by a NUL byte ("p" ecosystem NUL name NUL id). Fields never
// contain NUL: the indexers refuse such input.
const keySep = 0

// ikey joins a kind and fields into a key.
func ikey(kind byte, fields ...string) []byte {
	n := 1
	for _, f := range fields {
		n += len(f) + 1
	}
	k := make([]byte, 0, n)
	k = append(k, kind)
	for i, f := range fields {
		if i > 0 {
			k = append(k, keySep)
		}
		k = append(k, f...)
	}
	return k
}

// iprefix is the prefix of every key whose leading fields are fields.
func iprefix(kind byte, fields ...string) []byte {
	return append(ikey(kind, fields...), keySep)
}

// checkField refuses a key field that is empty or holds a NUL byte.
func checkField(what, s string) error {
	switch {
	case s == "":
		return fmt.Errorf("empty %s", what)
	case strings.IndexByte(s, keySep) >= 0:
		return fmt.Errorf("%s %q contains a NUL byte", what, s)
	}
	return nil
}

// scanPrefix calls fn with the rest of every key of b that starts with
// prefix (the part after it) and its value, in key order. Both are valid
// only during the call.
func scanPrefix(b *bolt.Bucket, prefix []byte, fn func(rest, v []byte) error) error {
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if err := fn(k[len(prefix):], v); err != nil {
			return err
		}
	}
	return nil
}

// hasPrefix reports whether b has a key starting with prefix.
func hasPrefix(b *bolt.Bucket, prefix []byte) bool {
	k, _ := b.Cursor().Seek(prefix)
	return k != nil && bytes.HasPrefix(k, prefix)
}

// QuerySchema names the JSON schema of QueryResult.
const QuerySchema = "ferry.dev/store-query/v1"

// Query is one question for Store.Query: exactly one field is set.
type Query struct {
	// Advisory is an advisory id or alias (GO-2022-0969, CVE-…, GHSA-…).
	Advisory string `json:"advisory,omitempty"`
	// Ecosystem and Package name a package ("Go",
	// "golang.org/x/net").
	Ecosystem string `json:"ecosystem,omitempty"`
	Package   string `json:"package,omitempty"`
	// Vuln is a vulnerability id or alias whose VEX statements are wanted.
	Vuln string `json:"vuln,omitempty"`
	// Product is a product identifier (purl, cpe, name) whose VEX
	// statements are wanted.
	Product string `json:"product,omitempty"`
}

// QueryResult answers a Query. Found is false when nothing matched: that
// is an answer, not an error.
type QueryResult struct {
	Schema string `json:"schema"`
	Query  Query  `json:"query"`
	Found  bool   `json:"found"`
	// Advisories are the records of an Advisory query.
	Advisories []Advisory `json:"advisories,omitempty"`
	// IDs are the advisory ids of a Package query; EcosystemHasData says
	// whether the ecosystem has any advisory data at all.
	IDs              []string `json:"ids,omitempty"`
	EcosystemHasData *bool    `json:"ecosystemHasData,omitempty"`
	// KEV and EPSS enrich an Advisory or Vuln query: the entries of the
	// first of its ids (the id, then the records' aliases) that has one.
	KEV  *KEVEntry  `json:"kev,omitempty"`
	EPSS *EPSSScore `json:"epss,omitempty"`
	// Statements are the VEX statements of a Vuln query (about the id or
	// any alias of the records it names) or a Product query.
	Statements []VEXStatement `json:"statements,omitempty"`
}

// Query answers q in one read transaction.
func (s *Store) Query(ctx context.Context, q Query) (*QueryResult, error) {
	n := 0
	for _, f := range []string{q.Advisory, q.Package, q.Vuln, q.Product} {
		if f != "" {
			n++
		}
	}
	if n != 1 {
		return nil, errors.New("query: give exactly one of an advisory, a package, a vulnerability or a product")
	}
	if q.Package != "" && q.Ecosystem == "" {
		return nil, errors.New("query: a package needs its ecosystem")
	}
	res := &QueryResult{Schema: QuerySchema, Query: q}
	err := s.View(ctx, func(r *Reader) error {
		var err error
		switch {
		case q.Advisory != "":
			if res.Advisories, err = r.Advisory(q.Advisory); err != nil {
				return err
			}
			res.Found = len(res.Advisories) > 0
			ids, err := aliasesOf(q.Advisory, res.Advisories)
			if err != nil {
				return err
			}
			return res.enrich(r, ids)
		case q.Package != "":
			has, err := r.HasAdvisoryData(q.Ecosystem)
			if err != nil {
				return err
			}
			res.EcosystemHasData = &has
			if res.IDs, err = r.AdvisoryIDs(q.Ecosystem, q.Package); err != nil {
				return err
			}
			res.Found = len(res.IDs) > 0
		case q.Vuln != "":
			advs, err := r.Advisory(q.Vuln)
			if err != nil {
				return err
			}
			ids, err := aliasesOf(q.Vuln, advs)
			if err != nil {
				return err
			}
			if res.Statements, err = r.VEXStatements(ids...); err != nil {
				return err
			}
			res.Found = len(res.Statements) > 0
			return res.enrich(r, ids)
		default:
			if res.Statements, err = r.VEXStatementsForProduct(q.Product); err != nil {
				return err
			}
			res.Found = len(res.Statements) > 0
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// aliasesOf is id, then the ids and aliases of the records, each once.
func aliasesOf(id string, advs []Advisory) ([]string, error) {
	ids := []string{id}
	for _, a := range advs {
		h, err := osv.ParseHead(a.Record)
		if err != nil {
			return nil, fmt.Errorf("advisory %s (channel %s, source %s): %w", a.ID, a.Channel, a.Source, err)
		}
		for _, x := range append([]string{a.ID}, h.Aliases...) {
			if !slices.Contains(ids, x) {
				ids = append(ids, x)
			}
		}
	}
	return ids, nil
}

func (res *QueryResult) enrich(r *Reader, ids []string) error {
	for _, id := range ids {
		if res.KEV == nil {
			e, ok, err := r.KEV(id)
			if err != nil {
				return err
			}
			if ok {
				res.KEV = e
			}
		}
		if res.EPSS == nil {
			e, ok, err := r.EPSS(id)
			if err != nil {
				return err
			}
			if ok {
				res.EPSS = e
			}
		}
	}
	return nil
}
