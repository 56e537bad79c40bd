package suite

import (
	"sort"
	"strings"

	"github.com/hipaakit/hipaakit/audit"
)

// checkFieldAudit: each PHI field a read returns produces a field-level
// access event (the field named, by the reader, successful), not only the
// request-level event of the middleware. Values seeded through the service
// (Service.SeedFields) show which fields a response holds: a handler that
// opens a value with phi.Vault.Open and returns it without an audited
// phi.Vault.Reveal (or an event of its own for the field) fails, named by
// route and field.
func (r *runner) checkFieldAudit(t T, control string) {
	s := r.session(t, r.tg.CanaryRole)
	reads, values := r.h.SeedFields(t, s)
	if len(reads) == 0 || len(values) == 0 {
		t.Fatalf("%s: SeedFields returned no read route or no seeded field", control)
	}
	fields := make([]string, 0, len(values))
	for f, v := range values {
		if len(v) < 5 {
			t.Fatalf("%s: the value SeedFields seeded for %s is shorter than 5 characters; it could match by chance", control, f)
		}
		fields = append(fields, f)
	}
	sort.Strings(fields)
	for _, rt := range reads {
		var res response
		evs := r.eventsDuring(t, func() { res = r.do(t, rt, &s, nil) })
		if !r.succeeded(res) {
			t.Errorf("%s: %s as %s returned %s; cannot check its field-level events", control, rt.name(), r.tg.CanaryRole, statusText(res.status))
			continue
		}
		returned := 0
		for _, f := range fields {
			if !strings.Contains(res.body, values[f]) {
				continue
			}
			returned++
			if !hasFieldEvent(evs, s.UserID, f) {
				t.Errorf("%s: %s returned PHI field %s without a field-level access event (open it with an audited phi.Vault.Reveal, or record a read of the field)",
					control, rt.name(), f)
			}
		}
		if returned == 0 {
			t.Errorf("%s: %s returned none of the %d seeded fields; the check proves nothing", control, rt.name(), len(fields))
		}
	}
}

func hasFieldEvent(evs []audit.Event, userID, field string) bool {
	for _, e := range evs {
		if e.Target.Field == field && e.Outcome == audit.OutcomeSuccess && (userID == "" || e.Actor.UserID == userID) &&
			(e.Action == audit.ActionRead || e.Action == audit.ActionReveal) {
			return true
		}
	}
	return false
}
