package pgaudit_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/pgaudit"
	"github.com/hipaakit/hipaakit/hipaakittest"
	"github.com/hipaakit/hipaakit/signing"
)

// Example wires the PostgreSQL trail: migrate, open this instance's writer,
// record, then query a patient's accounting of disclosures and verify. It
// needs a database, so it is compiled but not run; TestExampleFlow runs the
// same steps against the test database.
func Example() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, "postgres://audit_app@db.internal/app") // credentials from the environment
	if err != nil {
		panic(err)
	}
	defer pool.Close()
	var key ed25519.PrivateKey // the checkpoint signing key, from your key management
	fmt.Println(exampleFlow(ctx, pool, key, "api-pod-7"))
}

func exampleFlow(ctx context.Context, pool *pgxpool.Pool, key ed25519.PrivateKey, instance string) (string, error) {
	if err := pgaudit.Migrate(ctx, pool); err != nil {
		return "", err
	}
	w, err := pgaudit.Open(ctx, pool, pgaudit.Options{Stream: instance, Signer: key})
	if err != nil {
		return "", err
	}
	err = w.Write(ctx, audit.Event{Action: audit.ActionRead, Outcome: audit.OutcomeSuccess,
		Actor:  audit.Actor{UserID: "dr-lee", Role: "physician"},
		Target: audit.Target{RecordType: "chart", RecordID: "c-9", Subject: "p-42"}, Purpose: "treatment"})
	if err != nil {
		return "", err // no audit, no access
	}
	// a disclosure outside the covered entity, recorded after it happened
	err = audit.RecordDisclosure(ctx, w, audit.Event{
		Actor:     audit.Actor{UserID: "clerk-3", Role: "records"},
		Target:    audit.Target{RecordType: "immunization", RecordID: "i-1", Subject: "p-42"},
		Purpose:   "public_health",
		Recipient: audit.Recipient{Kind: audit.RecipientOrganization, Name: "County Health Dept", Address: "1 Main St"},
	})
	if err != nil {
		return "", err
	}
	if err := w.Close(ctx); err != nil {
		return "", err
	}
	store := pgaudit.NewStore(pool)
	acc, err := audit.AccountingOfDisclosures(ctx, store, audit.AccountingRequest{Subject: "p-42"})
	if err != nil {
		return "", err
	}
	keys, err := signing.NewKeySet(key.Public().(ed25519.PublicKey))
	if err != nil {
		return "", err
	}
	res, err := store.Verify(ctx, audit.VerifyOptions{Keys: keys})
	if err != nil {
		return "", err
	}
	if len(acc.Disclosures) != 1 { // the treatment read is not a disclosure (164.528(a)(1))
		return "", fmt.Errorf("%d disclosures", len(acc.Disclosures))
	}
	d := acc.Disclosures[0]
	return fmt.Sprintf("%s %s %s to %s (%s) for %s; %d stream(s) intact", d.Actor.UserID, d.Action, d.RecordType,
		d.Recipient.Name, d.Recipient.Address, d.Purpose, len(res.Streams)), nil
}

func TestExampleFlow(t *testing.T) {
	got, err := exampleFlow(context.Background(), hipaakittest.Postgres(t), newKey(t), "api-pod-7")
	if err != nil || got != "clerk-3 disclose immunization to County Health Dept (1 Main St) for public_health; 1 stream(s) intact" {
		t.Fatalf("%q %v", got, err)
	}
}
