package kit

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// InspectSchema names the JSON schema of Inspection.
const InspectSchema = "ferry.dev/inspect/v1"

// NotVerified is the warning every inspection carries.
const NotVerified = "NOT VERIFIED: inspect reads what the kit claims about itself and checks no signature or digest; run 'ferry verify' before trusting any of it"

// InspectedFile is one content file as targets.json lists it.
type InspectedFile struct {
	Path   string          `json:"path"`
	Type   string          `json:"type"`
	Length int64           `json:"length"`
	SHA256 string          `json:"sha256"`
	Custom json.RawMessage `json:"custom,omitempty"`
}

// Inspection is what a kit says about itself, unverified.
type Inspection struct {
	Schema       string                 `json:"schema"`
	Verified     bool                   `json:"verified"`
	Warning      string                 `json:"warning"`
	Info         bundle.Info            `json:"kit"`
	RootVersions []int64                `json:"rootVersions"`
	SignerKeyIDs []string               `json:"signerKeyIds"`
	Counts       map[string]TypeSummary `json:"counts"`
	Manifest     *Manifest              `json:"manifest,omitempty"`
	Files        []InspectedFile        `json:"files"`
}

// TypeSummary counts files and bytes of one content type.
type TypeSummary struct {
	Files int   `json:"files"`
	Bytes int64 `json:"bytes"`
}

// Inspect reads a kit's metadata and manifest without verifying anything.
func Inspect(r io.Reader) (*Inspection, error) {
	br, err := bundle.NewReader(r)
	if err != nil {
		return nil, err
	}
	defer br.Close()
	in := &Inspection{Schema: InspectSchema, Warning: NotVerified, Counts: map[string]TypeSummary{}, RootVersions: []int64{}, SignerKeyIDs: []string{}, Files: []InspectedFile{}}
	var targets *metadata.Metadata[metadata.TargetsType]
	for {
		e, err := br.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if strings.HasPrefix(e.Name, bundle.MetaDir) {
			data, err := br.ReadAll(bundle.MaxMetadataSize)
			if err != nil {
				return nil, err
			}
			switch {
			case strings.HasSuffix(e.Name, ".root.json"):
				root, err := metadata.Root().FromBytes(data)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", e.Name, err)
				}
				in.RootVersions = append(in.RootVersions, root.Signed.Version)
			case e.Name == bundle.TargetsPath:
				targets, err = metadata.Targets().FromBytes(data)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", e.Name, err)
				}
				// The content may expand to what targets declares, as
				// verify allows: a kit verify accepts is inspected too.
				br.SetBudget(bundle.ClaimedBudget(targets.Signed.Targets))
			}
			continue
		}
		if e.Name == ManifestPath {
			data, err := br.ReadAll(16 << 20)
			if err != nil {
				return nil, err
			}
			if in.Manifest, err = ReadManifest(bytes.NewReader(data)); err != nil {
				return nil, err
			}
			break
		}
	}
	if targets == nil {
		return nil, errors.New("the kit has no tuf/targets.json")
	}
	if in.Info, err = bundle.ClaimedInfo(targets); err != nil {
		return nil, err
	}
	for _, s := range targets.Signatures {
		in.SignerKeyIDs = append(in.SignerKeyIDs, s.KeyID)
	}
	slices.Sort(in.SignerKeyIDs)
	for p, t := range targets.Signed.Targets {
		f := InspectedFile{Path: p, Type: bundle.ContentType(p), Length: t.Length, SHA256: hex.EncodeToString(t.Hashes["sha256"])}
		if t.Custom != nil {
			f.Custom = *t.Custom
		}
		in.Files = append(in.Files, f)
		c := in.Counts[f.Type]
		c.Files++
		c.Bytes += f.Length
		in.Counts[f.Type] = c
	}
	slices.SortFunc(in.Files, func(a, b InspectedFile) int { return strings.Compare(a.Path, b.Path) })
	return in, nil
}

// WriteText renders an inspection for people.
func (in *Inspection) WriteText(w io.Writer, at time.Time) error {
	fmt.Fprintf(w, "%s\n\n", in.Warning)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "name\t%s\n", in.Info.Name)
	fmt.Fprintf(tw, "channel\t%s\n", in.Info.Channel)
	fmt.Fprintf(tw, "version\t%d\n", in.Info.Version)
	fmt.Fprintf(tw, "created\t%s\n", in.Info.Created.UTC().Format(time.RFC3339))
	exp := in.Info.Expires.UTC().Format(time.RFC3339)
	if !at.IsZero() && at.After(in.Info.Expires) {
		exp += " (EXPIRED)"
	}
	fmt.Fprintf(tw, "expires\t%s\n", exp)
	if in.Info.Base != nil {
		fmt.Fprintf(tw, "base\t%s v%d (targets %s)\n", in.Info.Base.Channel, in.Info.Base.Version, in.Info.Base.TargetsSHA256)
	}
	fmt.Fprintf(tw, "root versions\t%v\n", in.RootVersions)
	fmt.Fprintf(tw, "signer key ids\t%s\n", strings.Join(in.SignerKeyIDs, ", "))
	if in.Manifest != nil {
		fmt.Fprintf(tw, "built by\tferry %s\n", in.Manifest.FerryVersion)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CONTENT\tFILES\tBYTES")
	types := make([]string, 0, len(in.Counts))
	for t := range in.Counts {
		types = append(types, t)
	}
	slices.Sort(types)
	for _, t := range types {
		fmt.Fprintf(tw, "%s\t%d\t%d\n", t, in.Counts[t].Files, in.Counts[t].Bytes)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if in.Manifest != nil && len(in.Manifest.Sources) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SOURCE\tKIND\tFROM\tFILES\tBYTES\tCOUNTS\tDIGEST")
		for _, s := range in.Manifest.Sources {
			d := s.Digest
			if d == "" {
				d = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\n", s.Name, s.Kind, s.From, s.Files, s.Bytes, formatCounts(s.Counts), d)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PATH\tTYPE\tBYTES\tSHA256")
	for _, f := range in.Files {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", f.Path, f.Type, f.Length, f.SHA256)
	}
	return tw.Flush()
}

// formatCounts renders a source's counts (records, withdrawn, skipped,
// documents, statements, attestations …) as "k=v" pairs sorted by key.
func formatCounts(counts map[string]int) string {
	if len(counts) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, counts[k])
	}
	return strings.Join(parts, " ")
}
