package gate

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
)

func signedRecord(t *testing.T) (*Record, []byte, ed25519.PrivateKey) {
	t.Helper()
	rec := evaluate(t, baseInput(t, contractPolicy(t)))
	canon, err := rec.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	_, priv, err := ed25519.GenerateKey(bytes.NewReader(make([]byte, 64)))
	if err != nil {
		t.Fatal(err)
	}
	return rec, canon, priv
}

func TestSignVerify(t *testing.T) {
	rec, canon, priv := signedRecord(t)
	env, err := Sign(priv, rec, canon)
	if err != nil {
		t.Fatal(err)
	}
	env2, _ := Sign(priv, rec, canon)
	if !bytes.Equal(env, env2) {
		t.Error("ed25519 envelopes of the same record differ")
	}
	if bytes.Count(env, []byte("\n")) != 1 || env[len(env)-1] != '\n' {
		t.Error("the envelope is not one line of JSON")
	}
	v, err := VerifyEnvelope(env, priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	if v.ID != ID(canon) || !bytes.Equal(v.Canonical, canon) {
		t.Errorf("verified %s, want %s", v.ID, ID(canon))
	}
	if err := v.CheckRecordFile(append(canon, '\n')); err != nil {
		t.Error(err)
	}
	edited := bytes.Replace(canon, []byte(`"verdict":"block"`), []byte(`"verdict":"pass!"`), 1)
	if err := v.CheckRecordFile(edited); !errors.Is(err, ErrRecordTampered) {
		t.Errorf("an edited record file: %v", err)
	}

	// The statement names the image and the record.
	var e struct{ Payload string }
	if err := json.Unmarshal(env, &e); err != nil {
		t.Fatal(err)
	}
	payload, _ := base64.StdEncoding.DecodeString(e.Payload)
	var st statement
	if err := json.Unmarshal(payload, &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Subject) != 2 || st.Subject[0].Digest["sha256"] != "1111" || "sha256:"+st.Subject[1].Digest["sha256"] != ID(canon) {
		t.Errorf("subjects %+v", st.Subject)
	}

	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	envEC, err := Sign(ec, rec, canon)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyEnvelope(envEC, ec.Public()); err != nil {
		t.Errorf("ECDSA P-256: %v", err)
	}
	if _, err := VerifyEnvelope(envEC, priv.Public()); !errors.Is(err, ErrRecordTampered) {
		t.Errorf("the wrong key: %v", err)
	}
}

// Any one changed byte of the envelope fails verification.
func TestEnvelopeByteFlips(t *testing.T) {
	rec, canon, priv := signedRecord(t)
	env, err := Sign(priv, rec, canon)
	if err != nil {
		t.Fatal(err)
	}
	env = bytes.TrimSpace(env)
	accepted := 0
	for i := range env {
		mut := bytes.Clone(env)
		mut[i] ^= 0x01
		v, err := VerifyEnvelope(mut, priv.Public())
		if err == nil && !bytes.Equal(v.Canonical, canon) {
			t.Fatalf("byte %d: a different record verified", i)
		}
		if err == nil {
			accepted++
		}
	}
	// Flips that leave the meaning unchanged (e.g. the case of a JSON key
	// that encoding/json matches case-insensitively) may verify, but only
	// ever as the original record.
	t.Logf("%d of %d single-bit flips verified as the original record", accepted, len(env))
}
