package retention_test

import (
	"context"
	"strings"
	"testing"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/retention"
)

// Errors never quote what they parse or what operators wrote, which may
// carry identifiers or PHI by mistake.
func TestErrorsDoNotEchoInput(t *testing.T) {
	const canary = "999-00-1234-CANARY"
	inputs := []string{
		`{"format":"hipaakit-legal-holds","version":1,"holds":[{"id":"` + canary + `"}]}`,
		`{"format":"hipaakit-legal-holds","version":1,"holds":[{"id":"hold-1","subject":"` + canary + ` x","reason":"r","set_by":"u","set_at":"2026-01-01T00:00:00Z"}]}`,
		`{"format":"` + canary + `"}`,
		canary,
	}
	for _, in := range inputs {
		if _, err := retention.ParseHolds([]byte(in)); err == nil || strings.Contains(err.Error(), canary) {
			t.Errorf("ParseHolds: %v", err)
		}
		if _, err := retention.ParseCursor([]byte(in)); err == nil || strings.Contains(err.Error(), canary) {
			t.Errorf("ParseCursor: %v", err)
		}
		if _, err := retention.ParsePolicyFile([]byte(in)); err == nil || strings.Contains(err.Error(), canary) {
			t.Errorf("ParsePolicyFile: %v", err)
		}
	}
	if _, err := retention.ParsePolicyFile([]byte(`{"format":"hipaakit-retention-policies","version":1,"policies":[{"kind":"` + canary + `","keep":"P1Y"}]}`)); err == nil || strings.Contains(err.Error(), canary) {
		t.Errorf("policy kind: %v", err)
	}
	if _, err := retention.ParsePeriod(canary); err == nil || strings.Contains(err.Error(), canary) {
		t.Errorf("ParsePeriod: %v", err)
	}
	hs, _ := retention.OpenFileHoldStore(t.TempDir())
	reg, err := retention.NewRegistry(retention.RegistryConfig{Holds: hs, Audit: audit.Discard{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, req := range []retention.HoldRequest{
		{Subject: canary + " bad", Reason: "r", SetBy: "u"},
		{Subject: "patient-1", Reason: canary + "\n", SetBy: "u"},
		{Kind: canary, Reason: "r", SetBy: "u"},
	} {
		if _, err := reg.Set(context.Background(), req); err == nil || strings.Contains(err.Error(), canary) {
			t.Errorf("Set: %v", err)
		}
	}
	if _, err := reg.Lift(context.Background(), canary, "u", "r"); err == nil || strings.Contains(err.Error(), canary) {
		t.Errorf("Lift: %v", err)
	}
}
