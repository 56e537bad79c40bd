package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/compliance/report"
)

// FuzzOutputsEscapeControls feeds a hostile value into every text field
// and through every text output path (audit CSV export, the accounting of
// disclosures, the compliance report in Markdown and HTML, EscapeText
// itself) and checks that no raw control byte, DEL, C1 control, bidi
// override or other invisible format character, nor invalid UTF-8,
// reaches the output.
func FuzzOutputsEscapeControls(f *testing.F) {
	for _, s := range []string{hostileText, "\x1b]0;title\x07", "\u202e\u2066\u2069\u200f", "\x9b", "\xc2\x9b2J", "a\\x1b", "=cmd", "\x00\x7f\r\t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if r, bad := rawControl(audit.EscapeText(v)); bad || !utf8.ValidString(audit.EscapeText(v)) {
			t.Fatalf("EscapeText(%q) kept %U", v, r)
		}
		e := audit.Event{Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Action: audit.ActionDisclose, Outcome: audit.OutcomeSuccess,
			Reason: v, Purpose: "p" + v,
			Actor:     audit.Actor{UserID: v, TenantID: v, Role: v, SessionID: v, Emergency: true, EmergencyReason: v},
			Origin:    audit.Origin{Channel: audit.Channel(v), ClientIP: v, UserAgent: v, RequestID: v, Route: v},
			Target:    audit.Target{RecordType: v, RecordID: v, Field: v, Subject: "s"},
			Recipient: audit.Recipient{ID: v, Name: "n" + v, Address: v},
			Attrs:     map[string]string{"k": v},
		}
		if e.Validate() != nil {
			return // not storable (invalid UTF-8, too long): never reaches an output
		}
		c, _ := audit.NewChain(audit.ChainConfig{Stream: "s"})
		r, err := c.Next(e)
		if err != nil {
			t.Fatal(err)
		}
		check := func(path, out string) {
			if rr, bad := rawControl(out); bad || !utf8.ValidString(out) {
				t.Fatalf("%s printed raw %U for %q:\n%q", path, rr, v, out)
			}
		}
		var buf bytes.Buffer
		if _, err := audit.Export(context.Background(), &buf, audit.MemorySearcher([]audit.Record{r}), audit.Filter{}, audit.ExportCSV); err != nil {
			t.Fatal(err)
		}
		check("export csv", buf.String())
		var out, errOut bytes.Buffer
		acc, err := audit.AccountingOfDisclosures(context.Background(), audit.MemorySearcher([]audit.Record{r}), audit.AccountingRequest{Subject: "s", Now: e.Time.Add(time.Hour)})
		if err != nil || len(acc.Disclosures) != 1 {
			t.Fatalf("%v %d", err, len(acc.Disclosures))
		}
		if code := writeAccounting(&cli{stdout: &out, stderr: &errOut}, acc); code != exitOK {
			t.Fatal(errOut.String())
		}
		check("disclosures", out.String())
		rep := report.Report{Service: v, GeneratedAt: e.Time, Notes: []string{v},
			Rows:           []report.Row{{Control: v, Title: v, Status: report.NotMet, Evidence: []string{v}, Gaps: []string{v}}},
			Organisational: []report.Row{{Control: v, Title: v, Status: report.NotJudged}}}
		var md, html bytes.Buffer
		if err := rep.WriteMarkdown(&md); err != nil {
			t.Fatal(err)
		}
		check("report markdown", md.String())
		if strings.Count(md.String(), "\n| ") != 2 { // header row, one control row: no row forged
			t.Fatalf("markdown rows forged by %q:\n%s", v, md.String())
		}
		if err := rep.WriteHTML(&html); err != nil {
			t.Fatal(err)
		}
		check("report html", html.String())
	})
}
