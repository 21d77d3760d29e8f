package storescan

import (
	"context"
	"crypto/sha256"
	"fmt"
	"runtime"
	"sync"

	"github.com/ferry-dev/ferry/images"
	"github.com/ferry-dev/ferry/internal/parallel"
	"github.com/ferry-dev/ferry/osv"
	"github.com/ferry-dev/ferry/scan"
	"github.com/ferry-dev/ferry/store"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/ossf/osv-schema/bindings/go/osvschema"
)

// Scan takes the package inventory of target (an image of s when it is
// sha256:…) and matches it against the advisories of s. The match runs in
// one read transaction, so it sees one state of the store even while an
// import commits. opts.Images is set to the store's images. then, if not
// nil, runs in the same transaction after the match: what else a caller
// reads of the store about the report (its VEX consensus) sees the same
// state.
func Scan(ctx context.Context, s *store.Store, target string, opts scan.Options, then Then) (*scan.Report, error) {
	return ScanShared(ctx, s, target, opts, nil, then)
}

// ScanShared is Scan with the advisory records parsed by earlier scans
// (the other images of a release) taken from, and added to, shared; nil
// shares nothing.
func ScanShared(ctx context.Context, s *store.Store, target string, opts scan.Options, shared *Parsed, then Then) (*scan.Report, error) {
	t, err := scan.ParseTarget(target)
	if err != nil {
		return nil, err
	}
	opts.Images = Images{s}
	inv, err := scan.Inventory(ctx, t, opts)
	if err != nil {
		return nil, err
	}
	var rep *scan.Report
	err = s.View(ctx, func(r *store.Reader) error {
		var err error
		adv := NewAdvisories(r)
		adv.shared = shared
		rep, err = scan.MatchInventory(ctx, inv, adv, opts)
		if err != nil || then == nil {
			return err
		}
		return then(r, rep)
	})
	if err != nil {
		return nil, err
	}
	return rep, nil
}

// Then is what Scan runs after the match, in its read transaction.
type Then func(r *store.Reader, rep *scan.Report) error

// Images opens the images kits imported into a store: scan.ImageSource.
type Images struct{ S *store.Store }

var _ scan.ImageSource = Images{}

// Image implements scan.ImageSource. digest names an image of the store
// (or a name exactly one image carries); its blobs are re-hashed as they
// are read.
func (si Images) Image(ctx context.Context, digest string) (v1.Image, error) {
	im, err := si.S.ResolveImage(ctx, digest)
	if err != nil {
		return nil, err
	}
	h, err := v1.NewHash(im.Digest)
	if err != nil {
		return nil, fmt.Errorf("image %s in the store: %w", im.Digest, err)
	}
	return images.Image(si.S, h)
}

// Advisories adapts a store.Reader (valid inside one Store.View) to
// scan.Advisories, with the store's KEV and EPSS as the optional
// abilities. Records are parsed once per Advisories. It is safe for
// concurrent use (scan.Advisories asks for it): calls take turns, as the
// read transaction under them may not be shared.
type Advisories struct {
	mu     sync.Mutex
	r      *store.Reader
	parsed map[string]*osvschema.Vulnerability
	shared *Parsed
	// matchable maps a record ForPackage decoded in part to its bytes
	// (the store's, valid in the read transaction); whole, to the record
	// decoded whole, once asked for (scan.Matchable).
	matchable map[*osvschema.Vulnerability]*store.Advisory
	whole     map[*osvschema.Vulnerability]*osvschema.Vulnerability
}

// Parsed holds advisory records parsed by one scan for the next ones, by
// the sha256 of the record's bytes (so a record that changed in between
// is parsed again). The parsed records are only read. It is safe for
// concurrent use.
type Parsed struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]*osvschema.Vulnerability
}

// NewParsed returns an empty Parsed.
func NewParsed() *Parsed {
	return &Parsed{m: map[[sha256.Size]byte]*osvschema.Vulnerability{}}
}

func (p *Parsed) get(k [sha256.Size]byte) (*osvschema.Vulnerability, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, ok := p.m[k]
	return v, ok
}

func (p *Parsed) put(k [sha256.Size]byte, v *osvschema.Vulnerability) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.m[k] = v
}

var (
	_ scan.Advisories = (*Advisories)(nil)
	_ scan.Matchable  = (*Advisories)(nil)
	_ scan.KEV        = (*Advisories)(nil)
	_ scan.EPSS       = (*Advisories)(nil)
)

