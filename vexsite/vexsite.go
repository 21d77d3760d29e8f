package vexsite

import (
	"bytes"

	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"

	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ferry-dev/ferry/osv"
	"github.com/ferry-dev/ferry/store"
	"github.com/ferry-dev/ferry/vex"
	"github.com/ferry-dev/ferry/vex/consensus"
	"go.yaml.in/yaml/v3"
)

// Store is what vexsite reads of the store's VEX index; *store.Reader
// implements it.
type Store interface {
	// VEXStatements returns the statements about any of ids.
	VEXStatements(ids ...string) ([]store.VEXStatement, error)
	// ForEachVEXStatement calls fn with every statement.
	ForEachVEXStatement(fn func(store.VEXStatement) error) error
	// VEXDocuments lists the documents (their versions and signers).
	VEXDocuments() ([]store.VEXDocument, error)
}

// Trust is what vexsite reads of the store's trust material; *store.Reader
// implements it.
type Trust interface {
	// TrustFiles returns trust/issuers.json and trust/keys/*.pub of every
	// channel.
	TrustFiles() ([]store.TrustFile, error)
}

// Advisories gives the alias groups; *store.Reader implements it.
type Advisories interface {
	// Advisory returns the records with the id or alias.
	Advisory(idOrAlias string) ([]store.Advisory, error)
}

var (
	_ Store      = (*store.Reader)(nil)
	_ Trust      = (*store.Reader)(nil)
	_ Advisories = (*store.Reader)(nil)
)

// Options say what to gather.
type Options struct {
	// LocalDir is a directory of the site's own OpenVEX files (--vex):
	// issuer "local", tier self. "" for none.
	LocalDir string
	// IssuersFile overrides entries of the kits' issuer lists (--issuers):
	// the trust/issuers.json form or the kit.yaml issuers YAML form.
	IssuersFile string
	// At is the evaluation time (--at, or the time the command started).
	At time.Time
	// IDs, when set, limit the store statements read to those about these
	// vulnerability ids and their aliases (a scan's findings).
	IDs []string
	// Analysis are tool-derived statements (tier analysis), e.g. Go
	// symbol evidence.
	Analysis []consensus.Input
}

// Site is everything the consensus is computed from.
type Site struct {
	Inputs  []consensus.Input
	Issuers *consensus.Issuers
	Aliases [][]string
	At      time.Time
	engine  *consensus.Engine
}

// Load gathers the inputs. Errors name the file or entry at fault; a
// statement the consensus cannot use is not an error (it is dropped with
// a reason by the consensus).
func Load(ctx context.Context, st Store, tr Trust, adv Advisories, opts Options) (*Site, error) {
	site := &Site{At: opts.At}
	issuers, keys, err := kitIssuers(tr)
	if err != nil {
		return nil, err
	}
	if opts.IssuersFile != "" {
		over, err := readIssuersFile(opts.IssuersFile, keys)
		if err != nil {
			return nil, err
		}
		issuers = issuers.Override(over)
	}
	site.Issuers = issuers

	docs, err := st.VEXDocuments()
	if err != nil {
		return nil, err
	}
	type docInfo struct{ version, signerIssuer string }
	byDigest := map[string]docInfo{}
	for _, d := range docs {
		byDigest[d.Digest] = docInfo{d.Version, d.SignerIssuer}
	}
	add := func(s store.VEXStatement) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		d := byDigest[s.DocumentDigest]
		site.Inputs = append(site.Inputs, consensus.Input{
			Statement: s.Statement, Origin: consensus.OriginStore, Signer: s.Signer, SignerIssuer: d.signerIssuer,
			DocumentVersion: d.version, Source: s.Channel + "/" + s.Source,
		})
		return nil
	}
	// Each id's aliases are looked up once: the ids asked for come back
	// as statement vulnerabilities below.
	known := map[string][]string{}
	aliases := func(id string) ([]string, error) {
		if a, ok := known[id]; ok {
			return a, nil
		}
		a, err := aliasesOf(adv, id)
		if err == nil {
			known[id] = a
		}
		return a, err
	}
	ids := slices.Clone(opts.IDs)
	if len(opts.IDs) > 0 {
		for _, id := range opts.IDs {
			more, err := aliases(id)
			if err != nil {
				return nil, err
			}
			ids = append(ids, more...)
		}
		slices.Sort(ids)
		ids = slices.Compact(ids)
		ss, err := st.VEXStatements(ids...)
		if err != nil {
			return nil, err
		}
		for _, s := range ss {
			if err := add(s); err != nil {
				return nil, err
			}
		}
	} else if err := st.ForEachVEXStatement(add); err != nil {
		return nil, err
	}
	if opts.LocalDir != "" {
		local, err := ReadLocal(opts.LocalDir)
		if err != nil {
			return nil, err
		}
		site.Inputs = append(site.Inputs, local...)
	}
	site.Inputs = append(site.Inputs, opts.Analysis...)

	// Alias groups: each statement's vulnerability and the ids asked for,
	// with the aliases the store's advisories give them.
	seen := map[string]bool{}
	for _, id := range ids {
		seen[id] = true
	}
	for _, in := range site.Inputs {
		seen[in.Statement.Vulnerability] = true
	}
	for _, id := range sortedKeys(seen) {
		group, err := aliases(id)
		if err != nil {
			return nil, err
		}
		if len(group) > 0 {
			site.Aliases = append(site.Aliases, append([]string{id}, group...))
		}
	}
	return site, nil
}

