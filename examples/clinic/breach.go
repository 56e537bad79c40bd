package main

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/policy"
	"github.com/hipaakit/hipaakit/breach"
	"github.com/hipaakit/hipaakit/phi"
)

// permBreach allows breach response: incidents, scoping, the risk
// assessment, the notices and, with it, the mailing list's contact
// details (a PHI permission: granted by two administrators).
const permBreach policy.Permission = "breach:manage"

// rolePrivacyOfficer runs breach response (45 CFR 164.530(a)).
const rolePrivacyOfficer = breach.RolePrivacyOfficer

// openBreach wires the breach manager: the deployment's incident store,
// changes in its audit trail, the clinic's records as the directory of
// patients.
func (a *app) openBreach() (err error) {
	a.breach, err = breach.New(breach.Config{Store: a.d.Incidents, Audit: a.d.Audit, Clock: a.clock,
		PrivacyOfficerRoles: []string{rolePrivacyOfficer}, Resolver: &patientDirectory{c: a.clinic}})
	return err
}

// patientDirectory resolves affected subjects through the clinic's
// records. The clinic records no State of residence, so every subject
// counts with an unknown State (media notices need the application to
// know it); contact details are unsealed only when RevealContacts, having
// audited the reveal, asks.
type patientDirectory struct{ c *clinic }

func (d *patientDirectory) Locate(ctx context.Context, subject string) (breach.Residence, error) {
	p, err := d.c.records.Get(ctx, subject)
	if errors.Is(err, errNoPatient) {
		return breach.Residence{}, nil
	}
	if err != nil {
		return breach.Residence{}, err
	}
	_, addr := p.Fields["address"]
	_, mail := p.Fields["email"]
	return breach.Residence{ContactSufficient: addr || mail}, nil
}

func (d *patientDirectory) Contact(ctx context.Context, subject string) (breach.Contact, error) {
	p, err := d.c.records.Get(ctx, subject)
	if errors.Is(err, errNoPatient) {
		return breach.Contact{}, nil
	}
	if err != nil {
		return breach.Contact{}, err
	}
	var c breach.Contact
	for f, dst := range map[string]*phi.Text{"name": &c.Name, "address": &c.Address, "email": &c.Email} {
		s, ok := p.Fields[f]
		if !ok {
			continue
		}
		pt, err := d.c.vault.Open(ctx, binding(p, f, ""), s)
		if errors.Is(err, phi.ErrShredded) {
			return breach.Contact{}, nil // shredded: no contact left, substitute notice
		}
		if err != nil {
			return breach.Contact{}, err
		}
		*dst = phi.NewText(string(pt.Reveal()))
	}
	return c, nil
}

// breachActor is the signed-in user.
func breachActor(r *http.Request) audit.Actor {
	a, _ := auth.ActorFromRequest(r)
	return a
}

// breachError answers err: 400 for bad input (never echoing it), 404, 409
// for a refused status change or a concurrent one, 403, 503 when the audit
// trail refused, 502 when the trail did not verify, else 500.
func (a *app) breachError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, breach.ErrPHIText):
		apiError(w, http.StatusBadRequest, "text_looks_like_phi")
	case errors.Is(err, breach.ErrInvalid):
		apiError(w, http.StatusBadRequest, "invalid_input")
	case errors.Is(err, breach.ErrNotFound):
		apiError(w, http.StatusNotFound, "no_such_incident")
	case errors.Is(err, breach.ErrTransition), errors.Is(err, breach.ErrConflict):
		apiError(w, http.StatusConflict, "not_allowed_now")
	case errors.Is(err, breach.ErrForbidden):
		apiError(w, http.StatusForbidden, "forbidden")
	case errors.Is(err, breach.ErrAudit):
		apiError(w, http.StatusServiceUnavailable, "audit_unavailable")
	case errors.Is(err, breach.ErrTrailUnverified):
		a.log.ErrorContext(r.Context(), "breach scoping: the audit trail does not verify", "err", err)
		apiError(w, http.StatusBadGateway, "audit_trail_unverified")
	default:
		a.log.ErrorContext(r.Context(), "breach", "route", r.Pattern, "err", err)
		apiError(w, http.StatusInternalServerError, "internal")
	}
}

// incidentView is an incident with its history and next deadline.
type incidentView struct {
	ID      string                  `json:"id"`
	Version uint64                  `json:"version"`
	Fields  map[breach.Field]string `json:"fields"`
	History []breach.Entry          `json:"history,omitempty"`
	Notices []breach.Notice         `json:"notices"`
	Overdue bool                    `json:"overdue"`
}

// F is a field's value, for templates.
func (v incidentView) F(name string) string { return v.Fields[breach.Field(name)] }

func (a *app) view(ctx context.Context, inc breach.Incident, history bool) (incidentView, error) {
	v := incidentView{ID: inc.ID, Version: inc.Version, Fields: inc.Fields, Notices: []breach.Notice{}}
	if history {
		h, err := a.breach.History(ctx, inc.ID)
		if err != nil {
			return v, err
		}
		v.History = h
	}
	if s := inc.Status(); s != breach.StatusNotified && s != breach.StatusClosed {
		n := max(inc.Affected(), 1) // deadlines run from discovery, scoped or not
		ns, err := breach.Plan(&inc, breach.Counts{Total: n, UnknownState: n})
		if err != nil {
			return v, err
		}
		v.Notices = ns
		for _, x := range ns {
			v.Overdue = v.Overdue || x.Overdue(a.now())
		}
	}
	return v, nil
}

