package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/ferry-dev/ferry/format"
	"github.com/ferry-dev/ferry/internal/purl"
	"github.com/ferry-dev/ferry/verify"
	"github.com/ferry-dev/ferry/vex"
)

// VEXIndexer indexes the VEX documents of vex/<source>/<sha256>.json
// (content type "vex"), parsed with package vex: OpenVEX or CSAF by the
// media type of the target, else by what the document is. Files in deeper
// folders (attestations, trust material) are left alone: the OpenVEX
// predicate of a verified attestation is carried beside them as a document
// of its own, whose target names the attestation and its verified signer
// (custom "attestation", "signer", "signerIssuer"), which the document
// and its statements record. Entries of a channel's "vex"
// index, statements stored once and found by reference:
//
//	"d" sha256                       -> VEXDocument (JSON)
//	"s" sha256 NUL n                 -> VEXStatement (JSON), n a 4-byte
//	                                    big-endian statement number
//	"v" vulnerability NUL sha256 NUL n -> "" (its id and every alias)
//	"p" product NUL sha256 NUL n     -> "" (see VEXStatementsForProduct)
//
// The signer a document and its statements record is the one its
// attestation verified as at the site: verify.Kit re-verifies every
// carried attestation and checks each document's claimed signer against
// it before the store indexes anything.
type VEXIndexer struct {
	// Attestations is the verifier the store hands to verify.Kit (and to
	// verify.CheckCarried when indexes are rebuilt) for carried
	// attestation records. When nil, a kit that carries attestations
	// fails to import (ErrNoAttestationVerifier).
	Attestations AttestationVerifier
}

var _ Indexer = VEXIndexer{}

// Name implements Indexer.
func (VEXIndexer) Name() string { return vexIndex }

// Accepts implements Indexer.
func (VEXIndexer) Accepts(t string) bool { return t == "vex" }

// VEXDocument describes one VEX document of a channel's active kit. Its
// bytes are the store's blob of the same digest (Store.BlobPath).
type VEXDocument struct {
	// Digest is "sha256:<hex>" of the document as carried.
	Digest          string     `json:"digest"`
	Path            string     `json:"path"`
	Format          vex.Format `json:"format"`
	ID              string     `json:"id"`
	Version         string     `json:"version,omitempty"`
	Issuer          string     `json:"issuer"`
	IssuerNamespace string     `json:"issuerNamespace,omitempty"`
	Timestamp       time.Time  `json:"timestamp,omitzero"`
	CanonicalDigest string     `json:"canonicalDigest"`
	Statements      int        `json:"statements"`
	Channel         string     `json:"channel,omitempty"`
	Source          string     `json:"source"`
	// Attestation is the kit path of the signed attestation the document
	// is the predicate of; Signer and SignerIssuer are the identity it was
	// verified against at mirror time (a certificate identity and OIDC
	// issuer, or "key sha256:<hex>"). Empty for plain documents.
	Attestation  string `json:"attestation,omitempty"`
	Signer       string `json:"signer,omitempty"`
	SignerIssuer string `json:"signerIssuer,omitempty"`
}

// VEXStatement is a normalised statement (vex.Statement: vulnerability,
// aliases, products, status, issuer, source document digest) and where it
// came from.
type VEXStatement struct {
	vex.Statement
	Channel string `json:"channel,omitempty"`
	Source  string `json:"source"`
	// Signer is the verified signer of the attestation the statement came
	// in (VEXDocument.Signer); empty for plain documents.
	Signer string `json:"signer,omitempty"`
}

