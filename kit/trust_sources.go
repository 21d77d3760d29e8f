package kit

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"github.com/ferry-dev/ferry/format"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/keys"
	"github.com/ferry-dev/ferry/mirror"
	"github.com/ferry-dev/ferry/verify"
	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/trustedmetadata"
	"go.yaml.in/yaml/v3"
)

func init() {
	sourceKinds["trust"] = parseTrustSources
	sourceKinds["issuers"] = parseTopIssuers
}

// Paths of trust material in a kit, and the schema of the issuers file.
const (
	TrustDir      = "trust"
	TrustKeysDir  = "trust/keys"
	IssuersPath   = "trust/issuers.json"
	IssuersSchema = "ferry.dev/issuers/v1"
)

// Size caps of trust files read at spec time.
const (
	maxKeyFile     = 64 << 10
	maxTUFRootFile = 512000
	maxIssuersFile = 4 << 20
)

func parseTrustSources(p *parser, key, v *yaml.Node) []Source {
	if v.Kind != yaml.SequenceNode {
		p.add(v, "trust", SpecInvalidYAML, "trust is a list of {name, tuf: …}, {name, keys: […]} or {issuers: FILE}")
		return nil
	}
	var out []Source
	keyDest := map[string]string{}
	for i, item := range v.Content {
		field := fmt.Sprintf("trust[%d]", i)
		m, ok := p.mapping(item, field, "name", "tuf", "keys", "issuers")
		if !ok {
			continue
		}
		var kinds []string
		for _, k := range []string{"tuf", "keys", "issuers"} {
			if m[k] != nil {
				kinds = append(kinds, k)
			}
		}
		if len(kinds) != 1 {
			p.add(item, field, SpecMissingSourceKind, "a trust entry needs exactly one of tuf, keys, issuers (got %v)", kinds)
			continue
		}
		switch kinds[0] {
		case "tuf":
			if s := p.parseTUF(m, item, field); s != nil {
				out = append(out, s)
			}
		case "keys":
			if s := p.parseKeys(m, item, field, keyDest); s != nil {
				out = append(out, s)
			}
		case "issuers":
			name := "issuers"
			if m["name"] != nil {
				name = p.sourceName(m, item, field)
			}
			if p.issuersGiven(out, m["issuers"], field) {
				continue
			}
			if s := p.parseIssuers(m["issuers"], field+".issuers", name); s != nil {
				out = append(out, s)
			}
		}
	}
	return out
}

// parseTopIssuers parses the top-level form `issuers: FILE`.
func parseTopIssuers(p *parser, key, v *yaml.Node) []Source {
	if p.issuersGiven(nil, v, "issuers") {
		return nil
	}
	if s := p.parseIssuers(v, "issuers", "issuers"); s != nil {
		return []Source{s}
	}
	return nil
}

// issuersGiven reports (and refuses) a second issuers file: a kit carries
// one trust/issuers.json.
func (p *parser) issuersGiven(more []Source, n *yaml.Node, field string) bool {
	for _, s := range slices.Concat(p.spec.Sources, more) {
		if _, ok := s.(*IssuersSource); ok {
			p.add(n, field, SpecDuplicatePath, "issuers is given twice; a kit carries one %s", IssuersPath)
			return true
		}
	}
	return false
}

// checkURL checks a URL written in the spec: https, or http with insecure.
func (p *parser) checkURL(n *yaml.Node, field string, insecure bool) (string, bool) {
	val, ok := p.scalar(n, field, SpecInvalidURL)
	if !ok {
		return "", false
	}
	u, err := url.Parse(val)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		p.add(n, field, SpecInvalidURL, "%q is not an http(s) URL", val)
		return "", false
	case u.Scheme == "http" && !insecure:
		p.add(n, field, SpecInsecureURL, "%q is plain HTTP: use https, or set insecure: true to accept it knowingly", val)
		return "", false
	}
	return val, true
}