// NewAdvisories returns the adapter over r.
func NewAdvisories(r *store.Reader) *Advisories {
	return &Advisories{
		r: r, parsed: map[string]*osvschema.Vulnerability{},
		matchable: map[*osvschema.Vulnerability]*store.Advisory{}, whole: map[*osvschema.Vulnerability]*osvschema.Vulnerability{},
	}
}

// parallelParseMin is the number of records per extra parsing goroutine:
// below it, starting one costs more than it saves.
const parallelParseMin = 8

// ForPackage implements scan.Advisories. The records come in the store's
// order. An invalid record fails with its id and channel. The store is
// read under the lock (the read transaction may not be shared); records
// are parsed outside it, so that the matcher's calls for different
// packages parse at the same time.
func (a *Advisories) ForPackage(ecosystem, name string) ([]*osvschema.Vulnerability, error) {
	a.mu.Lock()
	advs, err := a.r.AdvisoriesForPackageInPlace(ecosystem, name)
	if err != nil {
		a.mu.Unlock()
		return nil, err
	}
	out := make([]*osvschema.Vulnerability, len(advs))
	keys := make([]string, len(advs))
	var todo []int
	for i := range advs {
		keys[i] = advs[i].Channel + "\x00" + advs[i].Source + "\x00" + advs[i].ID
		if v, ok := a.parsed[keys[i]]; ok {
			out[i] = v
			continue
		}
		todo = append(todo, i)
	}
	a.mu.Unlock()
	if a.shared != nil {
		left := todo[:0]
		for _, i := range todo {
			if v, ok := a.shared.get(sha256.Sum256(advs[i].Record)); ok {
				out[i] = v
				continue
			}
			left = append(left, i)
		}
		todo = left
	}
	// Parsing is most of a scan's matching time, and a few packages
	// (stdlib, x/net) carry most records: parse them on every CPU, and
	// only what matching reads (most records match no package: Whole
	// parses the rest of those that do). The records are the store's
	// mapped bytes, which stay while the read transaction lasts (every
	// call is inside it) and which the parsed records do not keep; the
	// transaction itself is not touched here.
	workers := min(runtime.GOMAXPROCS(0), len(todo)/parallelParseMin)
	vs, err := parallel.Map(context.Background(), workers, todo, func(_ context.Context, i int) (*osvschema.Vulnerability, error) {
		v, err := osv.ParseMatchable(advs[i].Record)
		if err != nil {
			return nil, fmt.Errorf("advisory %s (channel %s, source %s): %w", advs[i].ID, advs[i].Channel, advs[i].Source, err)
		}
		return v, nil
	})
	if err != nil {
		return nil, err
	}
	for j, i := range todo {
		out[i] = vs[j]
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, i := range todo {
		a.matchable[out[i]] = &advs[i]
	}
	for i, v := range out {
		// A record parsed meanwhile by another call stays the one every
		// call returns.
		if old, ok := a.parsed[keys[i]]; ok {
			out[i] = old
		} else {
			a.parsed[keys[i]] = v
		}
	}
	return out, nil
}

// Whole implements scan.Matchable: the record v whole, parsed and
// validated (osv.Parse) once.
func (a *Advisories) Whole(v *osvschema.Vulnerability) (*osvschema.Vulnerability, error) {
	a.mu.Lock()
	adv, partial := a.matchable[v]
	w, done := a.whole[v]
	a.mu.Unlock()
	switch {
	case !partial:
		return v, nil
	case done:
		return w, nil
	}
	var sum [sha256.Size]byte
	if a.shared != nil {
		sum = sha256.Sum256(adv.Record)
		if w, ok := a.shared.get(sum); ok {
			return a.keepWhole(v, w), nil
		}
	}
	w, err := adv.Vulnerability()
	if err != nil {
		return nil, err
	}
	if a.shared != nil {
		a.shared.put(sum, w)
	}
	return a.keepWhole(v, w), nil
}

// keepWhole records w as the whole of v, unless another call did first.
func (a *Advisories) keepWhole(v, w *osvschema.Vulnerability) *osvschema.Vulnerability {
	a.mu.Lock()
	defer a.mu.Unlock()
	if old, ok := a.whole[v]; ok {
		return old
	}
	a.whole[v] = w
	return w
}

// Ecosystems implements scan.Advisories.
func (a *Advisories) Ecosystems() ([]string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
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
func (a *Advisories) KEV(cve string) (bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok, err := a.r.KEV(cve)
	return ok, err
}

// EPSS implements scan.EPSS.
func (a *Advisories) EPSS(cve string) (float64, float64, bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok, err := a.r.EPSS(cve)
	if err != nil || !ok {
		return 0, 0, false, err
	}
	return s.EPSS, s.Percentile, true, nil
}
