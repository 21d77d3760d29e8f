package cli

import (
	"fmt"
	"github.com/ferry-dev/ferry/internal/attestverify"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ferry-dev/ferry/internal/atomicfile"
	"github.com/ferry-dev/ferry/store"
	"github.com/spf13/cobra"
)

// storeFlags are the flags every store subcommand has.
type storeFlags struct {
	dir         string
	json        bool
	lockTimeout time.Duration
}

func (f *storeFlags) add(c *cobra.Command, jsonSchema string) {
	c.Flags().StringVar(&f.dir, "store", "", "the store directory")
	c.Flags().DurationVar(&f.lockTimeout, "lock-timeout", store.DefaultLockTimeout, "how long to wait for an import's commit (or, for gc, the import)")
	if jsonSchema != "" {
		c.Flags().BoolVar(&f.json, "json", false, "print as JSON (schema "+jsonSchema+")")
	}
}

// open opens the store read-only: a command that only reads never writes
// the store, not even to migrate it.
func (f *storeFlags) open(cmd *cobra.Command) (*store.Store, error) {
	return f.openMode(cmd, true)
}

// openWritable opens the store for a command that changes it (gc,
// migrate); an older store is migrated first.
func (f *storeFlags) openWritable(cmd *cobra.Command) (*store.Store, error) {
	return f.openMode(cmd, false)
}

func (f *storeFlags) openMode(cmd *cobra.Command, readOnly bool) (*store.Store, error) {
	if f.dir == "" {
		return nil, usagef("--store is required")
	}
	return store.Open(cmd.Context(), f.dir, storeOptions(store.Options{LockTimeout: f.lockTimeout, ReadOnly: readOnly}))
}

// storeOptions completes o with the indexers every command uses, so that a
// migration that rebuilds indexes re-verifies carried attestations the
// same way an import does, whichever command opens the store.
func storeOptions(o store.Options) store.Options {
	if o.Indexers == nil {
		o.Indexers = store.DefaultIndexers(store.WithAttestationVerifier(attestverify.Verifier{}))
	}
	return o
}

func newStoreCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "store",
		Short: "Read and maintain the offline store",
		Long: `Read the offline store that 'ferry import' fills, and maintain it.

Reads open the database read-only for one transaction: they work during an
import and see the state before its commit or after it, never a mix. They
never write the store: a store of an older schema is refused with a message
to run 'ferry store migrate' (or import a kit), which upgrades it.

A damaged store (a truncated or overwritten ferry.db, a missing or altered
blob) makes every command fail with "store damaged: …, run ferry store
check", exit 4. 'ferry store check' lists what is damaged.`,
		Example: `  ferry store info --store /srv/ferry
  ferry store log --store /srv/ferry --json
  ferry store query --store /srv/ferry --advisory CVE-2021-44228
  ferry store inventory --store /srv/ferry -o have.json
  ferry store gc --store /srv/ferry
  ferry store check --store /srv/ferry`,
	}
	c.AddCommand(newStoreInfoCmd(), newStoreLogCmd(), newStoreQueryCmd(), newStoreInventoryCmd(), newStoreGCCmd(),
		newStoreCheckCmd(), newStoreMigrateCmd())
	return c
}

func newStoreInfoCmd() *cobra.Command {
	var f storeFlags
	var at string
	c := &cobra.Command{
		Use:   "info --store DIR [--json]",
		Short: "Channels, active versions, counts and the age of each content type against its budget",
		Long: `Show every channel's active kit: version, created, expiry, root version,
and per content type the files, bytes, age of the data and its freshness
budget from kit.yaml (freshness: {advisories: 7d, …}): OK, STALE, NO-BUDGET,
or MISSING (a budget but no such content). The age is measured from the
oldest fetch time of the type's sources, else from the kit's creation.`,
		Example: `  ferry store info --store /srv/ferry
  ferry store info --store /srv/ferry --json | jq '.channels[].types'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := parseAt(at)
			if err != nil {
				return err
			}
			s, err := f.open(cmd)
			if err != nil {
				return err
			}
			in, err := s.Info(cmd.Context(), t)
			if err != nil {
				return err
			}
			if f.json {
				return writeJSON(cmd.OutOrStdout(), in)
			}
			return writeStoreInfo(cmd.OutOrStdout(), in)
		},
	}
	f.add(c, store.InfoSchema)
	c.Flags().StringVar(&at, "at", "", "measure ages and expiry as of this time (RFC 3339) instead of now")
	return c
}

func newStoreLogCmd() *cobra.Command {
	var f storeFlags
	c := &cobra.Command{
		Use:   "log --store DIR [--json]",
		Short: "The import receipts, oldest first",
		Long: `Show the import log, in the order of the imports: for each its real time,
the pinned clock it was verified on (import --at, else -), operator,
channel, version, outcome (activated, unchanged, force-activated), the
reason of a forced activation or a pinned clock, and kit sha256. --json
prints every field, with signer key ids, the checks that passed (expiry is
expiry-at-pinned-clock for a pinned clock) and counts per content type.`,
		Example: `  ferry store log --store /srv/ferry
  ferry store log --store /srv/ferry --json | jq '.[-1]'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := f.open(cmd)
			if err != nil {
				return err
			}
			rs, err := s.Log(cmd.Context())
			if err != nil {
				return err
			}
			if f.json {
				return writeJSON(cmd.OutOrStdout(), rs)
			}
			return writeLogText(cmd.OutOrStdout(), rs)
		},
	}
	f.add(c, store.ReceiptSchema+" (a list)")
	return c
}

