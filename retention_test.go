package hipaakit_test

import (
	"context"
	"errors"
	"testing"

	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/retention"
)

// subjects is a retention.Source over fixed subjects.
type subjects []retention.Subject

func (s subjects) Subjects(_ context.Context, after string, limit int) ([]retention.Subject, error) {
	var out []retention.Subject
	for _, sub := range s {
		if sub.ID > after && len(out) < limit {
			out = append(out, sub)
		}
	}
	return out, nil
}

// TestRetentionSweeper: the deployment's sweeper shreds a subject past its
// retention and keeps a held one.
func TestRetentionSweeper(t *testing.T) {
	cfg, clk := embedded(t, nil)
	d := open(t, cfg)
	ctx := context.Background()
	old := clk.Now().AddDate(-8, 0, 0)
	var src subjects
	sealed := map[string]phi.Sealed{}
	for _, id := range []string{"p-expired", "p-held"} {
		b := phi.Binding{Subject: id, Field: "name"}
		s, err := d.Vault.Seal(ctx, b, []byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		sealed[id] = s
		src = append(src, retention.Subject{ID: id, Records: []retention.Record{{ID: id + "-1", Kind: "visit", Subject: id, Created: old}}})
	}
	if _, err := d.Holds.Set(ctx, retention.HoldRequest{Subject: "p-held", Reason: "litigation", SetBy: "u-legal"}); err != nil {
		t.Fatal(err)
	}
	sw, err := d.RetentionSweeper(src, retention.MustPolicies(retention.Policy{Kind: "visit", Keep: retention.Period{Years: 6}}), "")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := sw.Sweep(ctx)
	if err != nil || rep.Shredded != 1 || rep.Held != 1 {
		t.Fatalf("Sweep: %+v %v", rep, err)
	}
	if _, err := d.Vault.Open(ctx, phi.Binding{Subject: "p-expired", Field: "name"}, sealed["p-expired"]); !errors.Is(err, phi.ErrShredded) {
		t.Fatalf("the expired subject opens: %v", err)
	}
	if _, err := d.Vault.Open(ctx, phi.Binding{Subject: "p-held", Field: "name"}, sealed["p-held"]); err != nil {
		t.Fatalf("the held subject: %v", err)
	}
}
