package cli

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferry-dev/ferry/images"
	"github.com/ferry-dev/ferry/internal/version"
	"github.com/ferry-dev/ferry/scan"
	"github.com/ferry-dev/ferry/store"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/ossf/osv-schema/bindings/go/osvschema"
	"github.com/spf13/cobra"
)

// blockedErr marks a scan that fails --fail-on (exit 1);
// the report was already printed.
type blockedErr struct{ error }

func (b blockedErr) Unwrap() error { return b.error }

type scanOptions struct {
	store      string
	advisories string
	format     string
	failOn     string
	at         string
}

func (o *scanOptions) AddFlags(c *cobra.Command) {
	c.Flags().StringVar(&o.store, "store", "", "the store directory (advisories, KEV/EPSS and images of imported kits)")
	c.Flags().StringVar(&o.advisories, "advisories", "", "OSV records instead of a store: a .json/.jsonl file or a directory of them")
	c.Flags().StringVar(&o.format, "format", "table", "output: "+strings.Join(scan.Formats, "|"))
	c.Flags().StringVar(&o.failOn, "fail-on", "", "exit 1 on a finding at or above this severity (critical|high|medium|low), of unknown severity, or on NO_ADVISORY_DATA")
	c.Flags().StringVar(&o.at, "at", "", "report time (RFC 3339); default SOURCE_DATE_EPOCH, else none: output depends only on input and advisories")
}

func newScanCmd() *cobra.Command {
	o := &scanOptions{}
	c := &cobra.Command{
		Use:   "scan TARGET (--store DIR | --advisories PATH)",
		Short: "Inventory an image, root filesystem or SBOM and match it against the advisories, offline",
		Long: `Scan takes the package inventory of TARGET and matches it against the OSV
advisories of the store (or of --advisories). It never opens a network
connection.

TARGET is one of
  sha256:…                 an image imported into the store by a kit
  oci:DIR[@sha256:…]       an OCI image layout (name the image when it holds several)
  docker-archive:FILE      a 'docker save' tarball
  sbom:FILE                a CycloneDX JSON or SPDX JSON SBOM
  dir:DIR                  a root filesystem

Scanning fails closed: an ecosystem present in the target with no advisory data
is reported as NO_ADVISORY_DATA, and --fail-on fails on it. Findings of unknown
severity meet every --fail-on threshold.

Output is a table, JSON (schema ` + scan.SchemaVersion + `, docs/scan.md), SARIF 2.1.0,
CycloneDX 1.6 VEX or OpenVEX. The same target and advisories give the same bytes.

Exit codes: 0 ok, 1 --fail-on matched, 2 usage, 4 other error.`,
		Example: `  ferry scan oci:./layout --store /srv/ferry
  ferry scan docker-archive:app.tar --store /srv/ferry --format sarif > app.sarif
  ferry scan sbom:app.cdx.json --store /srv/ferry --fail-on high
  ferry scan dir:./rootfs --advisories ./osv/go --format json
  ferry scan sha256:0123… --store /srv/ferry --format openvex`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd, args[0]) },
	}
	o.AddFlags(c)
	return c
}

func (o *scanOptions) run(cmd *cobra.Command, target string) error {
	if (o.store == "") == (o.advisories == "") {
		return usagef("give exactly one of --store DIR or --advisories PATH")
	}
	if !slices.Contains(scan.Formats, o.format) {
		return usagef("--format %q: want one of %s", o.format, strings.Join(scan.Formats, ", "))
	}
	threshold := ""
	if o.failOn != "" {
		t, ok := scan.ParseRating(o.failOn)
		if !ok {
			return usagef("--fail-on %q: want critical, high, medium or low", o.failOn)
		}
		threshold = t
	}
	if _, err := scan.ParseTarget(target); err != nil {
		return usageErr{err}
	}
	opts := scan.Options{Tool: "ferry " + version.Version}
	if o.at != "" {
		t, err := parseAt(o.at)
		if err != nil {
			return err
		}
		opts.Time = t
	} else if t, err := createdTimeFromEnv(); err != nil {
		return err
	} else {
		opts.Time = t
	}
	if os.Getenv("GOGC") == "" {
		// A scan allocates its whole working set in well under a second,
		// starting from an empty heap: at the default GOGC the collector
		// runs a dozen times on the way up, about a third of the CPU time
		// of scanning an image. The live set (inventory, the records of
		// its packages) stays small next to the image read.
		defer debug.SetGCPercent(debug.SetGCPercent(scanGCPercent))
	}
	ctx := cmd.Context()
	var rep *scan.Report
	if o.advisories != "" {
		adv, err := scan.LoadOSV(ctx, o.advisories)
		if err != nil {
			return fmt.Errorf("reading advisories: %w", err)
		}
		r, err := scan.Scan(ctx, target, adv, opts)
		if err != nil {
			return err
		}
		rep = r
	} else {
		st, err := store.Open(ctx, o.store, storeOptions(store.Options{}))
		if err != nil {
			return err
		}
		opts.Images = storeImages{st}
		// One read transaction for the whole match: the scan sees one
		// state of the store even while an import commits.
		t, err := scan.ParseTarget(target)
		if err != nil {
			return usageErr{err}
		}
		inv, err := scan.Inventory(ctx, t, opts)
		if err != nil {
			return err
		}
		err = st.View(ctx, func(r *store.Reader) error {
			var err error
			rep, err = scan.MatchInventory(ctx, inv, NewStoreAdvisories(r), opts)
			return err
		})
		if err != nil {
			return err
		}
	}
	if err := scan.Write(cmd.OutOrStdout(), rep, o.format); err != nil {
		return err
	}
	if threshold != "" {
		if why := rep.Fails(threshold); len(why) > 0 {
			return blockedErr{fmt.Errorf("--fail-on %s: %s", strings.ToLower(threshold), strings.Join(why, "; "))}
		}
	}
	return nil
}