func writeLogText(w io.Writer, rs []store.Receipt) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tVERIFIED AT\tCHANNEL\tVERSION\tOUTCOME\tOPERATOR\tKIT SHA256\tREASON")
	for _, r := range rs {
		reason, clock := r.Reason, "-"
		if reason == "" {
			reason = "-"
		}
		if !r.VerifiedAt.IsZero() {
			clock = r.VerifiedAt.Format(time.RFC3339) + " (pinned)"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\t%.16s…\t%s\n", r.Seq, r.Time.Format(time.RFC3339), clock, r.Channel, r.Version, r.Outcome, r.Operator, r.KitSHA256, reason)
	}
	return tw.Flush()
}

func newStoreQueryCmd() *cobra.Command {
	var f storeFlags
	var q store.Query
	var pkg string
	c := &cobra.Command{
		Use:   "query --store DIR (--advisory ID | --package ECOSYSTEM/NAME | --vuln ID | --product ID) [--json]",
		Short: "Look up an advisory, a package's advisories, or VEX statements in the store",
		Long: `Look up what the active kits of every channel carry, in one read transaction.

  --advisory ID             the OSV records whose id is ID or that list ID among
                            their aliases (CVE-…, GHSA-…, GO-…), printed as JSON,
                            with the KEV entry and EPSS score of their ids
  --package ECOSYSTEM/NAME  the ids of the records affecting a package, e.g.
                            Go/golang.org/x/net, npm/@babel/core, PyPI/Django
                            (the ecosystem ends at the first '/'; PyPI names
                            compare normalised)
  --vuln ID                 the VEX statements about ID and, when ID names an
                            advisory, about its ids and aliases: status,
                            products, issuer, source and document digest
  --product ID              the VEX statements about a product (purl, cpe or
                            name; a purl without version finds every version)

Nothing found is an answer, not an error: the command says "not found" (or
"found": false with --json) and exits 0. It exits 4 only when the store
cannot be read.`,
		Example: `  ferry store query --store /srv/ferry --advisory GO-2022-0969
  ferry store query --store /srv/ferry --advisory CVE-2022-27664 --json | jq '.advisories[].id'
  ferry store query --store /srv/ferry --package Go/golang.org/x/net
  ferry store query --store /srv/ferry --vuln CVE-2021-44228
  ferry store query --store /srv/ferry --product pkg:golang/github.com/example/app`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			n := 0
			for _, v := range []string{q.Advisory, pkg, q.Vuln, q.Product} {
				if v != "" {
					n++
				}
			}
			if n != 1 {
				return usagef("give exactly one of --advisory, --package, --vuln, --product")
			}
			if pkg != "" {
				eco, name, ok := strings.Cut(pkg, "/")
				if !ok || eco == "" || name == "" {
					return usagef("--package %q: write ECOSYSTEM/NAME, e.g. Go/golang.org/x/net", pkg)
				}
				q.Ecosystem, q.Package = eco, name
			}
			s, err := f.open(cmd)
			if err != nil {
				return err
			}
			res, err := s.Query(cmd.Context(), q)
			if err != nil {
				return err
			}
			if f.json {
				return writeJSON(cmd.OutOrStdout(), res)
			}
			return writeQueryResult(cmd.OutOrStdout(), res)
		},
	}
	f.add(c, store.QuerySchema)
	c.Flags().StringVar(&q.Advisory, "advisory", "", "an advisory id or alias")
	c.Flags().StringVar(&pkg, "package", "", "a package as ECOSYSTEM/NAME")
	c.Flags().StringVar(&q.Vuln, "vuln", "", "a vulnerability id or alias whose VEX statements to show")
	c.Flags().StringVar(&q.Product, "product", "", "a product (purl, cpe or name) whose VEX statements to show")
	return c
}

