package breach

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/hipaakit/hipaakit/audit"
)

// scopeColumns are the CSV columns of WriteScopeCSV.
var scopeColumns = []string{"subject", "status", "exposure", "elements", "shredded", "reason", "evidence", "first_access", "last_access", "evidence_refs"}

// WriteScopeCSV writes the scope for counsel, one row per subject
// (affected first, then excluded; each sorted by identifier). Evidence
// references are stream:seq of the audit records. Cells pass through
// audit.CSVSafe. The output holds identifiers only, no PHI.
func WriteScopeCSV(w io.Writer, s *Scope) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(scopeColumns)
	write := func(status string, subs []Subject) {
		for _, x := range subs {
			refs := make([]string, len(x.Evidence))
			for i, e := range x.Evidence {
				refs[i] = e.Stream + ":" + strconv.FormatUint(e.Seq, 10)
			}
			first, last := "", ""
			if n := len(x.Evidence); n > 0 {
				first, last = x.Evidence[0].Time.Format(time.RFC3339Nano), x.Evidence[n-1].Time.Format(time.RFC3339Nano)
			}
			row := []string{x.Subject, status, x.Exposure, strings.Join(x.Elements, ";"), strconv.FormatBool(x.Shredded),
				x.Reason, strconv.Itoa(len(x.Evidence)), first, last, strings.Join(refs, ";")}
			for i := range row {
				row[i] = audit.CSVSafe(row[i])
			}
			_ = cw.Write(row)
		}
	}
	write("affected", s.Affected)
	write("excluded", s.Excluded)
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("breach: write the scope: %w", err)
	}
	return nil
}

// WriteScopeJSON writes the scope as indented JSON (deterministic: the
// same scope gives the same bytes).
func WriteScopeJSON(w io.Writer, s *Scope) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s); err != nil {
		return fmt.Errorf("breach: write the scope: %w", err)
	}
	return nil
}

// noticeColumns are the CSV columns of WriteNoticesCSV.
var noticeColumns = []string{"incident", "kind", "rule", "state", "count", "due", "due_by", "delayed", "overdue", "note"}

// WriteNoticesCSV writes the required notices of an incident with their
// deadlines and whether each is overdue at now.
func WriteNoticesCSV(w io.Writer, id string, ns []Notice, now time.Time) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(noticeColumns)
	for _, n := range ns {
		row := []string{id, string(n.Kind), n.Rule, n.State, strconv.Itoa(n.Count), n.Due, n.DueBy.Format(time.RFC3339),
			strconv.FormatBool(n.Delayed), strconv.FormatBool(n.Overdue(now)), n.Note}
		for i := range row {
			row[i] = audit.CSVSafe(row[i])
		}
		_ = cw.Write(row)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("breach: write the notices: %w", err)
	}
	return nil
}

// WriteNoticesJSON writes the notices as indented JSON.
func WriteNoticesJSON(w io.Writer, id string, ns []Notice) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(struct {
		Incident string   `json:"incident"`
		Notices  []Notice `json:"notices"`
	}{id, ns}); err != nil {
		return fmt.Errorf("breach: write the notices: %w", err)
	}
	return nil
}

// ReadScopeJSON reads a scope written by WriteScopeJSON (the output of
// `hipaakit breach scope --format json`). Unknown members and trailing data
// are refused with ErrInvalid; the caller compares the scope's Digest with
// the one recorded on the incident before relying on it.
func ReadScopeJSON(r io.Reader) (*Scope, error) {
	var s Scope
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, invalid("scope file", "not a scope as breach scope --format json writes it")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, invalid("scope file", "data after the scope")
	}
	return &s, nil
}
