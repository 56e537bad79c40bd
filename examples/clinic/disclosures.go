package main

import (
	"context"
	"errors"
	"net/http"
	"regexp"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth/policy"
)

// permDisclose allows recording a disclosure of a patient's PHI to a
// recipient outside the clinic (release of information).
const permDisclose policy.Permission = "patient:disclose"

// disclosureIn is the body of POST /api/patients/{id}/disclosures.
type disclosureIn struct {
	Recipient struct {
		ID      string `json:"id"`
		Kind    string `json:"kind"`
		Name    string `json:"name"`
		Address string `json:"address"`
	} `json:"recipient"`
	Purpose    string `json:"purpose"`
	RecordType string `json:"record_type"`
	RecordID   string `json:"record_id"`
	Field      string `json:"field"`
}

// purposeCode is a short machine-readable purpose such as "public_health".
var purposeCode = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

func (in *disclosureIn) valid() bool {
	rc := in.Recipient
	short := func(s string, n int) bool { return len(s) <= n }
	return rc.Name != "" && short(rc.Name, 256) && short(rc.Address, 512) && short(rc.ID, 128) &&
		(rc.Kind == "" || rc.Kind == string(audit.RecipientPerson) || rc.Kind == string(audit.RecipientOrganization)) &&
		purposeCode.MatchString(in.Purpose) && short(in.RecordType, 64) && short(in.RecordID, 128) && short(in.Field, 64)
}

// errAuditRefused stops RecordDisclosure after record has answered 503.
var errAuditRefused = errors.New("clinic: audit unavailable")

// recordDisclosure: POST /api/patients/{id}/disclosures records that the
// patient's PHI was disclosed to a recipient (who, which record, why), for
// the accounting of disclosures (45 CFR 164.528). It answers 201 once the
// disclosure is in the audit trail, 400 for a body that names no recipient
// or purpose, 404 for an unknown patient and 503 when it cannot be audited.
func (c *clinic) recordDisclosure(w http.ResponseWriter, r *http.Request) {
	var in disclosureIn
	if !readJSON(w, r, &in) {
		return
	}
	if !in.valid() {
		apiError(w, http.StatusBadRequest, "invalid_disclosure")
		return
	}
	p, ok := c.loadPatient(w, r)
	if !ok {
		return
	}
	recordType := in.RecordType
	if recordType == "" {
		recordType = "patient"
	}
	e := audit.Event{
		Action:  audit.ActionDisclose,
		Target:  audit.Target{RecordType: recordType, RecordID: in.RecordID, Field: in.Field, Subject: p.ID},
		Purpose: in.Purpose,
		Recipient: audit.Recipient{ID: in.Recipient.ID, Kind: audit.RecipientKind(in.Recipient.Kind),
			Name: in.Recipient.Name, Address: in.Recipient.Address},
	}
	through := audit.WriterFunc(func(_ context.Context, e audit.Event) error {
		if !c.record(w, r, e) {
			return errAuditRefused
		}
		return nil
	})
	err := audit.RecordDisclosure(r.Context(), through, e)
	switch {
	case errors.Is(err, errAuditRefused):
		return // answered 503
	case err != nil:
		apiError(w, http.StatusBadRequest, "invalid_disclosure")
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"subject": p.ID, "action": string(audit.ActionDisclose)})
}
