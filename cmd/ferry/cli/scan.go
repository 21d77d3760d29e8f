package cli

import (
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/ferry-dev/ferry/internal/version"
	"github.com/ferry-dev/ferry/scan"
	"github.com/ferry-dev/ferry/store"
	"github.com/ferry-dev/ferry/storescan"
	"github.com/ferry-dev/ferry/vexsite"
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
	vex        string
	evidence   bool
	json       bool
}

func (o *scanOptions) AddFlags(c *cobra.Command) {
	c.Flags().StringVar(&o.store, "store", "", "the store directory (advisories, KEV/EPSS and images of imported kits)")
	c.Flags().StringVar(&o.advisories, "advisories", "", "OSV records instead of a store: a .json/.jsonl file or a directory of them")
	c.Flags().StringVar(&o.format, "format", "table", "output: "+strings.Join(scan.Formats, "|"))
	c.Flags().BoolVar(&o.json, "json", false, "print the report as JSON (the same as --format json)")
	c.Flags().StringVar(&o.failOn, "fail-on", "", "exit 1 on a finding at or above this severity (critical|high|medium|low), of unknown severity, on NO_ADVISORY_DATA, NOTHING_EVALUATED or UNREADABLE; findings whose VEX consensus is not_affected or fixed do not count")
	c.Flags().StringVar(&o.vex, "vex", "", "with --store: a directory of the site's own OpenVEX files (issuer local, tier self) for the VEX consensus")
	c.Flags().StringVar(&o.at, "at", "", "evaluation time (RFC 3339), recorded in the report and stamped on its OpenVEX, CycloneDX and SARIF output; default SOURCE_DATE_EPOCH, else now")
	c.Flags().BoolVar(&o.evidence, "evidence", false, "read each Go binary's function names and say whether a finding's vulnerable symbols are in it (symbol, package or module level)")
}

func newScanCmd() *cobra.Command {
	o := &scanOptions{}
	c := &cobra.Command{
		Use:   "scan TARGET (--store DIR | --advisories PATH)",
		Short: "Inventory an image, root filesystem or SBOM and match it against the advisories, offline",
		Long: `Scan takes the package inventory of TARGET and matches it against the OSV
advisories of the store (or of --advisories). It never opens a network
connection.

TARGET is a file or directory, scanned by what it is (a Go binary, a
package-lock.json, a .jar, an SBOM, a 'docker save' tarball, an OCI layout, a
root filesystem), or one of
  sha256:…                 an image imported into the store by a kit
  oci:DIR[@sha256:…]       an OCI image layout (name the image when it holds several)
  docker-archive:FILE      a 'docker save' tarball
  sbom:FILE                a CycloneDX JSON or SPDX JSON SBOM
  dir:DIR                  a root filesystem
  file:FILE                a single file: a Go binary or a lockfile

--evidence reads each Go binary's function names: a finding whose vulnerable
symbols are absent (package or module level) becomes, with --store, a VEX
statement of issuer ferry:symbols, tier analysis (not_affected,
vulnerable_code_not_present) that decides only where no other tier does.

Scanning fails closed: an ecosystem present in the target with no advisory data
is reported as NO_ADVISORY_DATA, a target none of whose packages could be
matched (an SBOM of pkg:generic components) as NOTHING_EVALUATED, a lockfile
or package database that cannot be read as UNREADABLE (naming the file and the
reason), and --fail-on fails on each. Findings of unknown severity meet every --fail-on threshold.

Output is a table, JSON (schema ` + scan.SchemaVersion + `, docs/scan.md), SARIF 2.1.0,
CycloneDX 1.6 VEX or OpenVEX. The report records its evaluation time (--at, else
SOURCE_DATE_EPOCH, else now); with the time pinned, the same target and
advisories give the same bytes.

Exit codes: 0 ok, 1 --fail-on matched, 2 usage, 4 other error.`,
		Example: `  ferry scan ./myprogram --store /srv/ferry
  ferry scan package-lock.json --store /srv/ferry --fail-on high
  ferry scan oci:./layout --store /srv/ferry
  ferry scan docker-archive:app.tar --store /srv/ferry --format sarif > app.sarif
  ferry scan sbom:app.cdx.json --store /srv/ferry --fail-on high
  ferry scan dir:./rootfs --advisories ./osv/go --format json
  ferry scan docker-archive:app.tar --store /srv/ferry --evidence
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
	if o.vex != "" && o.store == "" {
		return usagef("--vex needs --store (the VEX consensus is computed with the store's statements)")
	}
	if o.json {
		if cmd.Flags().Changed("format") && o.format != "json" {
			return usagef("--json and --format %s contradict each other", o.format)
		}
		o.format = "json"
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
	t, err := scan.ParseTarget(target)
	if err == nil {
		_, err = scan.ResolvePath(t) // a bare path must exist
	}
	if err != nil {
		return usageErr{err}
	}
	opts := scan.Options{Tool: "ferry " + version.Version, Evidence: o.evidence}
	if o.at != "" {
		t, err := parseAt(o.at)
		if err != nil {
			return err
		}
		opts.Time = t
	} else if t, err := createdTimeFromEnv(); err != nil {
		return err
	} else if !t.IsZero() {
		opts.Time = t
	} else {
		// The evaluation time: what the advisories said now. It is
		// recorded in the report and dates its OpenVEX, CycloneDX and
		// SARIF output.
		opts.Time = time.Now().UTC().Truncate(time.Second)
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
	progress, endProgress := scanProgress(cmd.ErrOrStderr(), target)
	defer endProgress()
	opts.Progress = progress
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
		st, err := store.Open(ctx, o.store, storeOptions(store.Options{ReadOnly: true}))
		if err != nil {
			return err
		}
		applyVEX := func(r *store.Reader, rep *scan.Report) error {
			return vexsite.ApplyToScan(ctx, r, rep, vexsite.Options{LocalDir: o.vex, At: opts.Time, Analysis: vexsite.SymbolStatements(rep)})
		}
		if rep, err = storescan.Scan(ctx, st, target, opts, applyVEX); err != nil {
			return err
		}
	}
	endProgress() // the line ends before the report starts
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
