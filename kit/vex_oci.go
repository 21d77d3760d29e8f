package kit

import (
	"bytes"
	"context"
	"crypto"
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
	"strings"
	"time"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/images"
	"github.com/ferry-dev/ferry/internal/version"
	"github.com/ferry-dev/ferry/keys"
	"github.com/ferry-dev/ferry/mirror"
	"github.com/ferry-dev/ferry/verify"
	"github.com/ferry-dev/ferry/vex"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/sigstore/sigstore-go/pkg/root"
	"go.yaml.in/yaml/v3"
)

// Cosign verification modes of an oci VEX source.
const (
	CosignKeypair = "keypair"
	CosignKeyless = "keyless"
)

// DefaultSigstoreTUFURL is the Sigstore public-good TUF repository, from
// which an oci VEX source with tufRoot fetches trusted_root.json.
const DefaultSigstoreTUFURL = "https://tuf-repo-cdn.sigstore.dev"

// maxTrustedRoot caps a trusted_root.json read from the spec.
const maxTrustedRoot = 4 << 20

// OCIVEXSource is a vex: entry with oci: the OpenVEX attestations attached
// to subscribed images (cosign .att tags and OCI referrers), each verified
// with a cosign key pair or keyless (certificate identity and issuer
// against a Sigstore trusted root). It carries, under vex/<name>/:
//
//	<sha256>.json                  each OpenVEX predicate, byte-exact
//	attestations/<sha256>.json     each verified attestation (an
//	                               images.AttestationRecord: DSSE envelope,
//	                               certificate and Rekor bundle annotations)
//	trust/<key>.pub                the cosign public key (keypair), or
//	trust/trusted_root.json        the trusted root (keyless, trustedRoot:), or
//	trust/metadata/…, trust/targets/trusted_root.json
//	                               the TUF chain from the pinned root and the
//	                               trusted root (keyless, tufRoot:)
//
// An attestation that fails verification is left out and listed in the
// provenance's Skipped with the reason.
type OCIVEXSource struct {
	name   string
	Images []ImageEntry
	// Mode is CosignKeypair or CosignKeyless.
	Mode string
	// Key and KeyAsWritten are the public key file (keypair).
	Key, KeyAsWritten string
	// Issuer and Subject are the keyless signer's OIDC issuer and
	// certificate identity, matched exactly.
	Issuer, Subject string
	// TUFRoot is the pinned Sigstore TUF root and TUFURL the repository
	// (keyless); or TrustedRoot a trusted_root.json file used as it is.
	TUFRoot, TUFURL, TrustedRoot string
	asWritten                    string
	spec                         *Spec
	file                         string
	line                         int
}

var _ Source = (*OCIVEXSource)(nil)

// Kind implements Source.
func (s *OCIVEXSource) Kind() string { return "vex" }

// Name implements Source.
func (s *OCIVEXSource) Name() string { return s.name }