func newStoreInventoryCmd() *cobra.Command {
	var f storeFlags
	var out string
	c := &cobra.Command{
		Use:   "inventory --store DIR [--have] [-o have.json] [--json]",
		Short: "What the site has, as JSON, for the connected side to build a minimal delta",
		Long: `Write what the store holds as JSON: channels with their active version,
targets digest, root version, sources with digests and every content
path's sha256, and the digests of all image blobs. Sorted: the same store
gives the same bytes. Carry it to the connected side for a minimal delta.

The inventory is a machine document (ferry mirror --have reads it), so it
is JSON whether or not --json is given; for a summary to read, use
ferry store info. --have says what it is for: the inventory is the site's
have-list, and a delta made from it (ferry mirror --have) carries what the
site lacks. The have-list is signed by nobody: the delta still verifies
against the site's trust, and an import finds any content it left out
that the store lacks (KIT_BLOB_MISSING).`,
		Example: `  ferry store inventory --store /srv/ferry --have -o have.json
  ferry store inventory --store /srv/ferry | jq '.images | length'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := f.open(cmd)
			if err != nil {
				return err
			}
			inv, err := s.Inventory(cmd.Context())
			if err != nil {
				return err
			}
			if out == "" {
				return writeJSON(cmd.OutOrStdout(), inv)
			}
			return atomicfile.WriteFrom(out, 0o644, func(w io.Writer) error { return writeJSON(w, inv) })
		},
	}
	f.add(c, "")
	c.Flags().StringVarP(&out, "output", "o", "", "write the inventory (schema "+store.InventorySchema+") to this file instead of stdout")
	c.Flags().Bool("json", true, "JSON output (the only form of the inventory; accepted for uniformity with the other store commands)")
	c.Flags().Bool("have", true, "write it as the have-list for ferry mirror --have (the inventory is the have-list; accepted to say so)")
	return c
}

func newStoreGCCmd() *cobra.Command {
	var f storeFlags
	keep := -1
	c := &cobra.Command{
		Use:   "gc --store DIR [--keep N] [--json]",
		Short: "Remove blobs no kit references, old kit versions (--keep) and files left by failed imports",
		Long: `Remove every blob that no channel's kit references, and every staging
file an interrupted or failed import left behind. An import keeps the kit
it replaces (its files and indexes), so that 'ferry gate replay' can
re-evaluate a decision at the versions it recorded; --keep N first drops
all but the newest N of those older versions of each channel (--keep 0:
all of them), in one transaction, rewrites ferry.db without the pages
they used, and then removes the blobs only they used. A
decision taken on a dropped version no longer replays identical: replay
says the version is gone (exit 1). Without --keep every version is kept.
gc takes the import lock: it waits for a running import (up to
--lock-timeout).`,
		Example: `  ferry store gc --store /srv/ferry
  ferry store gc --store /srv/ferry --keep 3`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("keep") && keep < 0 {
				return usagef("--keep %d: give a count, 0 or more", keep)
			}
			s, err := f.openWritable(cmd)
			if err != nil {
				return err
			}
			out := gcOutcome{Dropped: []store.HistoricKit{}}
			if keep >= 0 {
				gh, err := s.GCHistory(cmd.Context(), keep)
				if err != nil {
					return err
				}
				out.Dropped, out.DBBytes, out.DBBytesAfter = gh.Dropped, gh.DBBytes, gh.DBBytesAfter
			}
			res, err := s.GC(cmd.Context())
			if err != nil {
				return err
			}
			out.GCResult = *res
			if f.json {
				return writeJSON(cmd.OutOrStdout(), out)
			}
			w := cmd.OutOrStdout()
			if keep >= 0 {
				var names []string
				for _, d := range out.Dropped {
					names = append(names, fmt.Sprintf("%s v%d", d.Channel, d.Version))
				}
				if len(names) == 0 {
					names = []string{"none"}
				}
				fmt.Fprintf(w, "dropped %d old kit version(s), keeping the newest %d per channel: %s\n", len(out.Dropped), keep, strings.Join(names, ", "))
				if len(out.Dropped) > 0 {
					fmt.Fprintf(w, "rewrote ferry.db: %d bytes, was %d\n", out.DBBytesAfter, out.DBBytes)
				}
			}
			fmt.Fprintf(w, "removed %d unreferenced blob(s), %d bytes, and %d staging file(s); %d blob(s) referenced\n",
				res.Removed, res.RemovedBytes, res.TempRemoved, res.Referenced)
			return nil
		},
	}
	f.add(c, "")
	c.Flags().BoolVar(&f.json, "json", false, "print the result as JSON")
	c.Flags().IntVar(&keep, "keep", -1, "drop all but the newest N older kit versions of each channel (default: keep all)")
	return c
}

// gcOutcome is what store gc prints with --json: the GC result and the
// old kit versions --keep dropped.
type gcOutcome struct {
	store.GCResult
	Dropped []store.HistoricKit `json:"dropped"`
	// DBBytes and DBBytesAfter are the sizes of ferry.db before and after
	// --keep (0 without it).
	DBBytes      int64 `json:"dbBytes"`
	DBBytesAfter int64 `json:"dbBytesAfter"`
}

func newStoreCheckCmd() *cobra.Command {
	var f storeFlags
	c := &cobra.Command{
		Use:   "check --store DIR [--json]",
		Short: "Check the store for damage: database pages, blobs re-hashed, staging leftovers",
		Long: `Check the store without changing it:

  - ferry.db: both meta pages, the file holding every page they claim,
    every page read once, then bbolt's consistency check (Tx.Check);
  - the schema and its buckets;
  - every blob a channel's active kit references, re-hashed against its
    recorded sha256 and size;
  - files a failed or killed import left in tmp/ (not while an import runs).

Exit 0 when the store is healthy, 4 when anything is listed. Each problem
has a kind: database, meta, page, schema, index, blob-missing,
blob-corrupt, staging. A missing or corrupt blob, or an advisory record
index that is missing, is repaired by importing the kit that carries it
again; staging leftovers by 'ferry store gc'; a damaged
database by restoring the store from a backup, or by a new store and the
latest kit of every channel.

--json prints schema ` + store.CheckSchema + ` (see docs/store.md).`,
		Example: `  ferry store check --store /srv/ferry
  ferry store check --store /srv/ferry --json | jq '.problems[] | select(.kind == "blob-corrupt") | .digest'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.dir == "" {
				return usagef("--store is required")
			}
			rep, err := store.Check(cmd.Context(), f.dir, store.Options{LockTimeout: f.lockTimeout})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if f.json {
				err = writeJSON(out, rep)
			} else {
				err = writeCheckText(out, rep)
			}
			if err != nil {
				return err
			}
			if !rep.Healthy {
				return fmt.Errorf("%s: %w: %d problem(s) found", rep.Store, store.ErrDamaged, len(rep.Problems))
			}
			return nil
		},
	}
	f.add(c, store.CheckSchema)
	return c
}

