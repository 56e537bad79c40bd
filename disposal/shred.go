package disposal

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/phi"
)

// KeyDestroyer destroys every key of a subject, in its store and in every
// cache. *phi.Vault implements it with Vault.Shred.
type KeyDestroyer interface {
	Shred(ctx context.Context, subject string) (destroyed []uint32, err error)
}

// Config configures a Shredder. Every field without a stated default is
// required.
type Config struct {
	// Vault destroys the subject's keys (store and caches): the *phi.Vault
	// the service seals with. A phi.KeyStore also satisfies KeyDestroyer;
	// use the store directly only in a process that caches no keys (the
	// CLI), since other processes' caches expire on their own schedule.
	Vault KeyDestroyer
	// Keys is the key store under Vault; Shredder reads the subject's key
	// IDs from it before recording the disposal.
	Keys phi.KeyStore
	// Ledger records every disposal before the keys are destroyed.
	Ledger *Ledger
	// Audit receives one audit.ActionShred event per Shred call.
	Audit audit.Writer
	// Holds is asked before anything is destroyed. Use NoHolds{} only in
	// deployments without legal holds.
	Holds HoldChecker
	// SigningKey signs certificates: an ed25519.PrivateKey, or any
	// crypto.Signer whose public key is ed25519 (an HSM or KMS key).
	SigningKey crypto.Signer
	// Clock stamps disposals (default: the system clock).
	Clock clock.Clock
}

// Shredder crypto-shreds subjects: it destroys their keys, records each
// disposal in the ledger, audits it and returns a signed certificate.
type Shredder struct {
	cfg Config
}

// New checks cfg and returns a Shredder.
func New(cfg Config) (*Shredder, error) {
	switch {
	case cfg.Vault == nil, cfg.Keys == nil, cfg.Ledger == nil, cfg.Audit == nil, cfg.Holds == nil:
		return nil, errors.New("disposal: Config needs Vault, Keys, Ledger, Audit and Holds")
	}
	if _, err := signerPublic(cfg.SigningKey); err != nil {
		return nil, err
	}
	cfg.Clock = clock.OrSystem(cfg.Clock)
	return &Shredder{cfg: cfg}, nil
}

// PublicKey returns the key that verifies this Shredder's certificates.
func (s *Shredder) PublicKey() ed25519.PublicKey {
	pub, _ := signerPublic(s.cfg.SigningKey) // checked by New
	return pub
}

// ShredOption adjusts one Shred call.
type ShredOption interface{ apply(*shredOpts) }

type shredOpts struct {
	actor  audit.Actor
	origin audit.Origin
	kinds  []string
}

type optFunc func(*shredOpts)

func (f optFunc) apply(o *shredOpts) { f(o) }

// SystemActor is the actor recorded when Shred is called without By.
const SystemActor = "hipaakit:system"

// By names who ordered the disposal (default: SystemActor). a.UserID must
// be set.
func By(a audit.Actor) ShredOption { return optFunc(func(o *shredOpts) { o.actor = a }) }

// Via records how the order arrived (default: audit.ChannelSystem).
func Via(origin audit.Origin) ShredOption { return optFunc(func(o *shredOpts) { o.origin = origin }) }

// Kinds declares the kinds of the subject's records, so that a hold on
// some other kind does not block the shred (see HoldChecker).
func Kinds(kinds ...string) ShredOption {
	return optFunc(func(o *shredOpts) { o.kinds = append([]string(nil), kinds...) })
}

// Result is what Shred returns.
type Result struct {
	// Certificate is the decoded certificate.
	Certificate Certificate
	// Signed is the signed certificate in its file form (FORMAT.md), for
	// VerifyCertificate.
	Signed []byte
	// Repeated is true when the subject had already been shredded: nothing
	// new was recorded and the original certificate is returned again.
	Repeated bool
}