// aliasesOf returns the ids and aliases of the records with the id or
// alias id ("" records: none).
func aliasesOf(adv Advisories, id string) ([]string, error) {
	if adv == nil || id == "" {
		return nil, nil
	}
	recs, err := adv.Advisory(id)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, a := range recs {
		head, err := osv.ParseHead(a.Record)
		if err != nil {
			continue
		}
		out = append(out, head.ID)
		out = append(out, head.Aliases...)
	}
	return out, nil
}

// Engine returns the consensus engine over the site's inputs, built once.
func (s *Site) Engine() *consensus.Engine {
	if s.engine == nil {
		s.engine = consensus.New(s.Inputs, s.Issuers, consensus.Options{At: s.At, Aliases: s.Aliases})
	}
	return s.engine
}

// Filter selects results.
type Filter struct {
	// Vuln is a vulnerability id or alias; "" for all.
	Vuln string
	// Product is a purl, digest or id; a purl without a version selects
	// every version. "" for all.
	Product string
	// Within is the product Product is part of (an image digest).
	Within string
}

// Report returns the consensus for the filter: with both Vuln and
// Product, exactly that pair (unknown when nothing is said about it);
// else every pair the statements name that the filter selects.
func (s *Site) Report(f Filter) *consensus.Report {
	e := s.Engine()
	if f.Vuln != "" && f.Product != "" {
		r := e.Evaluate(consensus.Query{IDs: []string{f.Vuln}, Product: f.Product, Within: f.Within})
		return consensus.NewReport([]consensus.Result{r}, s.At)
	}
	all := e.Report()
	var keep []consensus.Result
	for _, r := range all.Results {
		if f.Vuln != "" && r.Vulnerability != f.Vuln && !slices.Contains(r.Aliases, f.Vuln) {
			continue
		}
		if f.Product != "" && !consensus.Selects(f.Product, r.Product) && !consensus.Selects(f.Product, r.Within) {
			continue
		}
		keep = append(keep, r)
	}
	return consensus.NewReport(keep, s.At)
}

