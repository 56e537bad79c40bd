package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/signing"
)

// hostileText carries every kind of character that could rewrite an
// auditor's terminal: ESC sequences, BEL, C1 CSI, DEL, bidi overrides.
const hostileText = "ok\x1b[2K\x1b[1A\rforged line\x07\u009b31m\x7f\u202emoc.live\u2066x\u2069\u200b\n"

// rawControl reports the first character in s that EscapeText escapes,
// other than the newlines and commas a CSV or text layout uses itself.
func rawControl(s string) (rune, bool) {
	for _, r := range s {
		if r == '\n' {
			continue
		}
		if audit.EscapeText(string(r)) != string(r) && r != '\\' {
			return r, true
		}
	}
	return 0, false
}

func TestCLIDisclosuresEscapeAndNameRecipients(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	dir := filepath.Join(t.TempDir(), "log")
	l, err := audit.OpenFileLog(context.Background(), dir, audit.FileOptions{Signer: key})
	if err != nil {
		t.Fatal(err)
	}
	e := audit.Event{Time: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC),
		Actor:     audit.Actor{UserID: "u-1", Emergency: true, EmergencyReason: hostileText},
		Target:    audit.Target{Subject: "p-9", RecordType: "chart", RecordID: hostileText},
		Purpose:   "public_health",
		Recipient: audit.Recipient{Kind: audit.RecipientOrganization, Name: "County Health Dept", Address: hostileText},
	}
	if err := audit.RecordDisclosure(context.Background(), l, e); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	pub := filepath.Join(t.TempDir(), "audit.pub")
	pubPEM, _ := signing.EncodePublicKey(key.Public().(ed25519.PublicKey))
	if err := os.WriteFile(pub, pubPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, nil, "audit", "disclosures", "--key", pub, "--subject", "p-9", "--until", "2027-01-01", dir)
	if code != exitOK {
		t.Fatalf("%d %q", code, errOut)
	}
	if r, bad := rawControl(out); bad {
		t.Fatalf("disclosures printed raw %U: %q", r, out)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("%q %v", rows, err)
	}
	col := func(name string) string {
		for i, h := range rows[0] {
			if h == name {
				return rows[1][i]
			}
		}
		t.Fatalf("no column %s", name)
		return ""
	}
	if col("recipient_name") != "County Health Dept" || col("recipient_kind") != "organization" || col("action") != "disclose" {
		t.Fatalf("%q", rows)
	}
	if want := audit.EscapeText(hostileText); col("emergency_reason") != want || !strings.Contains(want, `\x1b[2K`) || !strings.Contains(want, `\u202e`) {
		t.Fatalf("emergency_reason %q, want %q", col("emergency_reason"), want)
	}
	code, out, errOut = runCLI(t, nil, "audit", "query", "--key", pub, "--format", "csv", "--subject", "p-9", dir)
	if code != exitOK {
		t.Fatalf("%d %q", code, errOut)
	}
	if r, bad := rawControl(out); bad {
		t.Fatalf("query csv printed raw %U: %q", r, out)
	}
}

func TestHoldListCellsEscaped(t *testing.T) {
	if r, bad := rawControl(drDash(hostileText)); bad {
		t.Fatalf("hold list cell keeps raw %U", r)
	}
	if drDash("") != "*" {
		t.Fatal("empty cell")
	}
}
