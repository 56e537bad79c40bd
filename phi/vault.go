package phi

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/clock"
)

// Vault seals and opens PHI under per-subject data keys. Each subject has one
// Tink AES-256-GCM keyset, created on first Seal, stored in a KeyStore wrapped
// by the KEK, and cached unwrapped (see VaultConfig.CacheEntries). A Vault is safe for
// concurrent use.
type Vault struct {
	store     KeyStore
	clock     clock.Clock
	cache     *keyCache
	audit     audit.Writer
	auditInfo func(context.Context) (audit.Actor, audit.Origin)

	kekMu sync.RWMutex
	kek   KEK            // wraps new keysets
	keks  map[string]KEK // every KEK that can unwrap, by ID, kek included

	index *blindIndexer

	stopWatch func() // stops the watch of the store's announcements, if any
}

// NewVault returns a Vault that keeps subject keysets in cfg.Keys, wrapped
// by cfg.KEK. See VaultConfig for the other settings.
func NewVault(cfg VaultConfig) (*Vault, error) {
	s, err := cfg.check()
	if err != nil {
		return nil, err
	}
	v := &Vault{
		store:     cfg.Keys,
		clock:     s.clock,
		cache:     newKeyCache(s.clock, s.cacheEntries, s.cacheTTL),
		audit:     cfg.Audit,
		auditInfo: cfg.AuditInfo,
		kek:       cfg.KEK,
		keks:      map[string]KEK{cfg.KEK.ID(): cfg.KEK},
	}
	for _, k := range cfg.OldKEKs {
		if _, dup := v.keks[k.ID()]; !dup {
			v.keks[k.ID()] = k
		}
	}
	v.index = newBlindIndexer(v, s.normalizers)
	v.watchKeys()
	return v, nil
}

// Seal encrypts plaintext for b with the primary key of b.Subject's keyset,
// creating the keyset on first use. The result opens only with the same
// Binding. Sealing for a shredded subject fails with ErrShredded.
func (v *Vault) Seal(ctx context.Context, b Binding, plaintext []byte) (Sealed, error) {
	if err := b.validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	keys, err := v.keysFor(ctx, b.Subject, true)
	if err != nil {
		return nil, err
	}
	ct, err := keys.primary.Encrypt(plaintext, b.appendAD(make([]byte, 0, b.adLen())))
	if err != nil {
		return nil, errors.New("phi: seal failed (plaintext too large)")
	}
	return Sealed(ct), nil
}

// Open decrypts s, which must have been sealed for exactly b. The plaintext
// comes back as a redacting Bytes value; Bytes.Reveal hands it out.
//
// Errors: ErrMalformed (not a sealed value), ErrUnsupportedVersion,
// ErrShredded (the subject's keys were destroyed), ErrKeyNotFound (the
// subject never had keys), ErrTampered (altered, or sealed for another
// binding), ErrInvalidBinding; or an error from the store or the KEK.
func (v *Vault) Open(ctx context.Context, b Binding, s Sealed) (Bytes, error) {
	if err := b.validate(); err != nil {
		return Bytes{}, err
	}
	h, err := ParseHeader(s)
	if err != nil {
		return Bytes{}, err
	}
	if err := ctx.Err(); err != nil {
		return Bytes{}, err
	}
	keys, err := v.keysFor(ctx, b.Subject, false)
	if err != nil {
		return Bytes{}, err
	}
	key, ok := keys.byID[h.KeyID]
	if !ok {
		return Bytes{}, ErrTampered
	}
	pt, err := key.Decrypt(s, b.appendAD(make([]byte, 0, b.adLen())))
	if err != nil {
		return Bytes{}, ErrTampered
	}
	return wrapBytes(pt), nil
}

// Shred crypto-shreds subject: it destroys the subject's keyset in the store
// (leaving a tombstone, so the subject can never get keys again) and drops
// it from this Vault's cache. Afterwards every value sealed for the subject
// fails to open with ErrShredded, and Seal for the subject fails too: in
// this process at once, and in other processes sharing the store as soon as
// the store's announcement reaches them (KeyChangeNotifier; within a second
// for phi/pgstore and phi/filestore), or else once their cache entries age
// out (see VaultConfig.CacheEntries). It returns the IDs of the keys
// destroyed (none when the subject had no keys or was shredded before).
// Shred is idempotent.
//
// When the Vault has an audit writer (VaultConfig.Audit), Shred records what
// happened after it happened: an audit.ActionShred event for the subject with
// reason "keys_destroyed" and the number of keys destroyed, or outcome
// failure when the store refused. If that event cannot be written, Shred
// fails closed: it returns ErrAuditFailed (joined with the store's error, if
// any). The keys are gone by then and cannot be brought back; Shred is
// idempotent, so a retry writes the event. The disposal package, which also
// records the disposal in its ledger and signs a certificate, writes its own
// event besides this one.
func (v *Vault) Shred(ctx context.Context, subject string) (destroyed []uint32, err error) {
	if !ValidSubject(subject) {
		return nil, fmt.Errorf("%w: subject is not a valid subject ID", ErrInvalidBinding)
	}
	v.cache.invalidate(subject)
	destroyed, err = v.store.Shred(ctx, subject)
	// Invalidate again: a load that read the store before the shred may have
	// cached the keyset after the first invalidation.
	v.cache.invalidate(subject)
	if err != nil {
		err = storeErr(err)
		destroyed = nil
	}
	if aerr := v.auditShred(ctx, subject, len(destroyed), err); aerr != nil {
		return nil, errors.Join(err, aerr)
	}
	if err != nil {
		return nil, err
	}
	return destroyed, nil
}

