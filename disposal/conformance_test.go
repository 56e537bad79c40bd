package disposal_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"path/filepath"
	"testing"

	"github.com/hipaakit/hipaakit/disposal"
	"github.com/hipaakit/hipaakit/disposal/ledgertest"
)

func TestFileLedgerStoreConformance(t *testing.T) {
	ledgertest.Run(t, func(t *testing.T) disposal.LedgerStore {
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		s, err := disposal.OpenFileLedgerStore(context.Background(), filepath.Join(t.TempDir(), "ledger"), disposal.FileLedgerOptions{Signer: priv})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
