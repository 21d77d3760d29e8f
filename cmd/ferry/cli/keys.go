package cli

import (
	"crypto"
	"crypto/rand"
	"fmt"
	"os"
	"strings"

	"github.com/ferry-dev/ferry/keys"
	"github.com/spf13/cobra"
)

func newKeysCmd() *cobra.Command {
	c := &cobra.Command{Use: "keys", Short: "Generate and manage signing keys"}
	var o struct {
		out, name, alg string
		json           bool
	}
	gen := &cobra.Command{
		Use:   "generate --out DIR --name NAME [--algorithm ed25519|ecdsa-p256]",
		Short: "Generate a key pair: NAME.key (PKCS#8, mode 0600) and NAME.pub",
		Example: `  ferry keys generate --out keys --name root
  ferry keys generate --out keys --name signer --algorithm ecdsa-p256`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.out == "" || o.name == "" {
				return usagef("--out and --name are required")
			}
			alg, err := keys.ParseAlgorithm(o.alg)
			if err != nil {
				return usageErr{err}
			}
			priv, err := keys.Generate(alg, rand.Reader)
			if err != nil {
				return err
			}
			privPath, pubPath, err := keys.WritePair(o.out, o.name, priv)
			if err != nil {
				return err
			}
			id, err := keys.ID(priv.Public())
			if err != nil {
				return err
			}
			if o.json {
				return writeJSON(cmd.OutOrStdout(), struct {
					PrivateKey string `json:"private_key"`
					PublicKey  string `json:"public_key"`
					KeyID      string `json:"key_id"`
					Algorithm  string `json:"algorithm"`
				}{privPath, pubPath, id, string(alg)})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "private key  %s (mode 0600: keep it offline)\npublic key   %s\nkey id       %s\nalgorithm    %s\n", privPath, pubPath, id, alg)
			return nil
		},
	}
	gen.Flags().StringVar(&o.out, "out", "", "directory to write the key pair to")
	gen.Flags().StringVar(&o.name, "name", "", "base name of the key files")
	gen.Flags().BoolVar(&o.json, "json", false, "print the paths, key id and algorithm as JSON")
	gen.Flags().StringVar(&o.alg, "algorithm", string(keys.Ed25519), "ed25519 or ecdsa-p256 (ECDSA signatures are randomised: kits are then not byte-reproducible)")
	c.AddCommand(gen)
	return c
}

// loadPrivateKey reads a private key from a file, or from an environment
// variable with "env:NAME".
func loadPrivateKey(ref string) (crypto.Signer, error) {
	if name, ok := strings.CutPrefix(ref, "env:"); ok {
		v := os.Getenv(name)
		if v == "" {
			return nil, usagef("environment variable %s (named by %q) is empty", name, ref)
		}
		return keys.ParsePrivate("$"+name, []byte(v))
	}
	k, err := keys.LoadPrivate(ref)
	return k, keyFileError(ref, err)
}

// loadPublicKey reads a public key; a private key file is accepted too and
// only its public half is used.
func loadPublicKey(ref string) (crypto.PublicKey, error) {
	if !strings.HasPrefix(ref, "env:") {
		if data, err := os.ReadFile(ref); err == nil && !keys.IsPrivatePEM(data) {
			k, err := keys.ParsePublic(ref, data)
			return k, keyFileError(ref, err)
		}
	}
	priv, err := loadPrivateKey(ref)
	if err != nil {
		return nil, err
	}
	return priv.Public(), nil
}