// auditShred records the outcome of a shred when the Vault has an audit
// writer; it returns ErrAuditFailed when the event cannot be written.
func (v *Vault) auditShred(ctx context.Context, subject string, destroyed int, shredErr error) error {
	if v.audit == nil {
		return nil
	}
	ev := audit.Event{
		Time:    v.clock.Now().UTC(),
		Action:  audit.ActionShred,
		Outcome: audit.OutcomeSuccess,
		Reason:  "keys_destroyed",
		Target:  audit.Target{Subject: subject},
		Attrs:   map[string]string{"key_count": strconv.Itoa(destroyed)},
	}
	if v.auditInfo != nil {
		ev.Actor, ev.Origin = v.auditInfo(ctx)
	}
	if shredErr != nil {
		ev.Outcome, ev.Reason = audit.OutcomeFailure, failureReason(shredErr)
	}
	if err := v.audit.Write(ctx, ev); err != nil {
		return fmt.Errorf("%w: shred of the subject's keys not recorded", ErrAuditFailed)
	}
	return nil
}

// Purpose says why PHI is revealed, for the audit trail (for example
// "treatment", "payment", "operations", "disclosure"): a short
// machine-readable code of 1 to 64 lower-case ASCII letters, digits, '_',
// '-' or '.', never free text.
type Purpose string

func (p Purpose) valid() bool {
	if len(p) == 0 || len(p) > 64 {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// Reveal opens s like Open and returns the plaintext, after recording the
// access as an audit event (action audit.ActionReveal, with the purpose and
// the binding's subject, field and record) through the Vault's audit writer.
// When the event cannot be written, or no writer was configured with
// VaultConfig.Audit, Reveal returns ErrAuditFailed and no plaintext: no audit,
// no access. Failed opens are audited too, with outcome failure.
func (v *Vault) Reveal(ctx context.Context, b Binding, s Sealed, purpose Purpose) ([]byte, error) {
	return v.reveal(ctx, b, s, purpose, nil)
}

// reveal is Reveal with further non-PHI attributes for the audit event.
func (v *Vault) reveal(ctx context.Context, b Binding, s Sealed, purpose Purpose, attrs map[string]string) ([]byte, error) {
	if !purpose.valid() {
		return nil, errors.New("phi: Reveal needs a purpose of 1 to 64 lower-case letters, digits, '_', '-' or '.'")
	}
	// An invalid binding is refused before anything is audited, so that a
	// misused subject or field (which might hold PHI) never reaches the trail.
	if err := b.validate(); err != nil {
		return nil, err
	}
	if v.audit == nil {
		return nil, fmt.Errorf("%w: no audit writer configured", ErrAuditFailed)
	}
	pt, openErr := v.Open(ctx, b, s)
	ev := v.revealEvent(ctx, b, purpose, attrs)
	if openErr != nil {
		ev.Outcome, ev.Reason = audit.OutcomeFailure, failureReason(openErr)
	}
	if err := v.audit.Write(ctx, ev); err != nil {
		pt.Wipe()
		if openErr != nil {
			return nil, errors.Join(openErr, ErrAuditFailed)
		}
		return nil, ErrAuditFailed
	}
	if openErr != nil {
		return nil, openErr
	}
	return pt.reveal(), nil
}

// revealEvent is the audit event of a successful reveal of b's value for
// purpose, by the actor AuditInfo names.
func (v *Vault) revealEvent(ctx context.Context, b Binding, purpose Purpose, attrs map[string]string) audit.Event {
	ev := audit.Event{
		Time:    v.clock.Now().UTC(),
		Action:  audit.ActionReveal,
		Outcome: audit.OutcomeSuccess,
		Target:  audit.Target{Subject: b.Subject, Field: b.Field, RecordID: b.Record},
		Purpose: string(purpose),
		Attrs:   attrs,
	}
	if v.auditInfo != nil {
		ev.Actor, ev.Origin = v.auditInfo(ctx)
	}
	if ev.Actor.TenantID == "" {
		ev.Actor.TenantID = b.Tenant
	}
	return ev
}

// failureReason names err for an audit event.
func failureReason(err error) string {
	switch {
	case errors.Is(err, ErrShredded):
		return "shredded"
	case errors.Is(err, ErrKeyNotFound):
		return "key_not_found"
	case errors.Is(err, ErrTampered):
		return "tampered"
	case errors.Is(err, ErrUnsupportedVersion):
		return "unsupported_version"
	case errors.Is(err, ErrMalformed):
		return "malformed"
	case errors.Is(err, ErrInvalidBinding):
		return "invalid_binding"
	default:
		return "error"
	}
}
