package auth

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth/passkey"
)

// Audit reasons of the passkey ceremonies (besides "passkey_<PasskeyError
// reason>" for refusals).
const (
	reasonPasskeyRegistered = "passkey_registered"
	reasonPasskeyRemoved    = "passkey_removed"
	reasonPasskeyLogin      = "passkey"
	// reasonLastPasskey refuses removing the last passkey of a user whose
	// roles require one (policy.Tenant.PasskeyRoles).
	reasonLastPasskey = "last_passkey"
)

func (s *Service) pk() (*passkeys, error) {
	if s.passkeys == nil {
		return nil, passkey.ErrDisabled
	}
	return s.passkeys, nil
}

// BeginPasskeyRegistration starts registering a passkey for an active user
// and returns the PublicKeyCredentialCreationOptions (JSON, the argument of
// navigator.credentials.create after base64url decoding). The credential is
// discoverable (a resident key, usable for passwordless login), attestation
// is "none", and user verification is required unless
// passkey.Config.AllowUnverified. The caller re-authenticates the user first
// (the HTTP endpoint requires a recent authentication).
func (s *Service) BeginPasskeyRegistration(ctx context.Context, userID string) (json.RawMessage, error) {
	pk, err := s.pk()
	if err != nil {
		return nil, err
	}
	u, err := s.authn.users.Get(ctx, userID)
	if err != nil {
		return nil, err
	}
	if !u.Active() {
		return nil, errUserInactive
	}
	if len(u.Passkeys) >= passkey.MaxPerUser {
		return nil, passkeyRefusal("too_many", false)
	}
	exclude := make([]protocol.CredentialDescriptor, len(u.Passkeys))
	for i, p := range u.Passkeys {
		exclude[i] = protocol.CredentialDescriptor{Type: protocol.PublicKeyCredentialType, CredentialID: p.ID}
	}
	creation, session, err := pk.wa.BeginRegistration(waUser{u},
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			ResidentKey: protocol.ResidentKeyRequirementRequired, RequireResidentKey: protocol.ResidentKeyRequired(),
			UserVerification: pk.userVerification()}),
		webauthn.WithConveyancePreference(protocol.PreferNoAttestation),
		webauthn.WithExclusions(exclude))
	if err != nil {
		return nil, passkeyRefusal("begin_failed", false)
	}
	return pk.remember(ceremonyRegister, u.ID, session, creation)
}

// FinishPasskeyRegistration verifies the browser's response to the options
// of BeginPasskeyRegistration (the PublicKeyCredential as JSON) and stores
// the credential under name. The challenge is used once; an expired or
// unknown challenge, a wrong origin or RP ID, a missing user verification,
// an AAGUID outside passkey.Config.AAGUIDs or a credential already
// registered is a *passkey.Error. Success and refusal are audited
// (mfa_enrolled, with the credential's fingerprint, never the response).
func (s *Service) FinishPasskeyRegistration(ctx context.Context, userID, name string, response []byte, origin audit.Origin) (passkey.Credential, error) {
	pk, err := s.pk()
	if err != nil {
		return passkey.Credential{}, err
	}
	u, err := s.authn.users.Get(ctx, userID)
	if err != nil {
		return passkey.Credential{}, err
	}
	fail := func(fp string, err error) (passkey.Credential, error) {
		return passkey.Credential{}, pk.refuse(ctx, audit.ActionMFAEnrolled, u, fp, origin, err)
	}
	if !validPasskeyName(name) {
		return fail("", passkeyRefusal("bad_name", false))
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return fail("", passkeyRefusal("malformed", false))
	}
	session, err := pk.take(challengeOf(parsed.Response.CollectedClientData), ceremonyRegister, u.ID, false)
	if err != nil {
		return fail("", err)
	}
	if !u.Active() {
		return fail("", passkeyRefusal("user_inactive", false))
	}
	cred, err := pk.wa.CreateCredential(waUser{u}, session, parsed)
	if err != nil {
		return fail("", verificationFailed(err, false))
	}
	fp := passkey.Fingerprint(cred.ID)
	if len(pk.cfg.AAGUIDs) > 0 && !slices.ContainsFunc(pk.cfg.AAGUIDs, func(a []byte) bool { return string(a) == string(cred.Authenticator.AAGUID) }) {
		return fail(fp, passkeyRefusal("aaguid_not_allowed", false))
	}
	now := s.authn.storeNow()
	p := passkey.Credential{ID: cred.ID, Name: name, PublicKey: cred.PublicKey, SignCount: cred.Authenticator.SignCount,
		AAGUID: cred.Authenticator.AAGUID, UserVerified: cred.Flags.UserVerified, BackupEligible: cred.Flags.BackupEligible,
		BackupState: cred.Flags.BackupState, AttestationFormat: cred.AttestationFormat, CreatedAt: now}
	for _, t := range cred.Transport {
		p.Transports = append(p.Transports, string(t))
	}
	_, err = s.authn.modify(ctx, u.ID, func(u *User) error {
		switch {
		case !u.Active():
			return passkeyRefusal("user_inactive", false)
		case findPasskey(u, p.ID) >= 0:
			return passkeyRefusal("duplicate", false)
		case len(u.Passkeys) >= passkey.MaxPerUser:
			return passkeyRefusal("too_many", false)
		}
		u.Passkeys = append(u.Passkeys, p)
		return nil
	})
	if err != nil {
		return fail(fp, err)
	}
	if err := s.authn.record(ctx, passkeyEvent(audit.ActionMFAEnrolled, audit.OutcomeSuccess, reasonPasskeyRegistered, u, fp, origin)); err != nil {
		return passkey.Credential{}, err
	}
	return p, nil
}