// parseOCIVEX reads {images, cosign, tufRoot | trustedRoot, tufUrl}. Every
// check is local: files are read, nothing is fetched.
func (p *parser) parseOCIVEX(name string, n, item *yaml.Node, field string) *OCIVEXSource {
	s := &OCIVEXSource{name: name, spec: p.spec, file: p.file, line: item.Line}
	m, ok := p.mapping(n, field, "images", "cosign", "tufRoot", "tufUrl", "trustedRoot")
	if !ok {
		return nil
	}
	good := true
	bad := func(n *yaml.Node, f string, code SpecCode, format string, args ...any) {
		p.add(n, f, code, format, args...)
		good = false
	}
	// images
	switch in := m["images"]; {
	case in == nil || (in.Kind == yaml.SequenceNode && len(in.Content) == 0):
		bad(n, field+".images", SpecMissingImageSubscriptions, "images is required: the image references whose OpenVEX attestations to carry, e.g. [registry.example.com/app/api:1.4]")
	case in.Kind != yaml.SequenceNode:
		bad(in, field+".images", SpecMissingImageSubscriptions, "images is a list of image references")
	default:
		seen := map[string]bool{}
		for i, rn := range in.Content {
			f := fmt.Sprintf("%s.images[%d]", field, i)
			written, ok := p.scalar(rn, f, SpecInvalidImageReference)
			if !ok {
				good = false
				continue
			}
			ref, err := mirror.ParseReference(written, false)
			if err != nil {
				bad(rn, f, SpecInvalidImageReference, "%v", err)
				continue
			}
			if seen[written] {
				bad(rn, f, SpecInvalidImageReference, "%s is listed twice", written)
				continue
			}
			seen[written] = true
			e := ImageEntry{Ref: written, line: rn.Line, host: ref.Context().RegistryStr()}
			if mirror.PlainHTTP(ref) {
				rn, f := rn, f
				p.later = append(p.later, func() {
					if !p.spec.Registries[e.host].Insecure {
						p.add(rn, f, SpecHTTPRegistryBlocked,
							"%s would be reached over plain HTTP: add `%s: {insecure: true}` under registries: if you trust that network", written, e.host)
					}
				})
			}
			s.Images = append(s.Images, e)
		}
	}
	// cosign
	cn := m["cosign"]
	if cn == nil {
		bad(n, field+".cosign", SpecInvalidCosignMode, "cosign is required: {mode: keypair, key: cosign.pub} or {mode: keyless, issuer: …, subject: …}")
		return nil
	}
	cf := field + ".cosign"
	c, ok := p.mapping(cn, cf, "mode", "key", "issuer", "subject")
	if !ok {
		return nil
	}
	switch mn := c["mode"]; {
	case mn == nil:
		bad(cn, cf+".mode", SpecInvalidCosignMode, "mode is required: %s or %s", CosignKeypair, CosignKeyless)
	case mn.Value == CosignKeypair || mn.Value == CosignKeyless:
		s.Mode = mn.Value
	default:
		bad(mn, cf+".mode", SpecInvalidCosignMode, "mode %q: use %s or %s", mn.Value, CosignKeypair, CosignKeyless)
	}
	switch s.Mode {
	case CosignKeypair:
		for _, k := range []string{"issuer", "subject"} {
			if c[k] != nil {
				bad(c[k], cf+"."+k, SpecUnknownField, "%s is for mode: keyless; a key pair is verified with key alone", k)
			}
		}
		for _, k := range []string{"tufRoot", "tufUrl", "trustedRoot"} {
			if m[k] != nil {
				bad(m[k], field+"."+k, SpecUnknownField, "%s is for mode: keyless; a key pair is verified with key alone", k)
			}
		}
		kn := c["key"]
		if kn == nil {
			bad(cn, cf+".key", SpecMissingCosignKey, "key (the cosign public key file, e.g. trust/cosign.pub) is required with mode: keypair")
			break
		}
		val, ok := p.scalar(kn, cf+".key", SpecMissingCosignKey)
		if !ok {
			good = false
			break
		}
		s.KeyAsWritten, s.Key = val, p.path(val)
		if _, err := publicKeyPEM(s.Key); err != nil {
			code := SpecInvalidKey
			switch {
			case errors.Is(err, keys.ErrPrivateKeyGiven):
				code = SpecPrivateKeyGiven
			case errors.Is(err, fs.ErrNotExist):
				code = SpecMissingCosignKey
			}
			bad(kn, cf+".key", code, "%s: %v", val, err)
		}
	case CosignKeyless:
		if c["key"] != nil {
			bad(c["key"], cf+".key", SpecUnknownField, "key is for mode: keypair; keyless is verified with issuer and subject against the trusted root")
		}
		if c["issuer"] == nil {
			bad(cn, cf+".issuer", SpecMissingCosignIssuer, "issuer (the OIDC issuer of the signing certificate, e.g. https://token.actions.githubusercontent.com) is required with mode: keyless")
		} else if v, ok := p.scalar(c["issuer"], cf+".issuer", SpecMissingCosignIssuer); ok {
			s.Issuer = v
		} else {
			good = false
		}
		if c["subject"] == nil {
			bad(cn, cf+".subject", SpecMissingCosignSubject, "subject (the certificate identity: an e-mail address or URI) is required with mode: keyless")
		} else if v, ok := p.scalar(c["subject"], cf+".subject", SpecMissingCosignSubject); ok {
			s.Subject = v
		} else {
			good = false
		}
		s.parseKeylessRoot(p, m, n, field, bad)
	}
	if !good {
		return nil
	}
	return s
}