// Index implements Indexer.
func (VEXIndexer) Index(_ context.Context, f verify.Target, r io.Reader, w *IndexWriter) error {
	source, name, ok := feedFile(f.Path, "vex")
	if !ok || !strings.HasSuffix(name, ".json") {
		return nil
	}
	if err := checkField("source name", source); err != nil {
		return err
	}
	data, err := io.ReadAll(io.LimitReader(r, vex.MaxDocumentSize+1))
	if err != nil {
		return err
	}
	if len(data) > vex.MaxDocumentSize {
		return fmt.Errorf("%w: larger than %d bytes", vex.ErrTooLarge, vex.MaxDocumentSize)
	}
	custom, err := parseCustom(f.Custom)
	if err != nil {
		return err
	}
	var doc *vex.Document
	switch custom.MediaType {
	case format.MediaOpenVEX:
		doc, err = vex.ParseOpenVEX(data)
	case format.MediaCSAF:
		doc, err = vex.ParseCSAF(data)
	default:
		doc, err = vex.ParseOpenVEX(data)
		if errors.Is(err, vex.ErrNotOpenVEX) {
			doc, err = vex.ParseCSAF(data)
		}
	}
	if err != nil {
		return err
	}
	hexDigest := strings.TrimPrefix(doc.Digest, "sha256:")
	if hexDigest != f.SHA256 {
		return fmt.Errorf("parsed digest %s is not the target's sha256 %s", doc.Digest, f.SHA256)
	}
	att := custom
	rec, err := json.Marshal(VEXDocument{
		Digest: doc.Digest, Path: f.Path, Format: doc.Format, ID: doc.ID, Version: doc.Version,
		Issuer: doc.Issuer, IssuerNamespace: doc.IssuerNamespace, Timestamp: doc.Timestamp,
		CanonicalDigest: doc.CanonicalDigest, Statements: len(doc.Statements), Source: source,
		Attestation: att.Attestation, Signer: att.Signer, SignerIssuer: att.SignerIssuer,
	})
	if err != nil {
		return err
	}
	if err := w.Put(ikey('d', hexDigest), rec); err != nil {
		return err
	}
	for i, st := range doc.Statements {
		ref := stmtRef(hexDigest, i)
		v, err := json.Marshal(VEXStatement{Statement: st, Source: source, Signer: att.Signer})
		if err != nil {
			return err
		}
		if err := w.Put(append([]byte{'s'}, ref...), v); err != nil {
			return err
		}
		for _, id := range append([]string{st.Vulnerability}, st.Aliases...) {
			if id == "" {
				continue
			}
			if err := checkField("vulnerability", id); err != nil {
				return fmt.Errorf("statements[%d]: %w", i, err)
			}
			if err := w.Put(append(iprefix('v', id), ref...), nil); err != nil {
				return fmt.Errorf("statements[%d]: %w", i, err)
			}
		}
		for _, p := range productKeys(st.Products) {
			if strings.IndexByte(p, keySep) >= 0 {
				continue // not a usable lookup key; the statement keeps the product
			}
			if err := w.Put(append(iprefix('p', p), ref...), nil); err != nil {
				return fmt.Errorf("statements[%d]: product %.80q: %w", i, p, err)
			}
		}
	}
	return nil
}

// stmtRef is hex NUL n: the reference of statement n of a document.
func stmtRef(hexDigest string, n int) []byte {
	ref := make([]byte, 0, len(hexDigest)+5)
	ref = append(ref, hexDigest...)
	ref = append(ref, keySep)
	return binary.BigEndian.AppendUint32(ref, uint32(n))
}

