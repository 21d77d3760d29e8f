package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"time"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/store"
	"github.com/spf13/cobra"
)

func newImportCmd() *cobra.Command {
	var o struct {
		store, root, quarantine, reason, operator, at string
		dryRun, force, json                           bool
		lockTimeout                                   time.Duration
	}
	var oci ociImportFlags
	c := &cobra.Command{
		Use:   "import KIT --store DIR [--root root.json] [--dry-run] [--quarantine DIR]",
		Short: "Verify a kit and make it the active kit of its channel in the store, atomically",
		Long: `Import a kit into the offline store: the same streaming verification as
'ferry verify', staging each content file while it is hashed, then ONE
database transaction that switches the channel's trust state, files,
indexes and import log. The kit file is read once; a crash at any point
leaves the previous state.

The first import of a channel pins its root with --root; afterwards the
store's trust state for the channel is the trust (it follows the root
rotations kits carry). A --root given for a channel the store knows must
be the store's root of the same version: one that differs (another
channel's or chain's, or newer than the store's) is refused, exit 3.
An older kit, or the same version with other content, is refused with
KIT_ROLLBACK unless --force-activate --reason TEXT (the reason goes into
the log). A channel the store does not know, without --root, is
KIT_UNKNOWN_CHANNEL.

--at TIME verifies the kit as of TIME instead of now, which can activate
a kit that has expired: like --force-activate it needs --reason TEXT.
The receipt and the log record the real time of the import (the log is
in that order), the clock used, the reason and the operator; 'ferry
store log' and 'ferry store info' show them. --dry-run --at needs no
reason (nothing is written).

A delta kit (ferry mirror --base or --have) applies only onto exactly its
base: otherwise KIT_BASE_MISMATCH, naming the version the store holds and
the one the delta needs (a chain 41, 42, 43 imports in order; a gap is
refused). Every file it leaves out must be a blob of the store, else
KIT_BLOB_MISSING names the digest. Either failure changes nothing. The
store then holds exactly what the full kit of that version gives.

--dry-run verifies and says what would change, writing nothing.
--quarantine DIR moves a kit that fails verification into DIR, with its
report beside it. When KIT is a symbolic link, the file it points to is
moved (the bad kit leaves the import path) and the link is removed.

The input is read once and no further than needed: a kit that fails
verification is not read to its end, and an input that is not a kit
(random bytes, /dev/zero) is refused as soon as verify would refuse it.
SIGINT or SIGTERM stops the import within a read, releases the store's
lock and leaves the previous state. A failed first import leaves no store
behind.

A second import waits up to --lock-timeout for the first, then fails.

KIT may be oci://REGISTRY/REPO:TAG, a kit that 'ferry publish' pushed to
the site's registry: it is streamed from the registry blob into the same
import (same checks; a tag moved to an older kit is KIT_ROLLBACK), and a
manifest that does not match its digest is refused before anything is
staged. A kit that is already the channel's active kit is not downloaded.
--follow INTERVAL checks the tag again every INTERVAL (verifying as of
each check), imports new versions, reports refusals on stderr and goes
on until SIGINT or SIGTERM. Credentials as for 'ferry publish'.
KIT may be the first part of a kit written in parts (KIT.001, with
KIT.parts.json beside it): the signed part index is checked and every part
must be present before anything is staged; the parts are then read in
order as one stream (no reassembled copy), each hashed as it goes, and a
part that is not the one the index lists stops the import with
KIT_PART_INVALID naming it.
Exit 3 when the kit fails verification or is refused.`,
		Example: `  ferry import acme-1.kit.tar.zst --store /srv/ferry --root trust/root.json
  ferry import acme-2.kit.tar.zst --store /srv/ferry
  ferry import acme-3.kit.tar.zst --store /srv/ferry --dry-run
  ferry import acme-2.kit.tar.zst --store /srv/ferry --quarantine /srv/quarantine --json
  ferry import acme-1.kit.tar.zst --store /srv/ferry --force-activate --reason "roll back broken feed, ticket 123"
  ferry import acme-7.kit.tar.zst --store /srv/ferry --at 2026-12-01T00:00:00Z --reason "kit expired in transit, INC-9"
  ferry import oci://registry.site:5000/ferry/kits:acme --store /srv/ferry --follow 10m
  ferry import acme-2.kit.tar.zst.001 --store /srv/ferry`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.store == "" {
				return usagef("--store is required")
			}
			if o.force && o.reason == "" {
				return usagef("--force-activate needs --reason TEXT, which is written into the log")
			}
			if o.at != "" && !o.dryRun && o.reason == "" {
				return usagef("--at pins the verification clock, which can activate an expired kit: it needs --reason TEXT, written into the log with the clock and the real time of the import")
			}
			if o.reason != "" && !o.force && o.at == "" {
				return usagef("--reason is only for --force-activate or --at")
			}
			// The real time of the import, which the receipt and the log
			// record; --at only moves the clock the kit is verified on.
			realTime := now()
			at, err := realTime, error(nil)
			if o.at != "" {
				if at, err = parseAt(o.at); err != nil {
					return err
				}
			}
			var rootData []byte
			if o.root != "" {
				if rootData, err = readRootFile(o.root); err != nil {
					return err
				}
			}
			operator := o.operator
			if operator == "" {
				operator = currentUser()
			}
			kitPath := args[0]
			isOCI, err := oci.isOCI(kitPath, o.quarantine, o.at)
			if err != nil {
				return err
			}
			s, err := store.Open(cmd.Context(), o.store, storeOptions(store.Options{
				LockTimeout: o.lockTimeout,
				ReadOnly:    o.dryRun,
				Holder:      fmt.Sprintf("ferry import %s by %s, pid %d", filepath.Base(kitPath), operator, os.Getpid()),
			}))
			if err != nil {
				return err
			}
			if isOCI {
				return oci.importOCI(cmd, kitPath, s, store.ImportOptions{
					At: at, Now: realTime, Root: rootData, DryRun: o.dryRun, ForceActivate: o.force, Reason: o.reason,
					Operator: operator, Clock: wallClock{},
				}, o.json)
			}
			var f io.ReadCloser
			var parts *bundle.PartReader
			if set, _ := partSet(kitPath); set != nil {
				if o.quarantine != "" {
					return usagef("--quarantine moves one kit file; a kit in parts is not moved")
				}
				if parts, err = openPartsForImport(cmd.ErrOrStderr(), set, s.TrustSource(cmd.Context(), rootData)); err != nil {
					return err
				}
				f = parts
			} else if f, err = os.Open(kitPath); err != nil {
				return err
			}
			// A read blocked on a pipe or a device does not see the
			// context; closing the file on SIGINT/SIGTERM ends it.
			stopRead := context.AfterFunc(cmd.Context(), func() { f.Close() })
			r, endProgress := kitReadProgress(cmd.ErrOrStderr(), f, "importing "+filepath.Base(kitPath))
			res, ierr := s.Import(cmd.Context(), r, store.ImportOptions{
				At: at, Now: realTime, Root: rootData, DryRun: o.dryRun, ForceActivate: o.force, Reason: o.reason,
				Operator: operator, Source: filepath.Base(kitPath), Clock: wallClock{},
			})
			endProgress()
			stopRead()
			f.Close()
			if parts != nil && ierr != nil {
				reportPartFailures(cmd.ErrOrStderr(), parts)
			}
			if cerr := cmd.Context().Err(); cerr != nil && ierr != nil {
				return fmt.Errorf("import of %s stopped: %w; the store is unchanged", kitPath, cerr)
			}
			if errors.Is(ierr, store.ErrRootMismatch) {
				// The trust anchors disagree: refused, as a failed
				// verification is (exit 3); the kit itself is not blamed.
				return verificationErr{fmt.Errorf("--root %s: %w", o.root, ierr)}
			}
			if res == nil {
				if o.quarantine != "" && bundle.CodeOf(ierr) != "" {
					// Refused before a report was complete (data after
					// the kit's end): quarantined without a report.
					dest, qerr := store.Quarantine(kitPath, o.quarantine, nil)
					if qerr != nil {
						return fmt.Errorf("%w (and %v)", ierr, qerr)
					}
					fmt.Fprintf(cmd.ErrOrStderr(), "quarantined: %s\n", dest)
				}
				return ierr
			}
			out := cmd.OutOrStdout()
			if o.json {
				err = writeJSON(out, res)
			} else {
				err = writeImportText(out, kitPath, res)
			}
			if err != nil {
				return err
			}
			if res.Report != nil && !res.Report.OK && o.quarantine != "" {
				dest, qerr := store.Quarantine(kitPath, o.quarantine, res.Report)
				if qerr != nil {
					return fmt.Errorf("%w (and %v)", ierr, qerr)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "quarantined: %s (report: %s.report.json)\n", dest, dest)
			}
			if ierr != nil {
				ierr = importAdvice(ierr)
				if res.Report != nil && !res.Report.OK {
					return verificationErr{ierr}
				}
				return ierr
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&o.store, "store", "", "the store directory (created by the first import)")
	f.StringVar(&o.root, "root", "", "the channel root pinned out of band, for a channel's first import")
	f.BoolVar(&o.dryRun, "dry-run", false, "verify and show what would change; write nothing")
	f.StringVar(&o.quarantine, "quarantine", "", "move a kit that fails verification into this directory, with its report")
	f.BoolVar(&o.force, "force-activate", false, "activate an older kit (or the same version with other content); needs --reason")
	f.StringVar(&o.reason, "reason", "", "why --force-activate or --at is used; written into the import log")
	f.StringVar(&o.operator, "operator", "", "who imports, for the log (default: the current user name)")
	f.StringVar(&o.at, "at", "", "verify as of this time (RFC 3339) instead of now; needs --reason (the log records it and the real time)")
	f.BoolVar(&o.json, "json", false, "print the result as JSON (schema "+store.ImportResultSchema+")")
	f.DurationVar(&o.lockTimeout, "lock-timeout", store.DefaultLockTimeout, "how long to wait for another import to finish")
	oci.add(f)
	return c
}

// importAdvice adds what to do on the command line to an import error
// that the store reports by its stable code.
func importAdvice(err error) error { return withKitAdvice(err, "import") }

func writeImportText(w io.Writer, kitPath string, res *store.ImportResult) error {
	if res.Report != nil {
		if err := res.Report.WriteText(w, kitPath); err != nil {
			return err
		}
	}
	if res.Changes == nil {
		return nil
	}
	c := res.Changes
	fmt.Fprintln(w)
	verb := "import"
	if res.DryRun {
		verb = "dry run, nothing written; would"
	}
	from := "new channel"
	if !c.NewChannel {
		from = fmt.Sprintf("version %d", c.FromVersion)
	}
	fmt.Fprintf(w, "%s: %s channel %s: %s -> version %d\n", verb, res.Outcome, c.Channel, from, c.ToVersion)
	fmt.Fprintf(w, "files: %d added, %d changed, %d removed, %d unchanged; %d new blob(s), %d bytes\n",
		c.Added, c.Changed, c.Removed, c.Unchanged, c.NewBlobs, c.NewBlobBytes)
	if r := res.Receipt; r != nil {
		fmt.Fprintf(w, "receipt #%d: kit sha256 %s, operator %s\n", r.Seq, r.KitSHA256, r.Operator)
		if !r.VerifiedAt.IsZero() {
			fmt.Fprintf(w, "clock pinned: verified as of %s, imported %s; reason: %s\n",
				r.VerifiedAt.Format(time.RFC3339), r.Time.Format(time.RFC3339), r.Reason)
		}
		fmt.Fprintf(w, "time: verify %s, stage %s, index %s, commit %s\n", round(res.Timings.Verify), round(res.Timings.Stage), round(res.Timings.Index), round(res.Timings.Commit))
	}
	return nil
}

func round(d time.Duration) time.Duration { return d.Round(time.Millisecond) }

// wallClock is the real clock, for timings.
type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// currentUser is the operator name when --operator is not given.
func currentUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if s := os.Getenv("USER"); s != "" {
		return s
	}
	return "unknown"
}