func (s *OCIVEXSource) parseKeylessRoot(p *parser, m map[string]*yaml.Node, n *yaml.Node, field string, bad func(*yaml.Node, string, SpecCode, string, ...any)) {
	tr, tu, trf := m["tufRoot"], m["tufUrl"], m["trustedRoot"]
	switch {
	case tr == nil && trf == nil:
		bad(n, field+".tufRoot", SpecMissingTUFRoot, "tufRoot (the pinned Sigstore TUF root.json, a local file) is required with mode: keyless; or trustedRoot: a trusted_root.json file")
		return
	case tr != nil && trf != nil:
		bad(trf, field+".trustedRoot", SpecInvalidTUFRoot, "give tufRoot or trustedRoot, not both")
		return
	case trf != nil && tu != nil:
		bad(tu, field+".tufUrl", SpecUnknownField, "tufUrl goes with tufRoot, not trustedRoot")
		return
	}
	if trf != nil {
		val, ok := p.scalar(trf, field+".trustedRoot", SpecMissingTUFRoot)
		if !ok {
			return
		}
		s.asWritten, s.TrustedRoot = val, p.path(val)
		if _, err := readTrustedRoot(s.TrustedRoot); err != nil {
			code := SpecInvalidTrustedRoot
			if errors.Is(err, fs.ErrNotExist) {
				code = SpecMissingTUFRoot
			}
			bad(trf, field+".trustedRoot", code, "%s: %v", val, err)
		}
		return
	}
	val, ok := p.scalar(tr, field+".tufRoot", SpecMissingTUFRoot)
	if !ok {
		return // scalar reported it
	}
	s.asWritten, s.TUFRoot = val, p.path(val)
	if err := checkTUFRoot(s.TUFRoot); err != nil {
		code := SpecInvalidTUFRoot
		if errors.Is(err, fs.ErrNotExist) {
			code = SpecMissingTUFRoot
		}
		bad(tr, field+".tufRoot", code, "%s: %v", val, err)
	}
	s.TUFURL = DefaultSigstoreTUFURL
	if tu == nil {
		return
	}
	// Not checkURL: its advice for plain HTTP (insecure: true) is not a
	// field of an oci source, and it reports on its own, which made one
	// mistake two problems.
	u, ok := p.scalar(tu, field+".tufUrl", SpecInvalidURL)
	if !ok {
		return
	}
	switch pu, err := url.Parse(u); {
	case err != nil || pu.Host == "" || (pu.Scheme != "https" && pu.Scheme != "http"):
		bad(tu, field+".tufUrl", SpecInvalidURL, "%q is not an https URL", u)
	case pu.Scheme == "http":
		bad(tu, field+".tufUrl", SpecInsecureURL, "%q is plain HTTP: tufUrl must be an https URL", u)
	default:
		s.TUFURL = u
	}
}

// readTrustedRoot reads and parses a Sigstore trusted_root.json.
func readTrustedRoot(path string) ([]byte, error) {
	data, err := readSmall(path, maxTrustedRoot)
	if err != nil {
		return nil, err
	}
	if keys.IsPrivatePEM(data) {
		return nil, errors.New("this is a private key, not a Sigstore trusted_root.json")
	}
	if _, err := root.NewTrustedRootFromJSON(data); err != nil {
		return nil, fmt.Errorf("not a Sigstore trusted_root.json: %v", err)
	}
	return data, nil
}