// scanGCPercent is the GOGC of a scan unless the environment sets one.
const scanGCPercent = 400

// createdTimeFromEnv returns SOURCE_DATE_EPOCH when set, else the zero
// time (no timestamp: the report depends only on its inputs).
func createdTimeFromEnv() (time.Time, error) {
	if os.Getenv("SOURCE_DATE_EPOCH") == "" {
		return time.Time{}, nil
	}
	return createdTime()
}

// storeImages opens the images a kit imported into the store.
type storeImages struct{ s *store.Store }

func (si storeImages) Image(ctx context.Context, digest string) (v1.Image, error) {
	im, err := si.s.ResolveImage(ctx, digest)
	if err != nil {
		return nil, err
	}
	h, err := v1.NewHash(im.Digest)
	if err != nil {
		return nil, err
	}
	return images.Image(si.s, h)
}

// StoreAdvisories adapts a store.Reader (valid inside one Store.View) to
// scan.Advisories, with the store's KEV and EPSS as the optional abilities.
// Records are parsed once per reader.
type StoreAdvisories struct {
	r      *store.Reader
	parsed map[string]*osvschema.Vulnerability
}

var (
	_ scan.Advisories = (*StoreAdvisories)(nil)
	_ scan.KEV        = (*StoreAdvisories)(nil)
	_ scan.EPSS       = (*StoreAdvisories)(nil)
)

// NewStoreAdvisories returns the adapter over r.
func NewStoreAdvisories(r *store.Reader) *StoreAdvisories {
	return &StoreAdvisories{r: r, parsed: map[string]*osvschema.Vulnerability{}}
}

// ForPackage implements scan.Advisories.
func (a *StoreAdvisories) ForPackage(ecosystem, name string) ([]*osvschema.Vulnerability, error) {
	advs, err := a.r.AdvisoriesForPackage(ecosystem, name)
	if err != nil {
		return nil, err
	}
	out := make([]*osvschema.Vulnerability, len(advs))
	keys := make([]string, len(advs))
	var todo []int
	for i := range advs {
		keys[i] = advs[i].Channel + "\x00" + advs[i].Source + "\x00" + advs[i].ID
		if v, ok := a.parsed[keys[i]]; ok {
			out[i] = v
		} else {
			todo = append(todo, i)
		}
	}
	// Parsing (protojson) is nearly all of a scan's matching time, and a
	// few packages (stdlib, x/net) carry most records: parse them on every
	// CPU. Records are parsed from copies (Advisory.Record belongs to the
	// caller), so the read transaction is not shared.
	errs := make([]error, len(advs))
	parse := func(i int) { out[i], errs[i] = advs[i].Vulnerability() }
	if workers := min(runtime.GOMAXPROCS(0), len(todo)/parallelParseMin); workers > 1 {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for j := int(next.Add(1)) - 1; j < len(todo); j = int(next.Add(1)) - 1 {
					parse(todo[j])
				}
			})
		}
		wg.Wait()
	} else {
		for _, i := range todo {
			parse(i)
		}
	}
	for _, i := range todo {
		if errs[i] != nil {
			return nil, fmt.Errorf("advisory %s (channel %s): %w", advs[i].ID, advs[i].Channel, errs[i])
		}
		a.parsed[keys[i]] = out[i]
	}
	return out, nil
}

// parallelParseMin is the number of records per extra parsing goroutine:
// below it, starting one costs more than it saves.
const parallelParseMin = 8

// Ecosystems implements scan.Advisories.
func (a *StoreAdvisories) Ecosystems() ([]string, error) {
	es, err := a.r.Ecosystems()
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(es))
	for _, e := range es {
		out = append(out, e.Name)
	}
	return out, nil
}

// KEV implements scan.KEV.
func (a *StoreAdvisories) KEV(cve string) (bool, error) {
	_, ok, err := a.r.KEV(cve)
	return ok, err
}

// EPSS implements scan.EPSS.
func (a *StoreAdvisories) EPSS(cve string) (float64, float64, bool, error) {
	s, ok, err := a.r.EPSS(cve)
	if err != nil || !ok {
		return 0, 0, false, err
	}
	return s.EPSS, s.Percentile, true, nil
}