// ReadLocal reads the site's own OpenVEX files: every *.json under dir,
// in lexical order. Their statements are issuer "local", tier self. A
// file that is not an OpenVEX document is an error naming it; a statement
// with an unknown status or justification is kept for the consensus to
// drop with a reason.
func ReadLocal(dir string) ([]consensus.Input, error) {
	var out []consensus.Input
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(d.Name(), ".json") {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("--vex %s: %s is not a regular file", dir, p)
		}
		data, err := readCapped(p, vex.MaxDocumentSize)
		if err != nil {
			return fmt.Errorf("--vex: %w", err)
		}
		doc, err := vex.ParseOpenVEXStatementsUnchecked(data)
		if err != nil {
			return fmt.Errorf("--vex: %s: %w", p, err)
		}
		rel, _ := filepath.Rel(dir, p)
		for _, s := range doc.Statements {
			out = append(out, consensus.Input{Statement: s, Origin: consensus.OriginLocal, DocumentVersion: doc.Version, Source: filepath.ToSlash(rel)})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func readCapped(p string, max int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() > max {
		return nil, fmt.Errorf("%s: larger than %d bytes", p, max)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(f); err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	return buf.Bytes(), nil
}

// issuerFile is trust/issuers.json (kit.IssuerList) and the YAML form of
// kit.yaml's issuers file: the same field names.
type issuerFile struct {
	Schema  string `json:"schema" yaml:"schema"`
	Issuers []struct {
		ID         string   `json:"id" yaml:"id"`
		Name       string   `json:"name" yaml:"name"`
		Tier       string   `json:"tier" yaml:"tier"`
		Rank       int      `json:"rank" yaml:"rank"`
		Keys       []string `json:"keys" yaml:"keys"`
		Identities []struct {
			Issuer        string `json:"issuer" yaml:"issuer"`
			Subject       string `json:"subject" yaml:"subject"`
			SubjectRegexp string `json:"subjectRegexp" yaml:"subjectRegexp"`
		} `json:"identities" yaml:"identities"`
	} `json:"issuers" yaml:"issuers"`
}

// toIssuers converts a file's entries, resolving key names to the signer
// string the store records for a key ("key sha256:<hex of the DER>").
func (f *issuerFile) toIssuers(keys map[string]string) []consensus.Issuer {
	var out []consensus.Issuer
	for _, in := range f.Issuers {
		is := consensus.Issuer{ID: in.ID, Name: in.Name, Tier: consensus.Tier(in.Tier)}
		for _, k := range in.Keys {
			switch {
			case keys[k] != "":
				is.Keys = append(is.Keys, keys[k])
			case strings.HasPrefix(k, "sha256:"):
				is.Keys = append(is.Keys, "key "+k)
			default:
				is.Keys = append(is.Keys, "unresolved key "+k)
			}
		}
		for _, id := range in.Identities {
			is.Identities = append(is.Identities, consensus.Identity{Issuer: id.Issuer, Subject: id.Subject, SubjectRegexp: id.SubjectRegexp})
		}
		out = append(out, is)
	}
	return out
}

// kitIssuers merges the issuer lists of every channel: an id two channels
// list with different tiers gets the less trusted one.
func kitIssuers(tr Trust) (*consensus.Issuers, map[string]string, error) {
	keys := map[string]string{}
	if tr == nil {
		is, err := consensus.NewIssuers(nil)
		return is, keys, err
	}
	files, err := tr.TrustFiles()
	if err != nil {
		return nil, nil, err
	}
	for _, f := range files {
		if !strings.HasPrefix(f.Path, "trust/keys/") {
			continue
		}
		name := strings.TrimSuffix(path.Base(f.Path), ".pub")
		block, _ := pem.Decode(f.Data)
		if block == nil {
			return nil, nil, fmt.Errorf("channel %s: %s: not PEM", f.Channel, f.Path)
		}
		if _, err := x509.ParsePKIXPublicKey(block.Bytes); err != nil {
			return nil, nil, fmt.Errorf("channel %s: %s: %w", f.Channel, f.Path, err)
		}
		sum := sha256.Sum256(block.Bytes)
		keys[name] = "key sha256:" + hex.EncodeToString(sum[:])
	}
	merged := map[string]consensus.Issuer{}
	for _, f := range files {
		if f.Path != "trust/issuers.json" {
			continue
		}
		var list issuerFile
		if err := json.Unmarshal(f.Data, &list); err != nil {
			return nil, nil, fmt.Errorf("channel %s: %s: %w", f.Channel, f.Path, err)
		}
		for _, is := range list.toIssuers(keys) {
			if prev, ok := merged[is.ID]; ok && prev.Tier.Rank() > is.Tier.Rank() {
				continue
			}
			merged[is.ID] = is
		}
	}
	var list []consensus.Issuer
	for _, id := range sortedKeys(merged) {
		list = append(list, merged[id])
	}
	is, err := consensus.NewIssuers(list)
	if err != nil {
		return nil, nil, fmt.Errorf("the kits' trust/issuers.json: %w", err)
	}
	return is, keys, nil
}

func readIssuersFile(p string, keys map[string]string) (*consensus.Issuers, error) {
	data, err := readCapped(p, 4<<20)
	if err != nil {
		return nil, fmt.Errorf("--issuers: %w", err)
	}
	var f issuerFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("--issuers %s: want {issuers: [{id, name, tier, keys, identities}]}: %v", p, err)
	}
	if len(f.Issuers) == 0 {
		return nil, fmt.Errorf("--issuers %s: no issuers listed", p)
	}
	is, err := consensus.NewIssuers(f.toIssuers(keys))
	if err != nil {
		return nil, fmt.Errorf("--issuers %s: %w", p, err)
	}
	return is, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