// BeginPasskeyLogin starts a passwordless login with a discoverable
// credential: the returned PublicKeyCredentialRequestOptions (JSON) name
// no user; the authenticator chooses the credential.
func (s *Service) BeginPasskeyLogin(ctx context.Context) (json.RawMessage, error) {
	pk, err := s.pk()
	if err != nil {
		return nil, err
	}
	assertion, session, err := pk.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(pk.userVerification()))
	if err != nil {
		return nil, passkeyRefusal("begin_failed", true)
	}
	return pk.remember(ceremonyLogin, "", session, assertion)
}

// FinishPasskeyLogin verifies the browser's assertion for a challenge of
// BeginPasskeyLogin and returns the user it authenticates; start the
// session with Service.Begin(ctx, w, r, user, true): a passkey with user
// verification is a multi-factor cryptographic authenticator. The
// credential's sign counter must increase when the authenticator counts
// (else "cloned": the assertion is refused and the counter kept). Every
// refusal matches ErrInvalidCredentials and is audited as login_failed
// with reason "passkey_<reason>"; a success as login with reason
// "passkey".
func (s *Service) FinishPasskeyLogin(ctx context.Context, response []byte, origin audit.Origin) (*User, error) {
	pk, err := s.pk()
	if err != nil {
		return nil, err
	}
	fail := func(u *User, fp string, err error) (*User, error) {
		return nil, pk.refuse(ctx, audit.ActionLoginFailed, u, fp, origin, err)
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return fail(nil, "", passkeyRefusal("malformed", true))
	}
	fp := passkey.Fingerprint(parsed.RawID)
	session, err := pk.take(challengeOf(parsed.Response.CollectedClientData), ceremonyLogin, "", true)
	if err != nil {
		return fail(nil, fp, err)
	}
	var user *User
	handler := func(_, userHandle []byte) (webauthn.User, error) {
		u, err := s.authn.users.Get(ctx, string(userHandle))
		if err != nil {
			return nil, err
		}
		user = u
		return waUser{u}, nil
	}
	_, cred, err := pk.wa.ValidatePasskeyLogin(handler, session, parsed)
	if err != nil {
		if user == nil || findPasskey(user, parsed.RawID) < 0 {
			return fail(user, fp, passkeyRefusal("unknown_credential", true))
		}
		return fail(user, fp, verificationFailed(err, true))
	}
	if !user.Active() || user.Lockout.Locked() {
		return fail(user, fp, passkeyRefusal("user_inactive", true))
	}
	counter := parsed.Response.AuthenticatorData.Counter
	now := s.authn.storeNow()
	updated, err := s.authn.modify(ctx, user.ID, func(u *User) error {
		i := findPasskey(u, cred.ID)
		if i < 0 {
			return passkeyRefusal("unknown_credential", true)
		}
		p := &u.Passkeys[i]
		if (p.SignCount != 0 || counter != 0) && counter <= p.SignCount {
			return passkeyRefusal("cloned", true)
		}
		p.SignCount, p.LastUsedAt = counter, now
		p.BackupState = parsed.Response.AuthenticatorData.Flags.HasBackupState()
		return nil
	})
	if err != nil {
		return fail(user, fp, err)
	}
	if err := s.authn.record(ctx, passkeyEvent(audit.ActionLogin, audit.OutcomeSuccess, reasonPasskeyLogin, updated, fp, origin)); err != nil {
		return nil, err
	}
	return updated, nil
}

// ListPasskeys returns the user's passkeys (copies).
func (s *Service) ListPasskeys(ctx context.Context, userID string) ([]passkey.Credential, error) {
	u, err := s.authn.users.Get(ctx, userID)
	if err != nil {
		return nil, err
	}
	return u.Passkeys, nil
}

// RemovePasskey removes the user's passkey with the given fingerprint
// (Passkey.Fingerprint) and ends the user's sessions other than
// keepSessionID (empty: all of them). It is audited as
// mfa_enrolled/"passkey_removed". passkey.ErrNotFound when the user has no
// such passkey; a *RefusedError with Reason "last_passkey" for the last
// passkey of a user holding one of the tenant's PasskeyRoles.
func (s *Service) RemovePasskey(ctx context.Context, userID, fingerprint, keepSessionID string, origin audit.Origin) error {
	u, err := s.authn.modify(ctx, userID, func(u *User) error {
		i := slices.IndexFunc(u.Passkeys, func(p passkey.Credential) bool { return p.Fingerprint() == fingerprint })
		if i < 0 {
			return passkey.ErrNotFound
		}
		if len(u.Passkeys) == 1 {
			p, err := s.sessions.policy(ctx, u.TenantID)
			if err != nil {
				return err
			}
			if needsPasskey(&p, u.Roles) {
				return refusal(reasonLastPasskey, "auth: the last passkey of a user whose role requires one cannot be removed")
			}
		}
		u.Passkeys = slices.Delete(u.Passkeys, i, i+1)
		if len(u.Passkeys) == 0 {
			u.Passkeys = nil
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := s.authn.record(ctx, passkeyEvent(audit.ActionMFAEnrolled, audit.OutcomeSuccess, reasonPasskeyRemoved, u, fingerprint, origin)); err != nil {
		return err
	}
	return s.authn.revoke(ctx, userID, keepSessionID)
}

// BeginPasskeySession starts a session for u after FinishPasskeyLogin:
// like Begin with MFA, and the session records the passkey, which the
// policy step requires for policy.Tenant.PasskeyRoles.
func (s *Service) BeginPasskeySession(ctx context.Context, w http.ResponseWriter, r *http.Request, u *User) (Session, string, error) {
	return s.sessions.begin(ctx, w, r, u, true, true)
}
