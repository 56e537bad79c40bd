package disposal

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/hipaakit/hipaakit/phi"
)

// lateHold reports no hold at the first check and hold-late from then on:
// a hold placed while a shred is under way.
type lateHold struct {
	mu    sync.Mutex
	calls int
}

func (h *lateHold) SubjectHold(ctx context.Context, subject string, kinds []string) (bool, string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls++
	return h.calls > 1, "hold-late", nil
}

// Found in review: holds were checked once, before the subject lock and
// the key read, so a hold placed mid-shred was ignored.
func TestShredHonoursHoldPlacedMidShred(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil, nil, &lateHold{})
	sealed := f.seal(t, "patient-1", "dob", "1970-01-01")
	if _, err := f.shredder.Shred(ctx, "patient-1", "retention expired"); !errors.Is(err, ErrLegalHold) {
		t.Fatalf("Shred: %v, want ErrLegalHold", err)
	}
	if _, found, err := f.ledger.Lookup(ctx, "patient-1"); err != nil || found {
		t.Fatalf("disposal recorded despite the hold: %v %v", found, err)
	}
	if _, err := f.vault.Open(ctx, phi.Binding{Subject: "patient-1", Field: "dob"}, sealed); err != nil {
		t.Fatalf("keys destroyed despite the hold: %v", err)
	}
}

// TestRefusedShredReportsFailedAudit: a shred refused for a legal hold
// whose audit event cannot be written reports both the refusal and the
// audit failure, so the caller knows the trail lacks the refusal.
func TestRefusedShredReportsFailedAudit(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil, nil, holdSet{"patient-1": "hold-7"})
	f.seal(t, "patient-1", "dob", "1970-01-01")
	diskFull := errors.New("audit: disk full")
	f.audit.FailWith(diskFull)
	_, err := f.shredder.Shred(ctx, "patient-1", "retention expired")
	if !errors.Is(err, ErrLegalHold) || !errors.Is(err, diskFull) {
		t.Fatalf("Shred: %v, want ErrLegalHold joined with the audit failure", err)
	}
	if !strings.Contains(err.Error(), "not audited") {
		t.Fatalf("error %q does not say the refusal was not audited", err)
	}
}
