package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth/passkey"
)

// Audit reasons of the passkey ceremonies (besides "passkey_<passkey.Error
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
// is "none", and user verification is asked for as the user's tenant
// demands (policy.Tenant.PasskeyUserVerification). The caller
// re-authenticates the user first (the HTTP endpoint requires a recent
// authentication). Any replica of the deployment may finish it.
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
	tp, err := s.authn.tenantPolicy(ctx, u.TenantID)
	if err != nil {
		return nil, err
	}
	creation, _, err := pk.wa.BeginRegistration(waUser{u}, registrationOptions(u, pk.uvRequired(&tp))...)
	if err != nil {
		return nil, passkeyRefusal("begin_failed", false)
	}
	creation.Response.Challenge = pk.a.newPasskeyChallenge(ceremonyRegister, u.ID, s.authn.clock.Now(), pk.cfg.ChallengeTTL)
	return options(creation)
}

// FinishPasskeyRegistration verifies the browser's response to the options
// of BeginPasskeyRegistration (the PublicKeyCredential as JSON) and stores
// the credential under name. The challenge is used once; an expired or
// unknown challenge, a wrong origin or RP ID, a user verification the
// tenant requires but the response lacks ("user_verification_required"),
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
	fail := func(fp, reason string) (passkey.Credential, error) {
		return passkey.Credential{}, pk.refuse(ctx, audit.ActionMFAEnrolled, u, fp, origin, passkeyRefusal(reason, false))
	}
	if !validPasskeyName(name) {
		return fail("", "bad_name")
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return fail("", "malformed")
	}
	now := s.authn.clock.Now()
	raw, reason := s.authn.checkPasskeyChallenge(parsed.Response.CollectedClientData.Challenge, ceremonyRegister, u.ID, now)
	if reason != "" {
		return fail("", reason)
	}
	if fresh, err := pk.usePasskeyChallenge(ctx, raw, now); err != nil {
		return passkey.Credential{}, err
	} else if !fresh {
		return fail("", "unknown_challenge")
	}
	if !u.Active() {
		return fail("", "user_inactive")
	}
	tp, err := s.authn.tenantPolicy(ctx, u.TenantID)
	if err != nil {
		return passkey.Credential{}, err
	}
	_, session, err := pk.wa.BeginRegistration(waUser{u}, registrationOptions(u, false)...)
	if err != nil {
		return fail("", "verification_failed")
	}
	session.Challenge = base64.RawURLEncoding.EncodeToString(raw)
	cred, err := pk.wa.CreateCredential(waUser{u}, *session, parsed)
	if err != nil {
		return fail("", verificationFailed(err))
	}
	fp := passkey.Fingerprint(cred.ID)
	if pk.uvRequired(&tp) && !cred.Flags.UserVerified {
		return fail(fp, "user_verification_required")
	}
	if len(pk.cfg.AAGUIDs) > 0 && !slices.ContainsFunc(pk.cfg.AAGUIDs, func(a []byte) bool { return string(a) == string(cred.Authenticator.AAGUID) }) {
		return fail(fp, "aaguid_not_allowed")
	}
	p := passkey.Credential{ID: cred.ID, Name: name, PublicKey: cred.PublicKey, SignCount: cred.Authenticator.SignCount,
		AAGUID: cred.Authenticator.AAGUID, UserVerified: cred.Flags.UserVerified, BackupEligible: cred.Flags.BackupEligible,
		BackupState: cred.Flags.BackupState, AttestationFormat: cred.AttestationFormat, CreatedAt: s.authn.storeNow()}
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
		return passkey.Credential{}, pk.refuse(ctx, audit.ActionMFAEnrolled, u, fp, origin, err)
	}
	if err := s.authn.record(ctx, passkeyEvent(audit.ActionMFAEnrolled, audit.OutcomeSuccess, reasonPasskeyRegistered, u, fp, origin)); err != nil {
		return passkey.Credential{}, err
	}
	return p, nil
}

// BeginPasskeyLogin starts a passkey login and returns the
// PublicKeyCredentialRequestOptions (JSON). With secondFactor "" it is a
// passwordless login with a discoverable credential: the options name no
// user and the authenticator chooses the credential; finish it with
// FinishPasskeyLogin. With secondFactor the Challenge of a Login that
// answered SecondFactorRequired (the tenant allows
// policy.Tenant.PasskeySecondFactor), the options list that user's
// passkeys; finish it with VerifySecondFactor (SecondFactorRequest.Passkey).
// Any replica of the deployment may finish it.
func (s *Service) BeginPasskeyLogin(ctx context.Context, secondFactor string) (json.RawMessage, error) {
	pk, err := s.pk()
	if err != nil {
		return nil, err
	}
	now := s.authn.clock.Now()
	if secondFactor == "" {
		ch := pk.a.newPasskeyChallenge(ceremonyLogin, "", now, pk.cfg.ChallengeTTL)
		assertion, _, err := pk.wa.BeginDiscoverableLogin(webauthn.WithChallenge(ch), webauthn.WithUserVerification(uvOption(!pk.cfg.AllowUnverified)))
		if err != nil {
			return nil, passkeyRefusal("begin_failed", true)
		}
		return options(assertion)
	}
	u, uv, err := s.authn.passkeySecondFactorUser(ctx, secondFactor, now)
	if err != nil {
		return nil, err
	}
	ch := pk.a.newPasskeyChallenge(ceremonySecondFactor, u.ID, now, pk.cfg.ChallengeTTL)
	assertion, _, err := pk.wa.BeginLogin(waUser{u}, webauthn.WithChallenge(ch), webauthn.WithUserVerification(uvOption(uv)))
	if err != nil {
		return nil, passkeyRefusal("begin_failed", true)
	}
	return options(assertion)
}

// FinishPasskeyLogin verifies the browser's assertion for a passwordless
// login begun with BeginPasskeyLogin(ctx, "") and returns the result; start
// the session with BeginPasskeySession. It is throttled and counted like a
// password: the attempt is reserved against clientKey (see
// LoginRequest.ClientKey) and, once the credential names a usable user,
// against the account (User.Lockout, the same back-off and lockout), and a
// success resets both. The result has MFA when the authenticator verified
// the user (a multi-factor cryptographic authenticator); the tenant may
// require it (policy.Tenant.PasskeyUserVerification). The credential's
// sign counter must increase when the authenticator counts (else
// "cloned": refused, the counter kept). Every refusal matches
// ErrInvalidCredentials (a *passkey.Error says why, or a *ThrottledError)
// and is audited as login_failed with reason "passkey_<reason>"; a success
// as login with reason "passkey".
func (s *Service) FinishPasskeyLogin(ctx context.Context, response []byte, clientKey string, origin audit.Origin) (*LoginResult, error) {
	pk, err := s.pk()
	if err != nil {
		return nil, err
	}
	return pk.finishLogin(ctx, response, clientKey, origin)
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
// (passkey.Credential.Fingerprint) and ends the user's sessions other than
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

// BeginPasskeySession starts the session of a login that FinishPasskeyLogin
// or a passkey VerifySecondFactor completed: like Begin with res.MFA, and
// the session records the passkey, which the policy step requires for
// policy.Tenant.PasskeyRoles. For any other result it is Begin.
func (s *Service) BeginPasskeySession(ctx context.Context, w http.ResponseWriter, r *http.Request, res *LoginResult) (Session, string, error) {
	return s.sessions.begin(ctx, w, r, res.User, res.MFA, res.Passkey)
}