// productKeys are the identifiers a statement is found by: for each
// product its ID, purl, cpe and name, the purl without version, qualifiers
// and subpath, and the same of the component of a CSAF relationship.
// Subcomponents are not keys: a statement about an image is found by the
// image, not by every package inside it.
func productKeys(ps []vex.Product) []string {
	var out []string
	var add func(p vex.Product)
	add = func(p vex.Product) {
		for _, s := range []string{p.ID, p.PURL, p.CPE, p.Name, canonPURL(p.PURL), canonPURL(p.ID), purl.Base(p.PURL), purl.Base(p.ID)} {
			if s != "" {
				out = append(out, s)
			}
		}
		if p.Relationship != nil {
			add(p.Relationship.Component)
		}
	}
	for _, p := range ps {
		add(p)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// canonPURL is the canonical spelling of a purl (internal/purl), or ""
// when s is not a purl: statements are found by either spelling.
func canonPURL(s string) string {
	if !strings.HasPrefix(s, "pkg:") {
		return ""
	}
	c, _ := purl.Normalize(s)
	return c
}

// VEXStatements returns the statements about any of ids (a vulnerability
// id or alias, compared exactly), each once, by channel and then source
// document and statement order.
func (r *Reader) VEXStatements(ids ...string) ([]VEXStatement, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	return r.statements('v', ids)
}

// VEXStatementsForProduct returns the statements about a product, found by
// its exact ID, purl, cpe or name. A purl without a version also finds the
// statements about every version of the package; the component of a CSAF
// relationship ("X default_component_of Y") finds the relationship's
// statements. A purl is looked up as given and in its canonical spelling
// (pkg:golang/golang.org/x/text, not golang.org%2Fx%2Ftext). Each comes once, by channel and then source document and
// statement order.
func (r *Reader) VEXStatementsForProduct(product string) ([]VEXStatement, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	keys := []string{product}
	if c := canonPURL(product); c != "" && c != product {
		keys = append(keys, c)
	}
	return r.statements('p', keys)
}

func (r *Reader) statements(kind byte, keys []string) ([]VEXStatement, error) {
	out := []VEXStatement{}
	for _, cb := range r.vex {
		var refs [][]byte
		for _, k := range keys {
			if checkField("key", k) != nil {
				continue
			}
			err := scanPrefix(cb.b, iprefix(kind, k), func(ref, _ []byte) error {
				refs = append(refs, bytes.Clone(ref))
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
		slices.SortFunc(refs, bytes.Compare)
		refs = slices.CompactFunc(refs, bytes.Equal)
		for _, ref := range refs {
			st, err := getStatement(cb, ref)
			if err != nil {
				return nil, err
			}
			out = append(out, st)
		}
	}
	return out, nil
}

func getStatement(cb chanBucket, ref []byte) (VEXStatement, error) {
	var st VEXStatement
	v := cb.b.Get(append([]byte{'s'}, ref...))
	if v == nil {
		return st, fmt.Errorf("channel %s: vex index: dangling statement reference %q", cb.channel, ref)
	}
	if err := json.Unmarshal(v, &st); err != nil {
		return st, fmt.Errorf("channel %s: vex index: statement %q: %w", cb.channel, ref, err)
	}
	st.Channel = cb.channel
	return st, nil
}

// VEXDocuments lists the VEX documents of every channel, by channel and
// digest.
func (r *Reader) VEXDocuments() ([]VEXDocument, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	out := []VEXDocument{}
	for _, cb := range r.vex {
		err := scanPrefix(cb.b, []byte{'d'}, func(_, v []byte) error {
			d, err := decodeDoc(cb, v)
			out = append(out, d)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// VEXDocument returns the document with the digest ("sha256:<hex>" or
// hex) from the first channel that has it, and whether one has.
func (r *Reader) VEXDocument(digest string) (*VEXDocument, bool, error) {
	if err := r.check(); err != nil {
		return nil, false, err
	}
	hexDigest := strings.TrimPrefix(digest, "sha256:")
	if !isHexDigest(hexDigest) {
		return nil, false, nil
	}
	for _, cb := range r.vex {
		if v := cb.b.Get(ikey('d', hexDigest)); v != nil {
			d, err := decodeDoc(cb, v)
			if err != nil {
				return nil, false, err
			}
			return &d, true, nil
		}
	}
	return nil, false, nil
}

func decodeDoc(cb chanBucket, v []byte) (VEXDocument, error) {
	var d VEXDocument
	if err := json.Unmarshal(v, &d); err != nil {
		return d, fmt.Errorf("channel %s: vex index: document: %w", cb.channel, err)
	}
	d.Channel = cb.channel
	return d, nil
}
