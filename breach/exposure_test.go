package breach_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/breach"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/localkek"
	"github.com/hipaakit/hipaakit/phi/memstore"
)

// TestSealedOnlyExposureEndToEnd: the safe harbor rests on events the SDK
// writes. A Vault audits into a real trail; a compromised account is
// served one patient's values sealed only (phi.Vault.ServeSealed), a
// second's sealed and then revealed, a third's revealed. Scoping the
// verified trail excludes exactly the first (secured) and lists the
// others as plaintext exposures; with the KEK compromised nobody is
// excluded.
func TestSealedOnlyExposureEndToEnd(t *testing.T) {
	ctx := context.Background()
	tr := fileTrail(t)
	defer tr.close()
	kek, err := localkek.New(bytes.Repeat([]byte{7}, localkek.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	v, err := phi.NewVault(phi.VaultConfig{Keys: memstore.New(memstore.Config{}), KEK: kek, Audit: tr.w,
		AuditInfo: func(context.Context) (audit.Actor, audit.Origin) {
			return audit.Actor{UserID: compromised, Role: "nurse"}, audit.Origin{Channel: audit.ChannelAPI}
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	since := time.Now().Add(-time.Hour)
	seal := func(subject string) (phi.Binding, phi.Sealed) {
		b := phi.Binding{Subject: subject, Field: "dob", Record: "r-" + subject}
		s, err := v.Seal(ctx, b, []byte("1970-01-02"))
		if err != nil {
			t.Fatal(err)
		}
		return b, s
	}
	for _, p := range []string{"p-sealed", "p-both"} {
		b, s := seal(p)
		if _, err := v.ServeSealed(ctx, b, s, "replication"); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"p-both", "p-plain"} {
		b, s := seal(p)
		if _, err := v.Reveal(ctx, b, s, "treatment"); err != nil {
			t.Fatal(err)
		}
	}
	scope := func(kekCompromised bool) *breach.Scope {
		sc, err := breach.ComputeScope(ctx, breach.ScopeRequest{Entries: tr.entries, Verify: audit.VerifyOptions{Keys: tr.keys},
			Indicators:     breach.Indicators{Actors: []string{compromised}, Since: since, Until: time.Now().Add(time.Hour)},
			KEKCompromised: kekCompromised})
		if err != nil {
			t.Fatal(err)
		}
		return sc
	}
	sc := scope(false)
	if len(sc.Excluded) != 1 || sc.Excluded[0].Subject != "p-sealed" || sc.Excluded[0].Reason != breach.ReasonSecured ||
		sc.Excluded[0].Exposure != breach.ExposureSealed {
		t.Fatalf("excluded: %+v", sc.Excluded)
	}
	if len(sc.Affected) != 2 || sc.Affected[0].Subject != "p-both" || sc.Affected[1].Subject != "p-plain" {
		t.Fatalf("affected: %+v", sc.Affected)
	}
	for _, s := range sc.Affected {
		if s.Exposure != breach.ExposurePlaintext {
			t.Fatalf("%s: exposure %s", s.Subject, s.Exposure)
		}
	}
	if sc := scope(true); len(sc.Excluded) != 0 || len(sc.Affected) != 3 {
		t.Fatalf("KEK compromised: %d affected, %d excluded", len(sc.Affected), len(sc.Excluded))
	}
}
