package main

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/clock"
)

// switchWriter passes events on until it is told to fail.
type switchWriter struct {
	next audit.Writer
	fail atomic.Bool
}

func (s *switchWriter) Write(ctx context.Context, e audit.Event) error {
	if s.fail.Load() {
		return errors.New("audit store down")
	}
	return s.next.Write(ctx, e)
}

// No audit, no access: when the per-field audit event cannot be stored, a
// PHI read answers 503 without the PHI, and a write is refused and changes
// nothing.
func TestNoAuditNoAccess(t *testing.T) {
	t.Parallel()
	sw := &switchWriter{}
	clk := clock.NewFake(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	tc := startClinicClock(t, testConfig(t.TempDir()), clk, clk, nil, func(a *app) {
		sw.next = a.clinic.audit
		a.clinic.audit = sw
	})
	doc := tc.login(rolePhysician)
	id := newPatient(t, doc, "MRN-FC-1", canaryName)

	sw.fail.Store(true)
	st, body := doc.raw("GET", "/api/patients/"+id, nil)
	if st != http.StatusServiceUnavailable || strings.Contains(string(body), "CANARY") {
		t.Fatalf("read with the audit trail down: %d %s", st, body)
	}
	if st, _ := doc.raw("PUT", "/api/patients/"+id, map[string]string{"name": "Changed Name"}); st != http.StatusServiceUnavailable {
		t.Fatalf("write with the audit trail down: %d", st)
	}
	sw.fail.Store(false)
	var v patientView
	doc.mustStatus(http.StatusOK, "GET", "/api/patients/"+id, nil, &v)
	if v.Fields["name"] != canaryName {
		t.Fatalf("an unaudited write changed the record: %q", v.Fields["name"])
	}
}