func writeCheckText(w io.Writer, rep *store.CheckReport) error {
	d := rep.Database
	fmt.Fprintf(w, "store %s: ferry.db %d bytes", rep.Store, d.FileBytes)
	if d.PageSize > 0 {
		fmt.Fprintf(w, ", %d pages of %d bytes, transaction %d", d.Pages, d.PageSize, d.TxID)
	}
	fmt.Fprintf(w, "; %d blob(s) re-hashed, %d bytes\n", rep.Blobs, rep.BlobBytes)
	if rep.StagingSkipped {
		fmt.Fprintln(w, "staging not checked: an import is running")
	}
	if rep.Healthy {
		fmt.Fprintln(w, "healthy")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tWHAT\tDETAIL")
	for _, p := range rep.Problems {
		what := p.Path
		if p.Digest != "" {
			what = "sha256:" + p.Digest + " (" + p.Channel + " " + p.Path + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", p.Kind, what, p.Detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "damaged: %d problem(s)\n", len(rep.Problems))
	return err
}

func newStoreMigrateCmd() *cobra.Command {
	var f storeFlags
	var asJSON bool
	c := &cobra.Command{
		Use:   "migrate --store DIR [--json]",
		Short: "Upgrade a store written by an older ferry to this ferry's schema",
		Long: `Upgrade the store's database to the schema this ferry reads, in one
transaction under the import lock (a crash leaves the old schema). Reading
commands never migrate: they refuse an older store and point here. An
import migrates too. A store that is already current is left unchanged.`,
		Example: `  ferry store migrate --store /srv/ferry
  ferry store migrate --store /srv/ferry --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := f.openWritable(cmd); err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), struct {
					Schema        string `json:"schema"`
					Store         string `json:"store"`
					SchemaVersion int    `json:"schemaVersion"`
				}{"ferry.dev/store-migrate/v1", f.dir, store.SchemaVersion})
			}
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "store %s: schema %d\n", f.dir, store.SchemaVersion)
			return err
		},
	}
	f.add(c, "")
	c.Flags().BoolVar(&asJSON, "json", false, "print the store and its schema version as JSON")
	return c
}
