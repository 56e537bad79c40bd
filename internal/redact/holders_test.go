package redact_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/archive"
	"github.com/hipaakit/hipaakit/audit/audittest"
	"github.com/hipaakit/hipaakit/audit/pgaudit"
	"github.com/hipaakit/hipaakit/audit/witness"
	"github.com/hipaakit/hipaakit/auth"
	authmem "github.com/hipaakit/hipaakit/auth/memstore"
	"github.com/hipaakit/hipaakit/auth/totp"
	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/disposal"
	"github.com/hipaakit/hipaakit/disposal/pgledger"
	"github.com/hipaakit/hipaakit/internal/redact"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/awskms"
	"github.com/hipaakit/hipaakit/phi/localkek"
	"github.com/hipaakit/hipaakit/phi/memstore"
	"github.com/hipaakit/hipaakit/retention"
	"github.com/hipaakit/hipaakit/retention/pgretention"
	"github.com/hipaakit/hipaakit/signing"
)

// TestEveryKeyHolderRedacts is the module-wide list of exported types that
// hold key material, credentials or a client holding them. Each is built
// around canary secrets, in value and pointer form where it has both, and
// printed under every fmt verb, nested in a struct, through slog's text
// and JSON handlers and through encoding/json (redact.Leaks).
func TestEveryKeyHolderRedacts(t *testing.T) {
	ctx := context.Background()
	master := bytes.Repeat([]byte("MASTERKEY-CANARY"), 2)
	signKey := ed25519.NewKeyFromSeed(bytes.Repeat([]byte("SIGNKEY-CANARY!!"), 2))
	canaries := append(redact.Canaries(master), redact.Canaries(signKey)...)
	canaries = append(canaries, "AWS-SECRET-CANARY")

	kek, err := localkek.New(master)
	must(t, err)
	keys := memstore.New(memstore.Config{})
	vaultCfg := phi.VaultConfig{Keys: keys, KEK: kek, BlindIndexes: map[string]phi.Normalizer{"email": phi.NormalizeEmail}}
	vault, err := phi.NewVault(vaultCfg)
	must(t, err)
	_, err = vault.BlindIndex(ctx, "email", []byte("a@example.com"))
	must(t, err)
	client := kms.NewFromConfig(aws.Config{Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "AWS-SECRET-CANARY", "")})
	kmsKEK, err := awskms.NewWithClient(client, awskms.Config{KeyID: "key-1"})
	must(t, err)

	sealer, err := auth.NewKeySealer(master)
	must(t, err)
	authCfg := auth.Config{Users: authmem.NewUserStore(), Sessions: authmem.NewSessionStore(),
		Emergencies: authmem.NewEmergencyLog(), Sealer: sealer, ChallengeKey: master, Audit: &audittest.Memory{}}
	authSvc, err := auth.New(authCfg)
	must(t, err)

	fileOpts := audit.FileOptions{Signer: signKey}
	fileLog, err := audit.OpenFileLog(ctx, t.TempDir(), fileOpts)
	must(t, err)
	t.Cleanup(func() { fileLog.Close() })
	mem, err := audittest.NewMemory("s", signKey)
	must(t, err)

	ledgerOpts := disposal.FileLedgerOptions{Signer: signKey}
	ledgerStore, err := disposal.OpenFileLedgerStore(ctx, t.TempDir(), ledgerOpts)
	must(t, err)
	t.Cleanup(func() { ledgerStore.Close() })
	ledger := disposal.NewLedger(ledgerStore)
	shredCfg := disposal.Config{Vault: vault, Keys: keys, Ledger: ledger, Audit: mem, Holds: disposal.NoHolds{}, SigningKey: signKey}
	shredder, err := disposal.New(shredCfg)
	must(t, err)
	sweepCfg := retention.SweeperConfig{Disposer: shredder}
	privKey, err := signing.NewPrivateKey(signKey)
	must(t, err)

	enrollment, err := totp.Config{Issuer: "AWS-SECRET-CANARY"}.Enroll("AWS-SECRET-CANARY")
	must(t, err)

	cases := []struct {
		v    any
		name string
	}{
		{vault, "phi.Vault"},
		{vaultCfg, "phi.VaultConfig"}, {&vaultCfg, "phi.VaultConfig"},
		{privKey, "signing.PrivateKey"}, {*privKey, "signing.PrivateKey"},
		{kek, "localkek.KEK"}, {*kek, "localkek.KEK"},
		{kmsKEK, "awskms.KEK"}, {*kmsKEK, "awskms.KEK"},
		{sealer, "auth.KeySealer"},
		{authCfg, "auth.Config"}, {&authCfg, "auth.Config"},
		{authSvc, "auth.Service"},
		{hipaakit.AuthConfig{ChallengeKey: master}, "hipaakit.AuthConfig"},
		{enrollment, "totp.Enrollment"}, {*enrollment, "totp.Enrollment"},
		{totp.Import{Secret: "AWS-SECRET-CANARY"}, "totp.Import"},
		{fileOpts, "audit.FileOptions"}, {&fileOpts, "audit.FileOptions"},
		{fileLog, "audit.FileLog"},
		{mem, "audittest.Memory"},
		{pgaudit.Options{Signer: signKey}, "pgaudit.Options"},
		{pgaudit.PurgeOptions{Signer: signKey}, "pgaudit.PurgeOptions"},
		{&pgaudit.Writer{}, "pgaudit.Writer"},
		{witness.Config{Signer: signKey}, "witness.Config"},
		{&witness.Witness{}, "witness.Witness"},
		{archive.Config{Signer: signKey}, "archive.Config"},
		{&archive.Archive{}, "archive.Archive"},
		{pgretention.AuditPurgeOptions{Signer: signKey}, "pgretention.AuditPurgeOptions"},
		{ledgerOpts, "disposal.FileLedgerOptions"},
		{ledgerStore, "disposal.FileLedgerStore"},
		{ledger, "disposal.Ledger"},
		{shredCfg, "disposal.Config"},
		{shredder, "disposal.Shredder"}, {*shredder, "disposal.Shredder"},
		{pgledger.Options{Signer: signKey}, "pgledger.Options"},
		{&pgledger.Store{}, "pgledger.Store"}, {pgledger.Store{}, "pgledger.Store"},
		{sweepCfg, "retention.SweeperConfig"},
		{&retention.Sweeper{}, "retention.Sweeper"},
		{&backup.Repository{}, "backup.Repository"}, {backup.Repository{}, "backup.Repository"},
	}
	for _, c := range cases {
		if bad := redact.Leaks(c.v, c.name, canaries...); len(bad) > 0 {
			t.Errorf("%T leaks: %v", c.v, bad)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
