// Package ocitest holds test helpers for OCI attestations: ggcr's
// in-memory registry on loopback and keyless cosign attestations signed by
// sigstore-go's VirtualSigstore. Only tests import it (it links
// sigstore-go's testing CA).
package ocitest

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"github.com/ferry-dev/ferry/format"
	"io"
	"log"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// Registry starts ggcr's in-memory registry (with the referrers API) on
// loopback, closed at cleanup, and returns its host:port.
func Registry(t testing.TB) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithReferrersSupport(true)))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return u.Host
}

// KeylessAttestationLayer signs statement keyless with vs (a Fulcio
// certificate for identity and issuer) and returns cosign's .att layer:
// the DSSE envelope with the certificate and Rekor bundle annotations.
func KeylessAttestationLayer(t testing.TB, vs *ca.VirtualSigstore, identity, issuer string, statement []byte, predicateType string) mutate.Addendum {
	t.Helper()
	ent, err := vs.Attest(identity, issuer, statement)
	if err != nil {
		t.Fatal(err)
	}
	sc, _ := ent.SignatureContent()
	env, err := json.Marshal(sc.EnvelopeContent().RawEnvelope())
	if err != nil {
		t.Fatal(err)
	}
	a := keylessAnnotations(t, vs, ent)
	a[format.AnnotationCosignSignature] = ""
	a[format.AnnotationPredicateType] = predicateType
	return mutate.Addendum{Layer: static.NewLayer(env, format.MediaDSSE), Annotations: a}
}

// KeylessSignatureLayer signs payload (a cosign simple-signing payload)
// keyless with vs and returns cosign's .sig layer with the signature,
// certificate and Rekor bundle annotations.
func KeylessSignatureLayer(t testing.TB, vs *ca.VirtualSigstore, identity, issuer string, payload []byte) mutate.Addendum {
	t.Helper()
	ent, err := vs.Sign(identity, issuer, payload)
	if err != nil {
		t.Fatal(err)
	}
	sc, _ := ent.SignatureContent()
	a := keylessAnnotations(t, vs, ent)
	a[format.AnnotationCosignSignature] = base64.StdEncoding.EncodeToString(sc.Signature())
	return mutate.Addendum{Layer: static.NewLayer(payload, format.MediaCosignSimpleSigning), Annotations: a}
}

// keylessAnnotations are cosign's certificate and Rekor bundle annotations
// for a VirtualSigstore entry.
func keylessAnnotations(t testing.TB, vs *ca.VirtualSigstore, ent *ca.TestEntity) map[string]string {
	t.Helper()
	vc, _ := ent.VerificationContent()
	certPEM, err := cryptoutils.MarshalCertificateToPEM(vc.Certificate())
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := ent.TlogEntries()
	tle := entries[0].TransparencyLogEntry()
	rp := tlog.RekorPayload{Body: base64.StdEncoding.EncodeToString(tle.CanonicalizedBody), IntegratedTime: tle.IntegratedTime,
		LogIndex: tle.LogIndex, LogID: hex.EncodeToString(tle.LogId.KeyId)}
	set, err := vs.RekorSignPayload(rp)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"SignedEntryTimestamp": set, "Payload": rp})
	return map[string]string{
		format.AnnotationCosignCertificate: string(certPEM),
		format.AnnotationCosignBundle:      string(b),
	}
}

// TrustedRootJSON is vs as a trusted_root.json. VirtualSigstore names its
// Rekor log by the hex string's bytes; a real root carries the raw key id.
func TrustedRootJSON(t testing.TB, vs *ca.VirtualSigstore) []byte {
	t.Helper()
	logs := map[string]*root.TransparencyLog{}
	for k, l := range vs.RekorLogs() {
		c := *l
		c.ID, _ = hex.DecodeString(k)
		logs[k] = &c
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, vs.FulcioCertificateAuthorities(), nil, vs.TimestampingAuthorities(), logs)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