// breachList: GET /api/breach/incidents.
func (a *app) breachList(w http.ResponseWriter, r *http.Request) {
	incs, err := a.breach.List(r.Context())
	if err != nil {
		a.breachError(w, r, err)
		return
	}
	out := []incidentView{}
	for _, inc := range incs {
		v, err := a.view(r.Context(), inc, false)
		if err != nil {
			a.breachError(w, r, err)
			return
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, out)
}

// breachGet: GET /api/breach/incidents/{id}, with the history.
func (a *app) breachGet(w http.ResponseWriter, r *http.Request) {
	inc, err := a.breach.Get(r.Context(), r.PathValue("id"))
	if err == nil {
		var v incidentView
		if v, err = a.view(r.Context(), inc, true); err == nil {
			writeJSON(w, http.StatusOK, v)
			return
		}
	}
	a.breachError(w, r, err)
}

// breachOpen: POST /api/breach/incidents reports an incident.
func (a *app) breachOpen(w http.ResponseWriter, r *http.Request) {
	var in struct {
		DiscoveredOn string `json:"discovered_on"`
		TimeZone     string `json:"time_zone"`
		Description  string `json:"description"`
		Vector       string `json:"vector"`
		Business     bool   `json:"business_associate"`
	}
	if !readJSON(w, r, &in) {
		return
	}
	req := breach.OpenRequest{DiscoveredOn: in.DiscoveredOn, TimeZone: in.TimeZone, Description: in.Description, Vector: in.Vector}
	if in.Business {
		req.Entity = breach.BusinessAssociate
	}
	inc, err := a.breach.Open(r.Context(), breachActor(r), req)
	if err != nil {
		a.breachError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, incidentView{ID: inc.ID, Version: inc.Version, Fields: inc.Fields, Notices: []breach.Notice{}})
}

// scopeIn is the body of POST /api/breach/incidents/{id}/scope.
type scopeIn struct {
	Since    time.Time          `json:"since"`
	Until    time.Time          `json:"until"`
	Actors   []string           `json:"actors"`
	Sessions []string           `json:"sessions"`
	Networks []string           `json:"networks"`
	Routes   []string           `json:"routes"`
	Records  []breach.RecordRef `json:"records"`
	KEK      bool               `json:"kek_compromised"`
}

// scope computes the scope of in from the deployment's verified trail.
func (a *app) scope(ctx context.Context, in scopeIn) (*breach.Scope, error) {
	ind := breach.Indicators{Since: in.Since, Until: in.Until, Actors: in.Actors, Sessions: in.Sessions, Routes: in.Routes, Records: in.Records}
	for _, n := range in.Networks {
		p, err := netip.ParsePrefix(n)
		if err != nil {
			return nil, &breach.FieldError{Field: "networks", Reason: "must be CIDR ranges", Err: breach.ErrInvalid}
		}
		ind.Networks = append(ind.Networks, p.Masked())
	}
	return breach.ComputeScope(ctx, breach.ScopeRequest{Entries: a.d.AuditEntries(), Verify: audit.VerifyOptions{Keys: a.d.TrustedKeys()},
		Indicators: ind, KEKCompromised: in.KEK, Shredded: func(ctx context.Context, s string) (bool, error) {
			_, found, err := a.d.Ledger.Lookup(ctx, s)
			return found, err
		}})
}

// breachScope: POST /api/breach/incidents/{id}/scope computes the affected
// patients from the verified audit trail and records the scope.
func (a *app) breachScope(w http.ResponseWriter, r *http.Request) {
	var in scopeIn
	if !readJSON(w, r, &in) {
		return
	}
	ctx := r.Context()
	id := r.PathValue("id")
	if _, err := a.breach.Get(ctx, id); err != nil {
		a.breachError(w, r, err)
		return
	}
	sc, err := a.scope(ctx, in)
	if err == nil {
		_, err = a.breach.RecordScope(ctx, breachActor(r), id, sc)
	}
	if err != nil {
		a.breachError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, sc)
}

// breachAssess: POST /api/breach/incidents/{id}/assessment.
func (a *app) breachAssess(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Nature     string `json:"nature"`
		Person     string `json:"person"`
		Acquired   string `json:"acquired"`
		Mitigation string `json:"mitigation"`
		Conclusion string `json:"conclusion"`
		Reason     string `json:"reason"`
	}
	if !readJSON(w, r, &in) {
		return
	}
	inc, err := a.breach.Assess(r.Context(), breachActor(r), r.PathValue("id"), breach.Assessment{Nature: in.Nature, Person: in.Person,
		Acquired: in.Acquired, Mitigation: in.Mitigation, Conclusion: breach.Conclusion(in.Conclusion), Reason: in.Reason})
	if err != nil {
		a.breachError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, incidentView{ID: inc.ID, Version: inc.Version, Fields: inc.Fields, Notices: []breach.Notice{}})
}

// breachMailing: POST /api/breach/incidents/{id}/mailing-list scopes the
// indicators again from the verified trail (the list matches the trail as
// it is now) and answers the mailing list as CSV, each reveal audited and
// the list recorded as a disclosure to the mail house.
func (a *app) breachMailing(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Scope     scopeIn `json:"scope"`
		MailHouse string  `json:"mail_house"`
		Address   string  `json:"mail_house_address"`
	}
	if !readJSON(w, r, &in) {
		return
	}
	if in.MailHouse == "" || len(in.MailHouse) > 256 || len(in.Address) > 512 {
		apiError(w, http.StatusBadRequest, "invalid_input")
		return
	}
	ctx := r.Context()
	sc, err := a.scope(ctx, in.Scope)
	if err != nil {
		a.breachError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, err = a.breach.RevealContacts(ctx, breachActor(r), r.PathValue("id"), breach.MailingRequest{Scope: sc,
		Recipient: audit.Recipient{Kind: audit.RecipientOrganization, Name: in.MailHouse, Address: in.Address}}, w)
	if err != nil {
		w.Header().Del("Content-Type")
		a.breachError(w, r, err)
	}
}
