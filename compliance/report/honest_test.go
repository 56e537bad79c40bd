package report

import (
	"strings"
	"testing"
	"time"
)

// TestAuditNeedsRecentCheckpoint: audit controls are met only when every
// stream's events are covered by a signed checkpoint, or those after the
// last one are younger than a day; otherwise not met, the stream named.
func TestAuditNeedsRecentCheckpoint(t *testing.T) {
	cases := []struct {
		name    string
		streams []StreamCoverage
		gap     string // "" means met
	}{
		{"all covered, old checkpoint", []StreamCoverage{{Stream: "a", Records: 9, LastCheckpoint: reportNow.Add(-30 * 24 * time.Hour)}}, ""},
		{"recent tail", []StreamCoverage{{Stream: "a", Records: 9, LastCheckpoint: reportNow.Add(-time.Hour), AfterCheckpoint: 2}}, ""},
		{"old tail", []StreamCoverage{{Stream: "a", Records: 9, LastCheckpoint: reportNow.Add(-25 * time.Hour)},
			{Stream: "replica-2", Records: 9, LastCheckpoint: reportNow.Add(-25 * time.Hour), AfterCheckpoint: 4}},
			"stream replica-2: 4 events after its last signed checkpoint of 2026-11-21T11:00:00Z, older than 24h0m0s"},
		{"never checkpointed", []StreamCoverage{{Stream: "b", Records: 3, AfterCheckpoint: 3}}, "stream b: 3 events and no signed checkpoint"},
		{"nothing read", nil, "no audit stream was read"},
	}
	for _, c := range cases {
		ev := goodEvidence()
		ev.Audit.Streams = c.streams
		r := rowOf(t, Build(ev), "164.312(b)")
		if c.gap == "" {
			if r.Status != Met {
				t.Errorf("%s: %s %v", c.name, r.Status, r.Gaps)
			}
			continue
		}
		if r.Status != NotMet || !strings.Contains(strings.Join(r.Gaps, "\n"), c.gap) {
			t.Errorf("%s: %s %q, want not met with %q", c.name, r.Status, r.Gaps, c.gap)
		}
	}
}

// TestEncryptionNeedsKeyApart: a key inside, or beside, the data directory
// is not met with the gap named; KMS and a key elsewhere are met.
func TestEncryptionNeedsKeyApart(t *testing.T) {
	for name, c := range map[string]struct {
		e   EncryptionEvidence
		gap string
	}{
		"kms":       {EncryptionEvidence{KEK: "aws-kms:k", KeyStore: "postgresql"}, ""},
		"elsewhere": {EncryptionEvidence{KEK: "local", KeyStore: "file"}, ""},
		"beside":    {EncryptionEvidence{KEK: "local", KeyStore: "file", KeyBesideDataDir: true}, "sits beside the data directory"},
		"inside":    {EncryptionEvidence{KEK: "local", KeyStore: "file", KeyInDataDir: true}, "inside the data directory"},
	} {
		ev := goodEvidence()
		ev.Encryption = &c.e
		r := rowOf(t, Build(ev), "164.312(a)(2)(iv)")
		if (c.gap == "") != (r.Status == Met) || !strings.Contains(strings.Join(r.Gaps, "\n"), c.gap) {
			t.Errorf("%s: %s %q, want gap %q", name, r.Status, r.Gaps, c.gap)
		}
	}
}

func rowOf(t *testing.T, r Report, control string) Row {
	t.Helper()
	for _, row := range r.Rows {
		if row.Control == control {
			return row
		}
	}
	t.Fatalf("no row %s", control)
	return Row{}
}