// Shred crypto-shreds subject and returns the signed disposal certificate.
//
// In order: it checks the legal holds (failing closed when they cannot be
// read); returns the original certificate (Result.Repeated) when the ledger
// already records the subject's disposal, after destroying the keys again
// in case a crash interrupted the first call (a hold set since then changes
// nothing: the keys are already gone); refuses with ErrLegalHold when a hold
// covers the subject; reads the subject's key IDs (refusing an unknown
// subject with ErrUnknownSubject); checks the legal holds again, so that a
// hold placed meanwhile is honoured; records the disposal in the ledger;
// destroys the keys through Vault; writes an audit event; and signs the
// certificate. The ledger entry is written before the keys are destroyed,
// so a crash in between leaves a recorded disposal that a retry of Shred or
// a Ledger.Replay completes, never an unrecorded one.
//
// With a mirrored ledger (NewMirroredLedger) whose mirror cannot be
// written, Shred still destroys the keys and returns a valid Result with
// an error wrapping ErrMirror.
//
// reason is operator text recorded in the ledger and the certificate; it
// must not contain PHI.
func (s *Shredder) Shred(ctx context.Context, subject, reason string, opts ...ShredOption) (Result, error) {
	o := shredOpts{actor: audit.Actor{UserID: SystemActor}, origin: audit.Origin{Channel: audit.ChannelSystem}}
	for _, opt := range opts {
		opt.apply(&o)
	}
	if !phi.ValidSubject(subject) {
		return Result{}, ErrInvalidSubject
	}
	if !validText(reason) {
		return Result{}, fmt.Errorf("%w: 1-%d printable bytes", ErrInvalidReason, MaxReasonLen)
	}
	if !validText(o.actor.UserID) {
		return Result{}, errors.New("disposal: By needs an actor with a user ID")
	}

	held, holdID, err := s.cfg.Holds.SubjectHold(ctx, subject, o.kinds)
	if err != nil {
		return Result{}, fmt.Errorf("disposal: cannot check legal holds, nothing destroyed: %w", err)
	}

	l := s.cfg.Ledger
	unlock, err := l.lockSubject(ctx, subject)
	if err != nil {
		return Result{}, err
	}
	defer unlock()
	prior, found, err := l.Lookup(ctx, subject)
	if err != nil {
		return Result{}, err
	}
	if found {
		// Finish a shred a crash may have interrupted; idempotent.
		if _, err := s.cfg.Vault.Shred(ctx, subject); err != nil {
			return Result{}, fmt.Errorf("disposal: destroy keys: %w", err)
		}
		if err := s.audit(ctx, prior, o, "already_shredded"); err != nil {
			return Result{}, err
		}
		return s.sign(prior, true)
	}
	if held {
		return Result{}, s.refuseHeld(ctx, subject, holdID, o)
	}

	var keyIDs []uint32
	w, err := s.cfg.Keys.Get(ctx, subject)
	switch {
	case err == nil:
		keyIDs = w.KeyIDs
	case errors.Is(err, phi.ErrShredded):
		// Shredded outside disposal (e.g. Vault.Shred called directly):
		// record it now, with no key IDs left to name.
	case errors.Is(err, phi.ErrKeyNotFound):
		return Result{}, ErrUnknownSubject
	default:
		return Result{}, fmt.Errorf("disposal: read keys: %w", err)
	}
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return Result{}, fmt.Errorf("disposal: certificate id: %w", err)
	}
	st := Statement{
		ID: "dc-" + hex.EncodeToString(id[:]), Subject: subject, Time: s.now(),
		Actor: o.actor.UserID, Reason: reason, Method: MethodCryptoErase, KeyIDs: sortedIDs(keyIDs),
	}
	if len(st.KeyIDs) > maxKeyIDs {
		return Result{}, fmt.Errorf("disposal: subject has %d keys, more than a certificate can list (%d)", len(st.KeyIDs), maxKeyIDs)
	}
	// A hold may have been placed since the first check (while this call
	// waited for the subject lock or read the keys): check again, under the
	// lock, just before recording the disposal.
	held, holdID, err = s.cfg.Holds.SubjectHold(ctx, subject, o.kinds)
	if err != nil {
		return Result{}, fmt.Errorf("disposal: cannot check legal holds, nothing destroyed: %w", err)
	}
	if held {
		return Result{}, s.refuseHeld(ctx, subject, holdID, o)
	}
	entry, err := l.record(ctx, st)
	mirrorErr := err // the disposal is recorded; the keys go regardless
	if err != nil && !errors.Is(err, ErrMirror) {
		return Result{}, err
	}
	// Vault.Shred destroys the whole keyset under the subject's reference,
	// including a key a rotation might have added since Get; the ledger
	// names the subject, so Replay destroys it too.
	if _, err := s.cfg.Vault.Shred(ctx, subject); err != nil {
		return Result{}, fmt.Errorf("disposal: disposal recorded at ledger entry %d but destroying keys failed (retry Shred or replay the ledger): %w", entry.Position.Seq, err)
	}
	if err := s.audit(ctx, entry, o, ledgerEventReason); err != nil {
		return Result{}, err
	}
	res, err := s.sign(entry, false)
	if err == nil && mirrorErr != nil {
		return res, mirrorErr
	}
	return res, err
}

// refuseHeld audits the refusal of a shred under legal hold holdID and
// returns ErrLegalHold, joined with the audit writer's error when the
// refusal could not be recorded.
func (s *Shredder) refuseHeld(ctx context.Context, subject, holdID string, o shredOpts) error {
	refused := fmt.Errorf("%w (hold %s)", ErrLegalHold, holdID)
	if err := s.cfg.Audit.Write(ctx, s.event(Entry{Statement: Statement{Subject: subject, Time: s.now()}}, o, audit.OutcomeFailure, "legal_hold", map[string]string{"hold_id": holdID})); err != nil {
		return errors.Join(refused, fmt.Errorf("disposal: the refusal was not audited: %w", err))
	}
	return refused
}

func (s *Shredder) now() time.Time { return s.cfg.Clock.Now().UTC().Round(0) }

func (s *Shredder) sign(e Entry, repeated bool) (Result, error) {
	c := Certificate{Statement: e.Statement, Ledger: e.Position}
	signed, err := Sign(c, s.cfg.SigningKey)
	if err != nil {
		return Result{}, err
	}
	c.StatementHash = hexHash(c.Statement)
	return Result{Certificate: c, Signed: signed, Repeated: repeated}, nil
}

func (s *Shredder) audit(ctx context.Context, e Entry, o shredOpts, reason string) error {
	attrs := map[string]string{
		attrCertificateID: e.Statement.ID,
		"ledger_seq":      strconv.FormatUint(e.Position.Seq, 10),
		attrKeyCount:      strconv.Itoa(len(e.Statement.KeyIDs)),
	}
	if err := s.cfg.Audit.Write(ctx, s.event(e, o, audit.OutcomeSuccess, reason, attrs)); err != nil {
		return fmt.Errorf("disposal: subject shredded and recorded at ledger entry %d, but the audit event failed (retry Shred to audit it): %w", e.Position.Seq, err)
	}
	return nil
}

func (s *Shredder) event(e Entry, o shredOpts, outcome audit.Outcome, reason string, attrs map[string]string) audit.Event {
	return audit.Event{
		Time: s.now(), Action: audit.ActionShred, Outcome: outcome, Reason: reason,
		Actor: o.actor, Origin: o.origin,
		Target: audit.Target{RecordType: ledgerRecordType, Subject: e.Statement.Subject},
		Attrs:  attrs,
	}
}
