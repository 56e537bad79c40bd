package phi

import (
	"context"
	"errors"
	"fmt"

	"github.com/hipaakit/hipaakit/audit"
)

// ServeSealed hands s out still sealed (to a client that holds no key, a
// replica, an export of sealed columns), after recording the access as an
// audit event: action audit.ActionRead with the purpose, the binding's
// subject, field and record, and the attribute audit.AttrExposure =
// audit.ExposureSealed, which breach scoping reads as an exposure of
// ciphertext only. s is never opened (no key is read); its header is
// checked, so bytes that are not a sealed value are refused (ErrMalformed,
// ErrUnsupportedVersion) before anything is audited. When the event cannot
// be written, or the Vault has no audit writer, ServeSealed returns
// ErrAuditFailed and no value: no audit, no access. The value returned is
// a copy.
func (v *Vault) ServeSealed(ctx context.Context, b Binding, s Sealed, purpose Purpose) (Sealed, error) {
	if !purpose.valid() {
		return nil, errors.New("phi: ServeSealed needs a purpose of 1 to 64 lower-case letters, digits, '_', '-' or '.'")
	}
	if err := b.validate(); err != nil {
		return nil, err
	}
	if _, err := ParseHeader(s); err != nil {
		return nil, err
	}
	if v.audit == nil {
		return nil, fmt.Errorf("%w: no audit writer configured", ErrAuditFailed)
	}
	ev := audit.Event{
		Time:    v.clock.Now().UTC(),
		Action:  audit.ActionRead,
		Outcome: audit.OutcomeSuccess,
		Target:  audit.Target{Subject: b.Subject, Field: b.Field, RecordID: b.Record},
		Purpose: string(purpose),
		Attrs:   map[string]string{audit.AttrExposure: audit.ExposureSealed},
	}
	if v.auditInfo != nil {
		ev.Actor, ev.Origin = v.auditInfo(ctx)
	}
	if ev.Actor.TenantID == "" {
		ev.Actor.TenantID = b.Tenant
	}
	if err := v.audit.Write(ctx, ev); err != nil {
		return nil, ErrAuditFailed
	}
	return append(Sealed(nil), s...), nil
}