// Fetch implements Source: it gets the trust material (the key, the
// trusted root file, or trusted_root.json through the pinned TUF root),
// finds and verifies every image's OpenVEX attestations, and carries those
// that verified, their predicates and the trust material.
func (s *OCIVEXSource) Fetch(ctx context.Context, env *Env) (*Fetched, error) {
	dir := "vex/" + s.name + "/"
	prov := Provenance{Name: s.name, Kind: "vex/oci", FetchedAt: env.Created.UTC().Format(time.RFC3339),
		Counts: map[string]int{"attestationsVerified": 0, "attestationsRejected": 0, "attestationsIgnored": 0, "documents": 0, "statements": 0}}
	var files []bundle.File
	add := func(f bundle.File, size int) {
		files = append(files, f)
		prov.Files++
		prov.Bytes += int64(size)
	}
	// Trust material.
	var vo images.VerifyOptions
	var keyPath, rootPath, signerKey string
	switch s.Mode {
	case CosignKeypair:
		pemBytes, err := publicKeyPEM(s.Key)
		if err != nil {
			return nil, s.err(SpecInvalidKey, "%s: %v", s.KeyAsWritten, err)
		}
		block, _ := pem.Decode(pemBytes)
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, s.err(SpecInvalidKey, "%s: %v", s.KeyAsWritten, err)
		}
		vo.Key = pub.(crypto.PublicKey)
		sum := sha256.Sum256(block.Bytes)
		signerKey = "key sha256:" + hex.EncodeToString(sum[:])
		base := strings.TrimSuffix(filepath.Base(s.KeyAsWritten), filepath.Ext(s.KeyAsWritten))
		if !nameRE().MatchString(base) {
			base = "cosign"
		}
		keyPath = dir + "trust/" + base + ".pub"
		add(bytesFile(keyPath, pemBytes, s.name, format.MediaPublicKey), len(pemBytes))
	case CosignKeyless:
		vo.Identity, vo.Issuer = s.Subject, s.Issuer
		if s.TrustedRoot != "" {
			data, err := readTrustedRoot(s.TrustedRoot)
			if err != nil {
				return nil, s.err(SpecInvalidTrustedRoot, "%s: %v", s.asWritten, err)
			}
			vo.TrustedRoot = data
			rootPath = dir + "trust/trusted_root.json"
			add(bytesFile(rootPath, data, s.name, format.MediaTrustedRoot), len(data))
		} else {
			data, tufFiles, err := s.fetchTrustedRoot(ctx, env, dir+"trust/")
			if err != nil {
				return nil, err
			}
			vo.TrustedRoot = data
			rootPath = dir + "trust/" + verify.TUFTargetsDir + "/trusted_root.json"
			for _, f := range tufFiles {
				add(f.file, f.size)
			}
		}
	default:
		return nil, s.err(SpecInvalidCosignMode, "mode %q", s.Mode)
	}
	// Attestations.
	opts := mirror.VEXAttestationsOptions{Verify: vo, Logger: env.Logger, UserAgent: "ferry/" + version.Version, At: env.Created,
		Registries: map[string]mirror.RegistryConfig{}}
	if env.HTTPClient != nil && env.HTTPClient.Transport != nil {
		opts.Transport = env.HTTPClient.Transport
	}
	for _, r := range s.spec.Registries {
		cfg := mirror.RegistryConfig{Insecure: r.Insecure}
		if r.Auth == AuthDockerConfig {
			cfg.Keychain = authn.DefaultKeychain
		}
		opts.Registries[r.Host] = cfg
	}
	hosts := map[string]bool{}
	for _, e := range s.Images {
		ref, err := mirror.ParseReference(e.Ref, s.spec.Registries[e.host].Insecure)
		if err != nil {
			return nil, s.err(SpecInvalidImageReference, "%v", err)
		}
		opts.Images = append(opts.Images, mirror.ImageRef{Ref: ref, Written: e.Ref})
		hosts[e.host] = true
	}
	prov.From = strings.Join(sortedKeys(hosts), ", ")
	res, err := mirror.FetchVEXAttestations(ctx, opts)
	if err != nil {
		if errors.Is(err, mirror.ErrPlainHTTP) {
			return nil, s.err(SpecHTTPRegistryBlocked, "%v", err)
		}
		return nil, err
	}
	prov.Images = res.Images
	prov.Counts["attestationsIgnored"] = res.Ignored
	for _, r := range res.Rejected {
		prov.Skipped = append(prov.Skipped, Skipped{Item: r.Item, ID: r.Image, Reason: r.Reason})
	}
	prov.Counts["attestationsRejected"] = len(res.Rejected)
	carried := map[string]bool{}
	for _, a := range res.Verified {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		item := fmt.Sprintf("%s@%s#%d", a.Record.Repository, a.Record.Manifest, a.Record.Layer)
		doc, err := vex.ParseOpenVEX(a.Predicate)
		if err != nil {
			prov.Skipped = append(prov.Skipped, Skipped{Item: item, ID: a.Record.Image, Reason: "the signature verified, but the predicate is not valid OpenVEX: " + err.Error()})
			prov.Counts["attestationsRejected"]++
			continue
		}
		docHex := strings.TrimPrefix(doc.Digest, "sha256:")
		rec := a.Record
		rec.Predicate, rec.PredicateDigest = dir+docHex+".json", doc.Digest
		rec.Verified.Key, rec.Verified.TrustedRoot = keyPath, rootPath
		recJSON, err := json.MarshalIndent(rec, "", "  ")
		if err != nil {
			return nil, err
		}
		recJSON = append(recJSON, '\n')
		recSum := sha256.Sum256(recJSON)
		recHex := hex.EncodeToString(recSum[:])
		if carried[recHex] {
			continue
		}
		carried[recHex] = true
		recPath := dir + "attestations/" + recHex + ".json"
		prov.Counts["attestationsVerified"]++
		add(bytesFile(recPath, recJSON, s.name, format.MediaAttestation), len(recJSON))
		if carried[docHex] {
			continue // the same predicate in another attestation
		}
		carried[docHex] = true
		signer := signerKey
		if s.Mode == CosignKeyless {
			signer = a.Result.Identity
		}
		custom, err := json.Marshal(struct {
			MediaType   string `json:"mediaType"`
			Source      string `json:"source"`
			Attestation string `json:"attestation"`
			Signer      string `json:"signer,omitempty"`
			Issuer      string `json:"signerIssuer,omitempty"`
		}{format.MediaOpenVEX, s.name, recPath, signer, a.Result.Issuer})
		if err != nil {
			return nil, err
		}
		data := a.Predicate
		add(bundle.File{Path: dir + docHex + ".json", Custom: custom, Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }}, len(data))
		prov.Counts["documents"]++
		prov.Counts["statements"] += len(doc.Statements)
	}
	return &Fetched{Files: files, Provenance: prov}, nil
}