// readSmall reads a local file named in the spec, at most max bytes.
func readSmall(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, unwrapPathErr(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	var b bytes.Buffer
	if n, err := b.ReadFrom(io.LimitReader(f, max+1)); err != nil {
		return nil, err
	} else if n > max {
		return nil, fmt.Errorf("larger than %d bytes", max)
	}
	return b.Bytes(), nil
}

// TUFSource carries a TUF repository's metadata chain and named targets
// (e.g. Sigstore's trusted_root.json) under trust/<name>/, fetched with
// go-tuf's updater from a pinned root.
type TUFSource struct {
	name                string
	MetadataURL         string
	TargetsURL          string
	Root, RootAsWritten string
	Targets             []string
	Insecure            bool
	line                int
	file                string
}

var _ Source = (*TUFSource)(nil)

// Kind implements Source.
func (s *TUFSource) Kind() string { return "trust" }

// Name implements Source.
func (s *TUFSource) Name() string { return s.name }

func (p *parser) parseTUF(m map[string]*yaml.Node, item *yaml.Node, field string) *TUFSource {
	s := &TUFSource{line: item.Line, file: p.file}
	s.name = p.sourceName(m, item, field)
	if s.name == "keys" {
		p.add(m["name"], field+".name", SpecInvalidName, "%q is reserved for %s/", s.name, TrustKeysDir)
	}
	field += ".tuf"
	t, ok := p.mapping(m["tuf"], field, "url", "root", "targets", "targetsUrl", "insecure")
	if !ok {
		return nil
	}
	good := true
	if n := t["insecure"]; n != nil {
		s.Insecure = p.boolean(n, field+".insecure")
	}
	if t["url"] == nil {
		p.add(m["tuf"], field+".url", SpecInvalidURL, "url (the repository's metadata URL) is required")
		good = false
	} else if u, ok := p.checkURL(t["url"], field+".url", s.Insecure); ok {
		s.MetadataURL = u
	} else {
		good = false
	}
	if n := t["targetsUrl"]; n != nil {
		if u, ok := p.checkURL(n, field+".targetsUrl", s.Insecure); ok {
			s.TargetsURL = u
		} else {
			good = false
		}
	}
	if t["root"] == nil {
		p.add(m["tuf"], field+".root", SpecMissingTUFRoot, "root (the pinned root.json of the repository, a local file) is required")
		good = false
	} else if val, ok := p.scalar(t["root"], field+".root", SpecMissingTUFRoot); ok {
		s.RootAsWritten, s.Root = val, p.path(val)
		if err := checkTUFRoot(s.Root); err != nil {
			code := SpecInvalidTUFRoot
			if errors.Is(err, fs.ErrNotExist) {
				code = SpecMissingTUFRoot
			}
			p.add(t["root"], field+".root", code, "%s: %v", val, err)
			good = false
		}
	} else {
		good = false
	}
	switch n := t["targets"]; {
	case n == nil || (n.Kind == yaml.SequenceNode && len(n.Content) == 0):
		p.add(m["tuf"], field+".targets", SpecMissingTUFTargets, "name at least one target to carry, e.g. targets: [trusted_root.json]")
		good = false
	case n.Kind != yaml.SequenceNode:
		p.add(n, field+".targets", SpecMissingTUFTargets, "targets is a list of target paths")
		good = false
	default:
		for i, tn := range n.Content {
			tf := fmt.Sprintf("%s.targets[%d]", field, i)
			val, ok := p.scalar(tn, tf, SpecInvalidTUFTarget)
			if !ok {
				good = false
				continue
			}
			if why := bundle.CheckPath(val); why != "" {
				p.add(tn, tf, SpecInvalidTUFTarget, "%q: %s", val, why)
				good = false
				continue
			}
			if slices.Contains(s.Targets, val) {
				p.add(tn, tf, SpecInvalidTUFTarget, "%q is named twice", val)
				good = false
				continue
			}
			s.Targets = append(s.Targets, val)
		}
	}
	if !good {
		return nil
	}
	return s
}

// checkTUFRoot checks that path is TUF root metadata signed by itself.
func checkTUFRoot(path string) error {
	data, err := readSmall(path, maxTUFRootFile)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w (the pinned root must be a local file)", fs.ErrNotExist)
		}
		return err
	}
	if keys.IsPrivatePEM(data) {
		return errors.New("this is a private key, not TUF root metadata")
	}
	var head struct {
		Signed struct {
			Type string `json:"_type"`
		} `json:"signed"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return fmt.Errorf("not TUF root metadata: %v", err)
	}
	if head.Signed.Type != metadata.ROOT {
		return fmt.Errorf("not TUF root metadata (_type is %q)", head.Signed.Type)
	}
	if _, err := trustedmetadata.New(data); err != nil {
		if strings.Contains(err.Error(), "PEM") {
			return fmt.Errorf("go-tuf cannot load it: %v (roots written before 2023, such as Sigstore's versions 1 to 4, give keys in hex; pin a newer root)", err)
		}
		return fmt.Errorf("does not verify as a root signed by its own keys: %v", err)
	}
	return nil
}

// Fetch implements Source: go-tuf's updater fetches and verifies the chain
// and the targets, expiry checked at the kit's creation time; the result
// is re-verified offline with the same function a site uses.
func (s *TUFSource) Fetch(ctx context.Context, env *Env) (*Fetched, error) {
	root, err := readSmall(s.Root, maxTUFRootFile)
	if err != nil {
		return nil, s.err(SpecMissingTUFRoot, "%s: %v", s.RootAsWritten, err)
	}
	res, err := mirror.FetchTUF(ctx, mirror.TUFOptions{
		MetadataURL: s.MetadataURL, TargetsURL: s.TargetsURL, Root: root, Targets: s.Targets,
		At: env.Created, Client: env.HTTPClient, Logger: env.Logger,
	})
	if err != nil {
		return nil, err
	}
	// The repository goes to the build's temp dir, is re-verified there
	// and packed from there.
	local, err := os.MkdirTemp(env.TempDir, "trust-"+s.name+"-")
	if err != nil {
		return nil, err
	}
	kitDir := TrustDir + "/" + s.name + "/"
	var files []bundle.File
	prov := Provenance{Name: s.name, Kind: "trust/tuf", From: s.MetadataURL, FetchedAt: env.Created.UTC().Format(time.RFC3339), Counts: map[string]int{}}
	add := func(rel string, data []byte, media string) error {
		lp := filepath.Join(local, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(lp), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(lp, data, 0o644); err != nil {
			return err
		}
		files = append(files, fileAt(kitDir+rel, lp, s.name, media))
		prov.Files++
		prov.Bytes += int64(len(data))
		return nil
	}
	var errs []error
	for i, b := range res.Roots {
		errs = append(errs, add(verify.TUFRootPath(res.RootVersions[i]), b, format.MediaTUFMeta))
	}
	errs = append(errs,
		add(verify.TUFMetadataDir+"/timestamp.json", res.Timestamp, format.MediaTUFMeta),
		add(verify.TUFMetadataDir+"/snapshot.json", res.Snapshot, format.MediaTUFMeta),
		add(verify.TUFMetadataDir+"/targets.json", res.Targets, format.MediaTUFMeta))
	for _, f := range res.Files {
		errs = append(errs, add(verify.TUFTargetsDir+"/"+f.Path, f.Data, ""))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	rep, err := verify.TUFRepo(ctx, os.DirFS(local), verify.TUFRepoOptions{At: env.Created, Root: root, Targets: s.Targets})
	if err != nil {
		return nil, err
	}
	if !rep.OK {
		return nil, fmt.Errorf("the fetched TUF material does not re-verify offline: %w", rep.Err())
	}
	sum := sha256.Sum256(res.Targets)
	prov.Digest = "sha256:" + hex.EncodeToString(sum[:])
	prov.Counts["roots"] = len(res.Roots)
	prov.Counts["rootVersion"] = int(res.RootVersions[len(res.RootVersions)-1])
	prov.Counts["targets"] = len(res.Files)
	prov.Counts["targetsVersion"] = int(rep.TargetsVersion)
	return &Fetched{Files: files, Provenance: prov}, nil
}

func (s *TUFSource) err(code SpecCode, format string, args ...any) error {
	return &SpecError{File: s.file, Line: s.line, Field: s.name, Code: code, Msg: fmt.Sprintf(format, args...)}
}

// bytesFile is a kit file held in memory.
func bytesFile(kitPath string, data []byte, source, media string) bundle.File {
	return bundle.File{Path: kitPath, Custom: targetCustom(media, source), Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }}
}

// KeysSource carries public keys (cosign keys, VEX issuer keys) as
// trust/keys/<basename>.pub, re-encoded as PKIX PEM.
type KeysSource struct {
	name string
	Keys []KeyFile
	line int
	file string
}

// KeyFile is one public key file of a KeysSource.
type KeyFile struct {
	Path, AsWritten string
	// Dest is the key's path in the kit.
	Dest string
}

var _ Source = (*KeysSource)(nil)

// Kind implements Source.
func (s *KeysSource) Kind() string { return "trust" }

// Name implements Source.
func (s *KeysSource) Name() string { return s.name }

func (p *parser) parseKeys(m map[string]*yaml.Node, item *yaml.Node, field string, dests map[string]string) *KeysSource {
	s := &KeysSource{line: item.Line, file: p.file}
	s.name = p.sourceName(m, item, field)
	n := m["keys"]
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		p.add(n, field+".keys", SpecMissingSrc, "keys is a non-empty list of public key files")
		return nil
	}
	good := true
	for i, kn := range n.Content {
		kf := fmt.Sprintf("%s.keys[%d]", field, i)
		val, ok := p.scalar(kn, kf, SpecMissingSrc)
		if !ok {
			good = false
			continue
		}
		k := KeyFile{AsWritten: val, Path: p.path(val)}
		base := strings.TrimSuffix(filepath.Base(val), filepath.Ext(val))
		k.Dest = TrustKeysDir + "/" + base + ".pub"
		if !nameRE().MatchString(base) {
			p.add(kn, kf, SpecInvalidName, "%s: the file name %q names the key in the kit: use letters, digits, '.', '_' or '-'", val, base)
			good = false
			continue
		}
		if _, err := publicKeyPEM(k.Path); err != nil {
			code := SpecInvalidKey
			switch {
			case errors.Is(err, keys.ErrPrivateKeyGiven):
				code = SpecPrivateKeyGiven
			case errors.Is(err, fs.ErrNotExist):
				code = SpecSourceNotFound
			}
			p.add(kn, kf, code, "%s: %v", val, err)
			good = false
			continue
		}
		if prev, dup := dests[k.Dest]; dup {
			p.add(kn, kf, SpecDuplicatePath, "%s and %s would both be carried as %s", prev, val, k.Dest)
			good = false
			continue
		}
		dests[k.Dest] = val
		s.Keys = append(s.Keys, k)
	}
	if !good {
		return nil
	}
	return s
}

// publicKeyPEM reads a public key file and returns it as canonical PKIX
// PEM. A file holding a private key of any kind is refused with
// keys.ErrPrivateKeyGiven before anything else is done with it; its
// content never appears in an error.
func publicKeyPEM(path string) ([]byte, error) {
	data, err := readSmall(path, maxKeyFile)
	if err != nil {
		return nil, err
	}
	if keys.IsPrivatePEM(data) || bytes.Contains(data, []byte("PRIVATE KEY")) || privateKeyIn(data) != nil {
		return nil, fmt.Errorf("%w: carry the .pub file, never the private key", keys.ErrPrivateKeyGiven)
	}
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block: want a PKIX public key (-----BEGIN PUBLIC KEY-----)")
	}
	if block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("PEM block %q is not a PKIX public key", block.Type)
	}
	if extra, _ := pem.Decode(rest); extra != nil {
		return nil, errors.New("more than one PEM block: give one public key per file")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("not a PKIX public key: %v", err)
	}
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
		default:
			return nil, fmt.Errorf("%w: ECDSA curve %s", keys.ErrUnsupportedAlgorithm, k.Curve.Params().Name)
		}
	case ed25519.PublicKey:
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return nil, fmt.Errorf("%w: RSA key of %d bits (at least 2048)", keys.ErrUnsupportedAlgorithm, k.N.BitLen())
		}
	default:
		return nil, fmt.Errorf("%w: %T", keys.ErrUnsupportedAlgorithm, pub)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: block.Bytes}), nil
}

// Fetch implements Source: each key is read and checked again and carried
// re-encoded (one PEM block, no headers).
func (s *KeysSource) Fetch(ctx context.Context, env *Env) (*Fetched, error) {
	prov := Provenance{Name: s.name, Kind: "trust/keys", From: s.Keys[0].AsWritten, Dest: TrustKeysDir + "/", Counts: map[string]int{}}
	if len(s.Keys) > 1 {
		prov.From = fmt.Sprintf("%s and %d more", s.Keys[0].AsWritten, len(s.Keys)-1)
	}
	var files []bundle.File
	for _, k := range s.Keys {
		data, err := publicKeyPEM(k.Path)
		if err != nil {
			code := SpecInvalidKey
			if errors.Is(err, keys.ErrPrivateKeyGiven) {
				code = SpecPrivateKeyGiven
			}
			return nil, &SpecError{File: s.file, Line: s.line, Field: s.name, Code: code, Msg: fmt.Sprintf("%s: %v", k.AsWritten, err)}
		}
		files = append(files, bytesFile(k.Dest, data, s.name, format.MediaPublicKey))
		prov.Files++
		prov.Bytes += int64(len(data))
	}
	prov.Counts["keys"] = len(files)
	return &Fetched{Files: files, Provenance: prov}, nil
}

// IssuersSource carries the VEX issuer trust tiers of a YAML file as
// canonical JSON at trust/issuers.json.
type IssuersSource struct {
	name            string
	File, AsWritten string
	line            int
	file            string
}

var _ Source = (*IssuersSource)(nil)

// Kind implements Source.
func (s *IssuersSource) Kind() string { return "trust" }

// Name implements Source.
func (s *IssuersSource) Name() string { return s.name }

func (p *parser) parseIssuers(n *yaml.Node, field, name string) *IssuersSource {
	val, ok := p.scalar(n, field, SpecMissingSrc)
	if !ok {
		return nil
	}
	s := &IssuersSource{name: name, AsWritten: val, File: p.path(val), line: n.Line, file: p.file}
	data, err := readSmall(s.File, maxIssuersFile)
	if err != nil {
		p.add(n, field, SpecSourceNotFound, "%s: %v", val, err)
		return nil
	}
	if _, _, errs := ParseIssuers(data); len(errs) > 0 {
		for _, e := range errs {
			p.add(n, field, SpecInvalidIssuers, "%s: %v", val, e)
		}
		return nil
	}
	return s
}

// Fetch implements Source.
func (s *IssuersSource) Fetch(ctx context.Context, env *Env) (*Fetched, error) {
	data, err := readSmall(s.File, maxIssuersFile)
	if err != nil {
		return nil, &SpecError{File: s.file, Line: s.line, Field: s.name, Code: SpecSourceNotFound, Msg: fmt.Sprintf("%s: %v", s.AsWritten, err)}
	}
	if found := privateKeyIn(data); found != nil {
		return nil, s.specErr(SpecPrivateKeyGiven, "%s", privateKeyMsg(s.AsWritten, found))
	}
	out, list, errs := ParseIssuers(data)
	if len(errs) > 0 {
		return nil, &SpecError{File: s.file, Line: s.line, Field: s.name, Code: SpecInvalidIssuers, Msg: fmt.Sprintf("%s: %v", s.AsWritten, errors.Join(errs...))}
	}
	sum := sha256.Sum256(data)
	prov := Provenance{Name: s.name, Kind: "trust/issuers", From: s.AsWritten, Dest: IssuersPath, Files: 1, Bytes: int64(len(out)),
		Digest: "sha256:" + hex.EncodeToString(sum[:]), Counts: map[string]int{"issuers": len(list.Issuers)}}
	for _, is := range list.Issuers {
		prov.Counts["tier."+is.Tier]++
	}
	return &Fetched{Files: []bundle.File{bytesFile(IssuersPath, out, s.name, format.MediaIssuers)}, Provenance: prov}, nil
}

// Issuer trust tiers, most trusted first. Rank 0 is the most trusted.
var issuerTiers = []string{"self", "vendor", "distro", "community"}

// IssuerList is trust/issuers.json. Its fields are declared in the order
// of their JSON names, so that encoding/json writes canonical JSON.
type IssuerList struct {
	Issuers []Issuer `json:"issuers"`
	Schema  string   `json:"schema"`
}

// Issuer is one VEX issuer and how far it is trusted.
type Issuer struct {
	// ID identifies the issuer as VEX documents do: the OpenVEX author or
	// CSAF publisher namespace, or the identity of a keyless signature.
	ID string `json:"id"`
	// Identities are keyless signing identities (Fulcio certificates)
	// that count as this issuer.
	Identities []IssuerIdentity `json:"identities,omitempty"`
	// Keys name public keys carried in trust/keys/ (without ".pub") whose
	// signatures count as this issuer.
	Keys []string `json:"keys,omitempty"`
	Name string   `json:"name,omitempty"`
	// Rank is the tier as a number: 0 (self) is the most trusted, 3
	// (community) the least.
	Rank int    `json:"rank"`
	Tier string `json:"tier"`
}

// IssuerIdentity is a keyless signing identity: the OIDC issuer and the
// certificate subject, exactly or as a regular expression.
type IssuerIdentity struct {
	Issuer        string `json:"issuer"`
	Subject       string `json:"subject,omitempty"`
	SubjectRegexp string `json:"subjectRegexp,omitempty"`
}

// ParseIssuers validates an issuers YAML file and returns its canonical
// JSON form (sorted by id; keys and identities sorted), the list, and
// every problem found.
func ParseIssuers(data []byte) ([]byte, *IssuerList, []error) {
	var doc struct {
		Issuers []struct {
			ID         string   `yaml:"id"`
			Name       string   `yaml:"name"`
			Tier       string   `yaml:"tier"`
			Keys       []string `yaml:"keys"`
			Identities []struct {
				Issuer        string `yaml:"issuer"`
				Subject       string `yaml:"subject"`
				SubjectRegexp string `yaml:"subjectRegexp"`
			} `yaml:"identities"`
		} `yaml:"issuers"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return nil, nil, []error{fmt.Errorf("want {issuers: [{id, name, tier, keys, identities}]}: %v", err)}
	}
	var errs []error
	bad := func(i int, format string, args ...any) {
		errs = append(errs, fmt.Errorf("issuers[%d]: %s", i, fmt.Sprintf(format, args...)))
	}
	if len(doc.Issuers) == 0 {
		return nil, nil, []error{errors.New("no issuers listed")}
	}
	list := &IssuerList{Schema: IssuersSchema, Issuers: []Issuer{}}
	seen := map[string]int{}
	for i, in := range doc.Issuers {
		is := Issuer{ID: in.ID, Name: in.Name, Tier: in.Tier, Keys: slices.Clone(in.Keys)}
		switch {
		case in.ID == "":
			bad(i, "id is required (the issuer as VEX documents name it, e.g. https://vendor.example/security)")
		case !plainText(in.ID):
			bad(i, "id %q holds control or line-separator characters", in.ID)
		}
		if j, dup := seen[in.ID]; dup && in.ID != "" {
			bad(i, "id %q is also issuers[%d]", in.ID, j)
		}
		seen[in.ID] = i
		if !plainText(in.Name) {
			bad(i, "name holds control or line-separator characters")
		}
		is.Rank = slices.Index(issuerTiers, in.Tier)
		if is.Rank < 0 {
			bad(i, "tier %q: use one of %s (most trusted first)", in.Tier, strings.Join(issuerTiers, ", "))
		}
		for _, k := range in.Keys {
			if !nameRE().MatchString(k) {
				bad(i, "key %q: name a key carried as %s/<name>.pub (letters, digits, '.', '_', '-')", k, TrustKeysDir)
			}
		}
		slices.Sort(is.Keys)
		if len(slices.Compact(slices.Clone(is.Keys))) != len(is.Keys) {
			bad(i, "a key is listed twice")
		}
		for j, id := range in.Identities {
			if id.Issuer == "" || !plainText(id.Issuer) {
				bad(i, "identities[%d]: issuer (the OIDC issuer URL) is required", j)
			} else if u, err := url.Parse(id.Issuer); err != nil || u.Scheme != "https" || u.Host == "" {
				bad(i, "identities[%d]: issuer %q is not an https URL", j, id.Issuer)
			}
			if (id.Subject == "") == (id.SubjectRegexp == "") {
				bad(i, "identities[%d]: give exactly one of subject, subjectRegexp", j)
			}
			if !plainText(id.Subject) || !plainText(id.SubjectRegexp) {
				bad(i, "identities[%d]: subject holds control or line-separator characters", j)
			}
			if id.SubjectRegexp != "" {
				if _, err := regexp.Compile(id.SubjectRegexp); err != nil {
					bad(i, "identities[%d]: subjectRegexp: %v", j, err)
				}
			}
			is.Identities = append(is.Identities, IssuerIdentity{Issuer: id.Issuer, Subject: id.Subject, SubjectRegexp: id.SubjectRegexp})
		}
		slices.SortFunc(is.Identities, func(a, b IssuerIdentity) int {
			return strings.Compare(a.Issuer+"\x00"+a.Subject+"\x00"+a.SubjectRegexp, b.Issuer+"\x00"+b.Subject+"\x00"+b.SubjectRegexp)
		})
		list.Issuers = append(list.Issuers, is)
	}
	if len(errs) > 0 {
		return nil, nil, errs
	}
	slices.SortFunc(list.Issuers, func(a, b Issuer) int { return strings.Compare(a.ID, b.ID) })
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(list); err != nil {
		return nil, nil, []error{err}
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), list, nil
}

// plainText reports whether s has no control characters and no U+2028 or
// U+2029: with those excluded (and valid UTF-8, which YAML guarantees),
// encoding/json without HTML escaping writes strings exactly as RFC 8785
// does.
func plainText(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || r == 0x2028 || r == 0x2029 })
}
