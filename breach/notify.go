package breach

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/phi"
)

// Resolver is the application's directory of patients, as breach needs
// it: Locate for counting (State, whether contact details suffice; no
// contact details), Contact for the mailing list, which Manager calls only
// inside RevealContacts after auditing the reveal.
type Resolver interface {
	Locate(ctx context.Context, subject string) (Residence, error)
	Contact(ctx context.Context, subject string) (Contact, error)
}

// Contact is where to send an individual's notice (164.404(d)(1): written
// notice by first-class mail to the last known address, or e-mail if the
// individual agreed). Its fields are phi.Text, which print, log and marshal
// as redacted; only a mailing list written by RevealContacts holds them.
type Contact struct {
	Name    phi.Text
	Address phi.Text
	Email   phi.Text
}

// MailingFormat is the encoding of a mailing list.
type MailingFormat string

// Mailing list formats.
const (
	MailingCSV  MailingFormat = "csv"
	MailingJSON MailingFormat = "json"
)

// MailingRequest asks for the mailing list of an incident's notices.
type MailingRequest struct {
	// Scope is the incident's scope; its affected subjects are listed.
	Scope *Scope
	// Recipient is who receives the list (the mail house): the export is
	// recorded as a disclosure to it, per subject. Name is required.
	Recipient audit.Recipient
	// Format is MailingCSV (the default) or MailingJSON.
	Format MailingFormat
}

// mailingColumns are the CSV columns of a mailing list.
var mailingColumns = []string{"incident", "subject", "name", "address", "email"}

// RevealContacts writes the mailing list of an assessed breach to w: for
// each affected subject, an audited reveal (action reveal, purpose
// breach_notification) before the resolver is asked for the contact, then,
// before a byte reaches w, a disclosure of the list to the recipient per
// subject (so the accounting of disclosures shows it). Only a privacy
// officer may call it; others get ErrForbidden and a permission_denied
// event. It returns the number of subjects listed; w is written only
// after every disclosure was recorded. CSV cells pass through
// audit.CSVSafe.
func (m *Manager) RevealContacts(ctx context.Context, actor audit.Actor, id string, r MailingRequest, w io.Writer) (int, error) {
	target := audit.Target{RecordType: RecordType, RecordID: safeID(id)}
	if !m.isOfficer(actor) {
		ev := audit.Event{Time: m.cfg.Clock.Now().UTC(), Action: audit.ActionPermissionDenied, Outcome: audit.OutcomeFailure, Reason: "not_privacy_officer",
			Actor: actor, Origin: audit.Origin{Channel: audit.ChannelSystem}, Target: target}
		if err := m.cfg.Audit.Write(ctx, ev); err != nil {
			return 0, fmt.Errorf("%w: %w", ErrAudit, err)
		}
		return 0, fmt.Errorf("breach: reveal contacts of incident %s: %w", safeID(id), ErrForbidden)
	}
	if m.cfg.Resolver == nil {
		return 0, invalid("Config.Resolver", "required to reveal contacts")
	}
	if r.Scope == nil || r.Recipient.Name == "" {
		return 0, invalid("MailingRequest", "needs a scope and a recipient name")
	}
	if r.Format == "" {
		r.Format = MailingCSV
	}
	if r.Format != MailingCSV && r.Format != MailingJSON {
		return 0, invalid("MailingRequest.Format", "must be csv or json")
	}
	inc, err := m.Get(ctx, id)
	if err != nil {
		return 0, err
	}
	if (inc.Status() != StatusAssessed && inc.Status() != StatusNotified) || !inc.Conclusion().NeedsNotice() {
		return 0, fmt.Errorf("breach: incident %s: contacts are revealed only for an assessed breach: %w", id, ErrTransition)
	}
	type row struct {
		Subject string `json:"subject"`
		Name    string `json:"name"`
		Address string `json:"address"`
		Email   string `json:"email"`
	}
	rows := make([]row, 0, len(r.Scope.Affected))
	for i, s := range r.Scope.Affected {
		ev := audit.Event{Time: m.cfg.Clock.Now().UTC(), Action: audit.ActionReveal, Outcome: audit.OutcomeSuccess, Actor: actor, Purpose: PurposeNotification,
			Origin: audit.Origin{Channel: audit.ChannelSystem},
			Target: audit.Target{RecordType: "contact", Subject: s.Subject}, Attrs: map[string]string{"incident": id}}
		if err := m.cfg.Audit.Write(ctx, ev); err != nil {
			return 0, fmt.Errorf("%w: reveal for incident %s: %w", ErrAudit, id, err)
		}
		c, err := m.cfg.Resolver.Contact(ctx, s.Subject)
		if err != nil {
			return 0, fmt.Errorf("%w: contact of affected subject #%d of incident %s", ErrResolver, i+1, id)
		}
		rows = append(rows, row{Subject: s.Subject, Name: c.Name.Reveal(), Address: c.Address.Reveal(), Email: c.Email.Reveal()})
	}
	var buf bytes.Buffer
	if r.Format == MailingJSON {
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			Incident string `json:"incident"`
			Rows     []row  `json:"notices"`
		}{id, rows}); err != nil {
			return 0, fmt.Errorf("breach: encode the mailing list of incident %s", id)
		}
	} else {
		cw := csv.NewWriter(&buf)
		_ = cw.Write(mailingColumns)
		for _, x := range rows {
			_ = cw.Write([]string{id, audit.CSVSafe(x.Subject), audit.CSVSafe(x.Name), audit.CSVSafe(x.Address), audit.CSVSafe(x.Email)})
		}
		cw.Flush()
	}
	for _, x := range rows {
		ev := audit.Event{Time: m.cfg.Clock.Now().UTC(), Actor: actor, Purpose: PurposeNotification, Recipient: r.Recipient,
			Origin: audit.Origin{Channel: audit.ChannelSystem},
			Target: audit.Target{RecordType: "contact", Subject: x.Subject},
			Attrs:  map[string]string{"incident": id, "format": string(r.Format), "listed": strconv.Itoa(len(rows))}}
		if err := audit.RecordDisclosure(ctx, m.cfg.Audit, ev); err != nil {
			return 0, fmt.Errorf("%w: disclosure for incident %s: %w", ErrAudit, id, err)
		}
	}
	if _, err := buf.WriteTo(w); err != nil {
		return 0, fmt.Errorf("breach: write the mailing list of incident %s: %w", id, err)
	}
	return len(rows), nil
}