type sizedFile struct {
	file bundle.File
	size int
}

// fetchTrustedRoot fetches trusted_root.json with go-tuf's updater from
// the pinned root, re-verifies the chain offline as a site will, and
// returns it with the files to carry under kitDir.
func (s *OCIVEXSource) fetchTrustedRoot(ctx context.Context, env *Env, kitDir string) ([]byte, []sizedFile, error) {
	pinned, err := readSmall(s.TUFRoot, maxTUFRootFile)
	if err != nil {
		return nil, nil, s.err(SpecMissingTUFRoot, "%s: %v", s.asWritten, err)
	}
	const target = "trusted_root.json"
	res, err := mirror.FetchTUF(ctx, mirror.TUFOptions{MetadataURL: s.TUFURL, Root: pinned, Targets: []string{target},
		At: env.Created, Client: env.HTTPClient, Logger: env.Logger})
	if err != nil {
		return nil, nil, err
	}
	local, err := os.MkdirTemp(env.TempDir, "vex-"+s.name+"-tuf-")
	if err != nil {
		return nil, nil, err
	}
	var out []sizedFile
	put := func(rel string, data []byte, media string) error {
		lp := filepath.Join(local, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(lp), 0o755); err != nil {
			return err
		}
		if err := writeNewFile(lp, data); err != nil {
			return err
		}
		out = append(out, sizedFile{fileAt(kitDir+rel, lp, s.name, media), len(data)})
		return nil
	}
	var errs []error
	for i, b := range res.Roots {
		errs = append(errs, put(verify.TUFRootPath(res.RootVersions[i]), b, format.MediaTUFMeta))
	}
	errs = append(errs,
		put(verify.TUFMetadataDir+"/timestamp.json", res.Timestamp, format.MediaTUFMeta),
		put(verify.TUFMetadataDir+"/snapshot.json", res.Snapshot, format.MediaTUFMeta),
		put(verify.TUFMetadataDir+"/targets.json", res.Targets, format.MediaTUFMeta),
		put(verify.TUFTargetsDir+"/"+target, res.Files[0].Data, format.MediaTrustedRoot))
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	rep, err := verify.TUFRepo(ctx, os.DirFS(local), verify.TUFRepoOptions{At: env.Created, Root: pinned, Targets: []string{target}})
	if err != nil {
		return nil, nil, err
	}
	if !rep.OK {
		return nil, nil, fmt.Errorf("the fetched Sigstore TUF material does not re-verify offline: %w", rep.Err())
	}
	if _, err := root.NewTrustedRootFromJSON(res.Files[0].Data); err != nil {
		return nil, nil, fmt.Errorf("%s from %s: %w", target, s.TUFURL, err)
	}
	return res.Files[0].Data, out, nil
}

func (s *OCIVEXSource) err(code SpecCode, format string, args ...any) error {
	return &SpecError{File: s.file, Line: s.line, Field: s.name, Code: code, Msg: fmt.Sprintf(format, args...)}
}
