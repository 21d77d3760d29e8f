package keys

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"math/big"
)

// ecdsaFromSeed derives a P-256 private key from 40 bytes of seed (the FIPS
// 186-5 A.2.1 "extra random bits" method: d = seed mod (n-1) + 1), so that a
// seeded reader gives the same key every time.
func ecdsaFromSeed(seed []byte) (*ecdsa.PrivateKey, error) {
	if len(seed) < 40 {
		return nil, errShortSeed
	}
	curve := elliptic.P256()
	n := new(big.Int).Sub(curve.Params().N, big.NewInt(1))
	d := new(big.Int).SetBytes(seed)
	d.Mod(d, n)
	d.Add(d, big.NewInt(1))
	b := make([]byte, 32)
	d.FillBytes(b)
	return ecdsa.ParseRawPrivateKey(curve, b)
}
