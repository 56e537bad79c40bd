package phi_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"log"
	"os"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/phi"
)

// Who changed a patient's date of birth, when, how, and what was it before?
// The trail holds the change with its values sealed; a permitted reviewer
// opens them, and each reveal is recorded with purpose audit_review.
func ExampleReviewer() {
	ctx := context.Background()
	dir, err := os.MkdirTemp(exampleRoot, "trail-*")
	if err != nil {
		log.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(nil)
	l, err := audit.OpenFileLog(ctx, dir, audit.FileOptions{Signer: key, Stream: "example"})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	trail := audit.NewFileTrail(l)
	v := newExampleVault(phi.VaultConfig{Audit: trail})

	// The application records a change with the prior and new value sealed.
	b := phi.Binding{Subject: "7d0c3a52-patient", Field: "dob", Record: "7d0c3a52-patient"}
	prior, _ := v.Seal(ctx, b, []byte("1970-01-01"))
	next, _ := v.Seal(ctx, b, []byte("1970-10-01"))
	if err := trail.Write(ctx, audit.Event{Action: audit.ActionUpdate, Outcome: audit.OutcomeSuccess,
		Actor:  audit.Actor{UserID: "u-41"},
		Origin: audit.Origin{Channel: audit.ChannelWeb, Route: "PUT /patients/{id}"},
		Target: audit.Target{RecordType: "patient", RecordID: b.Record, Field: "dob", Subject: b.Subject},
		Change: &audit.Change{New: next, Prior: prior}}); err != nil {
		log.Fatal(err)
	}

	names := audit.DirectoryFunc(func(_ context.Context, id string) (string, bool, error) {
		return map[string]string{"u-41": "Dr. Grey"}[id], id == "u-41", nil
	})
	h, err := audit.RecordHistory(ctx, trail, audit.HistoryRequest{Subject: b.Subject, Field: "dob", Directory: names})
	if err != nil {
		log.Fatal(err)
	}
	r, _ := phi.NewReviewer(phi.ReviewerConfig{Vault: v,
		Permitted: func(context.Context) bool { return true }}) // e.g. the user holds "audit:review_values"
	for _, e := range h.Entries {
		c, err := r.Review(ctx, e)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(e.Action, e.Field, "by", e.ActorName, "via", e.Route)
		fmt.Println("before:", c.Prior.Value.Reveal(), "after:", c.New.Value.Reveal())
		fmt.Println("printed:", c.Prior.Value)
	}
	reveals, _ := audit.RecordHistory(ctx, trail, audit.HistoryRequest{Subject: b.Subject, Actions: []audit.Action{audit.ActionReveal}})
	fmt.Println(len(reveals.Entries), "reveals recorded, purpose", reveals.Entries[0].Purpose)
	// Output:
	// update dob by Dr. Grey via PUT /patients/{id}
	// before: 1970-01-01 after: 1970-10-01
	// printed: [redacted]
	// 2 reveals recorded, purpose audit_review
}
