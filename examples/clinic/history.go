package main

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/phi"
)

// entryFields are the fields of a patient's clinical entries (notes, lab
// results, vital signs), each sealed under its own record ID.
var entryFields = []string{"note", "lab", "vitals"}

// historyField reports whether f names a data element of a patient record.
func historyField(f string) bool {
	for _, e := range entryFields {
		if f == e {
			return true
		}
	}
	return isDemographic(f)
}

// maxHistory bounds one history answer; ask again with since= for more.
const maxHistory = 500

// directory names the actors of a history: the user store's login names
// (the workforce, never patients), and system actors by their ID.
func (a *app) directory() audit.Directory {
	return audit.DirectoryFunc(func(ctx context.Context, id string) (string, bool, error) {
		if strings.HasPrefix(id, "system:") {
			return id, true, nil
		}
		u, err := a.d.Users.Get(ctx, id)
		if errors.Is(err, auth.ErrUserNotFound) {
			return "", false, nil
		}
		if err != nil {
			return "", false, err
		}
		return u.Name, true, nil
	})
}

// historyRequest reads the patient ID from the path and the filters from
// the query (field, since, until); false when the answer was sent.
func (a *app) historyRequest(w http.ResponseWriter, r *http.Request) (audit.HistoryRequest, bool) {
	id := validPatientID(r.PathValue("id"))
	if id == "" {
		apiError(w, http.StatusNotFound, "not_found")
		return audit.HistoryRequest{}, false
	}
	q := r.URL.Query()
	req := audit.HistoryRequest{Subject: id, Field: q.Get("field"), Limit: maxHistory, Directory: a.directory()}
	var err error
	if req.Since, err = optTime(q.Get("since")); err == nil {
		req.Until, err = optTime(q.Get("until"))
	}
	if err != nil || (req.Field != "" && !historyField(req.Field)) {
		apiError(w, http.StatusBadRequest, "invalid_filter")
		return audit.HistoryRequest{}, false
	}
	return req, true
}

// history reads req's history from the verified trail (every stream,
// checked against the deployment's trusted keys, so that a forged or
// altered record is reported instead of shown or opened), answering for a
// failure: 502 when the trail does not verify.
func (a *app) history(w http.ResponseWriter, r *http.Request, req audit.HistoryRequest) (audit.History, bool) {
	verified := audit.VerifiedSearcher(a.d.AuditEntries(), audit.VerifyOptions{Keys: a.d.TrustedKeys()})
	h, err := audit.RecordHistory(r.Context(), verified, req)
	var verr *audit.VerifyError
	var lerr *audit.LineError
	switch {
	case errors.As(err, &verr), errors.As(err, &lerr):
		a.log.ErrorContext(r.Context(), "record history: the audit trail does not verify", "err", err)
		apiError(w, http.StatusBadGateway, "audit_trail_unverified")
		return h, false
	case errors.Is(err, audit.ErrInvalidFilter):
		apiError(w, http.StatusBadRequest, "invalid_filter")
		return h, false
	case err != nil:
		a.log.ErrorContext(r.Context(), "record history", "err", err)
		apiError(w, http.StatusInternalServerError, "internal")
		return h, false
	case len(h.Entries) == 0 && req.Since.IsZero() && req.Until.IsZero() && req.Field == "":
		apiError(w, http.StatusNotFound, "not_found")
		return h, false
	}
	return h, true
}

// patientHistory: GET /api/patients/{id}/history[?field=&since=&until=].
// Who changed what and when, how, with which outcome, and whether the
// prior and new values were recorded; never the values themselves.
func (a *app) patientHistory(w http.ResponseWriter, r *http.Request) {
	req, ok := a.historyRequest(w, r)
	if !ok {
		return
	}
	h, ok := a.history(w, r, req)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, h)
}

// valueView is one opened value: its state (absent, revealed, destroyed)
// and, when revealed, the plaintext.
type valueView struct {
	State phi.ValueState `json:"state"`
	Value string         `json:"value,omitempty"`
}

func viewValue(v phi.ReviewedValue) valueView {
	return valueView{State: v.State, Value: v.Value.Reveal()}
}

// reviewedEntry is a history entry with its values opened.
type reviewedEntry struct {
	audit.HistoryEntry
	New   valueView `json:"new"`
	Prior valueView `json:"prior"`
}

// revealIn selects the changes to open: all of the patient's (or one
// field's), or the one audit record stream/seq.
type revealIn struct {
	Field  string `json:"field"`
	Stream string `json:"stream"`
	Seq    uint64 `json:"seq"`
}

// revealHistory: POST /api/patients/{id}/history/reveal {"field": ...,
// "stream": ..., "seq": ...}. Opens the prior and new values of the
// selected changes for a reviewer holding audit:review_values; each value
// opened is recorded as a reveal with purpose audit_review before it is
// sent. A shredded patient's values come back as "destroyed".
func (a *app) revealHistory(w http.ResponseWriter, r *http.Request) {
	var in revealIn
	if !readJSON(w, r, &in) {
		return
	}
	req, ok := a.historyRequest(w, r)
	if !ok {
		return
	}
	if (in.Field != "" && !historyField(in.Field)) || (in.Stream == "") != (in.Seq == 0) {
		apiError(w, http.StatusBadRequest, "invalid_filter")
		return
	}
	req.Field = in.Field
	h, ok := a.history(w, r, req)
	if !ok {
		return
	}
	rv, err := phi.NewReviewer(phi.ReviewerConfig{Vault: a.d.Vault,
		Permitted: func(context.Context) bool { return a.d.Auth.Can(r, permReviewValues) },
		Binding: func(e audit.HistoryEntry) phi.Binding {
			return phi.Binding{Subject: e.Subject, Field: e.Field, Tenant: a.clinic.tenant, Record: e.RecordID}
		}})
	if err != nil {
		apiError(w, http.StatusInternalServerError, "internal")
		return
	}
	out := struct {
		Subject   string          `json:"subject"`
		Entries   []reviewedEntry `json:"entries"`
		Truncated bool            `json:"truncated"`
	}{Subject: req.Subject, Entries: []reviewedEntry{}, Truncated: h.Truncated}
	for _, e := range h.Entries {
		if in.Stream != "" && (e.Stream != in.Stream || e.Seq != in.Seq) {
			continue
		}
		if !e.HasNew && !e.HasPrior {
			continue
		}
		c, err := rv.Review(r.Context(), e)
		switch {
		case errors.Is(err, phi.ErrAuditFailed):
			apiError(w, http.StatusServiceUnavailable, "audit_unavailable")
			return
		case errors.Is(err, phi.ErrReviewDenied):
			apiError(w, http.StatusForbidden, "forbidden")
			return
		case err != nil:
			a.log.ErrorContext(r.Context(), "review change", "stream", e.Stream, "seq", strconv.FormatUint(e.Seq, 10), "err", err)
			apiError(w, http.StatusInternalServerError, "internal")
			return
		}
		out.Entries = append(out.Entries, reviewedEntry{HistoryEntry: e, New: viewValue(c.New), Prior: viewValue(c.Prior)})
	}
	if in.Stream != "" && len(out.Entries) == 0 {
		apiError(w, http.StatusNotFound, "not_found")
		return
	}
	writeJSON(w, http.StatusOK, out)
}
