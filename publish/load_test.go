//go:build load

package publish

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/fixtures"
	"github.com/ferry-dev/ferry/store"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/errgroup"
)

// TestLoad is the site under load: one registry on loopback, runners
// importing the same kit at once, and gates attaching decisions at once
// to a few images (so that writers race on each .att tag). Run it with
// FERRY_LOAD=1 (FERRY_LOAD_RUNNERS, FERRY_LOAD_GATES, FERRY_LOAD_IMAGES
// change the defaults 20, 200, 10). It is built only with the load tag
// (make load), so that the test suite has nothing to skip.
func TestLoad(t *testing.T) {
	runners, gates, nimg := envInt("FERRY_LOAD_RUNNERS", 20), envInt("FERRY_LOAD_GATES", 200), envInt("FERRY_LOAD_IMAGES", 10)
	ctx := context.Background()
	reg := newRegistry(t)
	k := makeKits(t, 1)
	repo := reg.host + "/ferry/kits"
	if _, err := Publish(ctx, repo, Kit{Path: k.paths[1], Channel: "acme", Version: 1}, insecure); err != nil {
		t.Fatal(err)
	}

	// Runners.
	start := time.Now()
	blobsBefore := reg.blobGets.Load()
	dirs := make([]string, runners)
	var g errgroup.Group
	for i := range runners {
		dirs[i] = filepath.Join(t.TempDir(), "store")
		g.Go(func() error {
			st, err := store.Open(ctx, dirs[i], store.Options{})
			if err != nil {
				return err
			}
			im, err := Import(ctx, st, mustRef(t, "oci://"+repo+":acme"), importOpts(k.root), insecure)
			if err != nil {
				return fmt.Errorf("runner %d: %w", i, err)
			}
			if im.Result.Outcome != store.OutcomeActivated {
				return fmt.Errorf("runner %d: %s", i, im.Result.Outcome)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	imports := time.Since(start)
	blobGets := reg.blobGets.Load() - blobsBefore
	var first []byte
	for i, d := range dirs {
		st, _ := store.Open(ctx, d, store.Options{ReadOnly: true})
		in, err := st.Info(ctx, at)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(in.Channels)
		if i == 0 {
			first = b
		} else if string(b) != string(first) {
			t.Fatalf("runner %d's store differs:\n%s\n%s", i, b, first)
		}
	}

	// Gates.
	appRepo := reg.host + "/app/api"
	subjects := make([]v1.Hash, nimg)
	for i := range subjects {
		img, _ := random.Image(256, 1)
		subjects[i], _ = img.Digest()
		if err := remote.Write(mustRef(t, appRepo+"@"+subjects[i].String()), img, insecure.remote(ctx)...); err != nil {
			t.Fatal(err)
		}
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	const pt = "https://ferry.dev/gate/decision/v1"
	start = time.Now()
	var gg errgroup.Group
	gg.SetLimit(50)
	for i := range gates {
		gg.Go(func() error {
			sub := subjects[i%nimg]
			env := fixtures.DSSEEnvelope(key, fixtures.InTotoStatement(sub, pt, fmt.Appendf(nil, `{"gate":%d}`, i)))
			_, err := Attach(ctx, appRepo, sub, env, pt, insecure)
			return err
		})
	}
	if err := gg.Wait(); err != nil {
		t.Fatal(err)
	}
	attaches := time.Since(start)
	for _, sub := range subjects {
		got := attestations(t, appRepo, sub)
		want := gates / nimg
		if len(got.tag) != want || len(got.referrers) != want {
			t.Errorf("%s: .att holds %d layers, %d referrers; want %d each", sub, len(got.tag), len(got.referrers), want)
		}
		seen := map[string]bool{}
		for _, l := range got.tag {
			if seen[string(l.envelope)] {
				t.Errorf("%s: a duplicate attestation", sub)
			}
			seen[string(l.envelope)] = true
		}
	}
	t.Logf("%d runners imported the same kit in %s (%.1f imports/s, one store state, %.1f registry blob fetches per runner); "+
		"%d gates attached to %d images in %s (%.1f attaches/s); %d registry requests",
		runners, imports.Round(time.Millisecond), float64(runners)/imports.Seconds(), float64(blobGets)/float64(runners),
		gates, nimg, attaches.Round(time.Millisecond), float64(gates)/attaches.Seconds(), reg.requests.Load())
}

func envInt(name string, def int) int {
	var n int
	if _, err := fmt.Sscan(os.Getenv(name), &n); err != nil || n <= 0 {
		return def
	}
	return n
}
