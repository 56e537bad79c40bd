package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth/passkey"
)

// ceremonyKind tells a registration challenge from a login challenge.
type ceremonyKind int

const (
	ceremonyRegister ceremonyKind = iota + 1
	ceremonyLogin
)

// pendingCeremony is a begun ceremony waiting for its response.
type pendingCeremony struct {
	kind    ceremonyKind
	userID  string // registration: the registering user
	session webauthn.SessionData
	expires time.Time
}

// passkeys runs the WebAuthn ceremonies of a Service over go-webauthn.
// Challenges are kept in this process, each usable once and until
// ChallengeTTL on the Service's clock.
type passkeys struct {
	cfg passkey.Config
	wa  *webauthn.WebAuthn
	a   *authenticator

	mu      sync.Mutex
	pending map[string]pendingCeremony
}

func newPasskeys(cfg passkey.Config, a *authenticator) (*passkeys, error) {
	if cfg.RPID == "" {
		return nil, nil
	}
	if err := cfg.Check(); err != nil {
		return nil, fmt.Errorf("auth: Config.Passkeys: %w", err)
	}
	wa, err := webauthn.New(&webauthn.Config{RPID: cfg.RPID, RPDisplayName: cfg.RPName, RPOrigins: slices.Clone(cfg.Origins)})
	if err != nil {
		return nil, errors.New("auth: Config.Passkeys: relying party refused by WebAuthn")
	}
	return &passkeys{cfg: cfg, wa: wa, a: a, pending: map[string]pendingCeremony{}}, nil
}

// waUser adapts a User to go-webauthn. The user handle is the user ID.
type waUser struct{ u *User }

func (w waUser) WebAuthnID() []byte          { return []byte(w.u.ID) }
func (w waUser) WebAuthnName() string        { return w.u.Name }
func (w waUser) WebAuthnDisplayName() string { return w.u.Name }
func (w waUser) WebAuthnCredentials() []webauthn.Credential {
	out := make([]webauthn.Credential, len(w.u.Passkeys))
	for i, p := range w.u.Passkeys {
		out[i] = webauthn.Credential{ID: p.ID, PublicKey: p.PublicKey, AttestationFormat: p.AttestationFormat,
			Flags:         webauthn.CredentialFlags{UserPresent: true, UserVerified: p.UserVerified, BackupEligible: p.BackupEligible, BackupState: p.BackupState},
			Authenticator: webauthn.Authenticator{AAGUID: p.AAGUID, SignCount: p.SignCount}}
	}
	return out
}

func (pk *passkeys) userVerification() protocol.UserVerificationRequirement {
	if pk.cfg.AllowUnverified {
		return protocol.VerificationPreferred
	}
	return protocol.VerificationRequired
}

// remember stores a begun ceremony under its challenge, dropping expired
// ones first, and returns the options as JSON.
func (pk *passkeys) remember(kind ceremonyKind, userID string, s *webauthn.SessionData, options any) (json.RawMessage, error) {
	b, err := json.Marshal(options)
	if err != nil {
		return nil, fmt.Errorf("auth: passkey options: %w", err)
	}
	now := pk.a.clock.Now()
	s.Expires = time.Time{} // expiry is ours, on the injected clock
	pk.mu.Lock()
	defer pk.mu.Unlock()
	if len(pk.pending) >= pk.cfg.MaxPending {
		for c, p := range pk.pending {
			if !now.Before(p.expires) {
				delete(pk.pending, c)
			}
		}
		if len(pk.pending) >= pk.cfg.MaxPending {
			return nil, passkey.ErrBusy
		}
	}
	pk.pending[s.Challenge] = pendingCeremony{kind: kind, userID: userID, session: *s, expires: now.Add(pk.cfg.ChallengeTTL)}
	return b, nil
}

// take removes and returns the ceremony of challenge: a challenge is used
// at most once, whatever the outcome.
func (pk *passkeys) take(challenge string, kind ceremonyKind, userID string, login bool) (webauthn.SessionData, error) {
	pk.mu.Lock()
	p, ok := pk.pending[challenge]
	if ok {
		delete(pk.pending, challenge)
	}
	pk.mu.Unlock()
	switch {
	case !ok || p.kind != kind || p.userID != userID:
		return webauthn.SessionData{}, passkeyRefusal("unknown_challenge", login)
	case !pk.a.clock.Now().Before(p.expires):
		return webauthn.SessionData{}, passkeyRefusal("expired", login)
	}
	return p.session, nil
}

// event is the audit event of a ceremony on user u (nil when unknown).
func passkeyEvent(action audit.Action, outcome audit.Outcome, reason string, u *User, fingerprint string, origin audit.Origin) audit.Event {
	e := audit.Event{Action: action, Outcome: outcome, Reason: reason, Origin: origin,
		Attrs: map[string]string{"method": "passkey"}}
	if u != nil {
		e.Actor = audit.Actor{UserID: u.ID, TenantID: u.TenantID}
	}
	if fingerprint != "" {
		e.Attrs["credential"] = fingerprint
	}
	return e
}

// refuse audits a refused ceremony and returns err. When the event cannot
// be written, the audit error is returned instead.
func (pk *passkeys) refuse(ctx context.Context, action audit.Action, u *User, fingerprint string, origin audit.Origin, err error) error {
	reason := "error"
	var pe *passkey.Error
	if errors.As(err, &pe) {
		reason = pe.Reason
	}
	if aerr := pk.a.record(ctx, passkeyEvent(action, audit.OutcomeFailure, "passkey_"+reason, u, fingerprint, origin)); aerr != nil {
		return aerr
	}
	return err
}

// verificationFailed maps a go-webauthn error to a PasskeyError without
// its details (which may quote the response).
func verificationFailed(err error, login bool) error {
	var ue *protocol.ErrorUnknownCredential
	if errors.As(err, &ue) {
		return passkeyRefusal("unknown_credential", login)
	}
	return passkeyRefusal("verification_failed", login)
}

// challengeOf returns the challenge a client data claims, for the lookup
// of its ceremony (verification compares it again).
func challengeOf(c protocol.CollectedClientData) string { return c.Challenge }

// findPasskey returns the index of credential id in u's passkeys, or -1.
func findPasskey(u *User, id []byte) int {
	return slices.IndexFunc(u.Passkeys, func(p passkey.Credential) bool { return bytes.Equal(p.ID, id) })
}
