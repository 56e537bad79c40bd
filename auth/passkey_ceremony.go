package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth/passkey"
	"github.com/hipaakit/hipaakit/auth/policy"
)

// ceremonyKind tells the ceremonies a passkey challenge is for apart.
type ceremonyKind byte

const (
	ceremonyRegister     ceremonyKind = iota + 1 // registration by a signed-in user
	ceremonyLogin                                // passwordless login (discoverable credential)
	ceremonySecondFactor                         // the second factor after the password
)

// passkeys runs the WebAuthn ceremonies of a Service over go-webauthn.
// It keeps no state between Begin and Finish: the challenge carries what
// Finish needs, signed (passkey_challenge.go), and its single use is
// recorded in the AttemptStore, so that any replica finishes a ceremony
// another began.
type passkeys struct {
	cfg passkey.Config
	wa  *webauthn.WebAuthn
	a   *authenticator
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
	pk := &passkeys{cfg: cfg, wa: wa, a: a}
	a.pk = pk
	return pk, nil
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

// uvRequired reports whether tp demands user verification of passkeys
// (policy.Tenant.PasskeyUserVerification, else the deployment's setting).
func (pk *passkeys) uvRequired(tp *policy.Tenant) bool {
	switch tp.PasskeyUserVerification {
	case policy.UserVerificationRequired:
		return true
	case policy.UserVerificationPreferred:
		return false
	}
	return !pk.cfg.AllowUnverified
}

// uvOption is the userVerification member of the options for required.
func uvOption(required bool) protocol.UserVerificationRequirement {
	if required {
		return protocol.VerificationRequired
	}
	return protocol.VerificationPreferred
}

// registrationOptions are the options of a registration for u: a
// discoverable credential, attestation "none", the user's credentials
// excluded.
func registrationOptions(u *User, uv bool) []webauthn.RegistrationOption {
	exclude := make([]protocol.CredentialDescriptor, len(u.Passkeys))
	for i, p := range u.Passkeys {
		exclude[i] = protocol.CredentialDescriptor{Type: protocol.PublicKeyCredentialType, CredentialID: p.ID}
	}
	return []webauthn.RegistrationOption{
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			ResidentKey: protocol.ResidentKeyRequirementRequired, RequireResidentKey: protocol.ResidentKeyRequired(),
			UserVerification: uvOption(uv)}),
		webauthn.WithConveyancePreference(protocol.PreferNoAttestation),
		webauthn.WithExclusions(exclude)}
}

// options encodes the options of a begun ceremony.
func options(v any) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("auth: passkey options: %w", err)
	}
	return b, nil
}

// passkeyEvent is the audit event of a ceremony on user u (nil when unknown).
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

// refuse audits a refused registration and returns err. When the event
// cannot be written, the audit error is returned instead.
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

// verificationFailed is the refusal reason of a go-webauthn error, without
// its details (which may quote the response).
func verificationFailed(err error) string {
	var ue *protocol.ErrorUnknownCredential
	if errors.As(err, &ue) {
		return "unknown_credential"
	}
	return "verification_failed"
}

// findPasskey returns the index of credential id in u's passkeys, or -1.
func findPasskey(u *User, id []byte) int {
	return slices.IndexFunc(u.Passkeys, func(p passkey.Credential) bool { return bytes.Equal(p.ID, id) })
}
