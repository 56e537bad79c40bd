package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth/passkey"
	"github.com/hipaakit/hipaakit/auth/policy"
)

// Passkey logins, passwordless and as the second factor, counted and
// throttled like passwords (login_count.go): the client key is reserved
// first, the account once the response names a usable user, and a success
// resets the account's counter in the compare-and-swap that stores the new
// sign counter.

// passkeyFailure counts a refused passkey login (the client key, and the
// account when reserved), audits it with the credential's fingerprint and
// returns the refusal (or the counting or audit error).
func (a *authenticator) passkeyFailure(ctx context.Context, base audit.Event, u *User, reserved bool, clientKey, fp, reason string) error {
	ev := passkeyEvent(base.Action, audit.OutcomeFailure, "passkey_"+reason, u, fp, base.Origin)
	userID := ""
	if reserved && u != nil {
		userID = u.ID
	}
	if err := a.countFailure(ctx, userID, clientKey, true, ev); err != nil {
		return err
	}
	return passkeyRefusal(reason, true)
}

// finishLogin is FinishPasskeyLogin.
func (pk *passkeys) finishLogin(ctx context.Context, response []byte, clientKey string, origin audit.Origin) (*LoginResult, error) {
	a := pk.a
	now := a.clock.Now()
	base := audit.Event{Action: audit.ActionLoginFailed, Outcome: audit.OutcomeFailure, Origin: origin}
	if err := a.flushRefusals(ctx); err != nil {
		return nil, err
	}
	if err := a.reserveClient(ctx, clientKey, now, base); err != nil {
		return nil, err
	}
	fail := func(u *User, reserved bool, fp, reason string) (*LoginResult, error) {
		return nil, a.passkeyFailure(ctx, base, u, reserved, clientKey, fp, reason)
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return fail(nil, false, "", "malformed")
	}
	fp := passkey.Fingerprint(parsed.RawID)
	raw, reason := a.checkPasskeyChallenge(parsed.Response.CollectedClientData.Challenge, ceremonyLogin, "", now)
	if reason != "" {
		return fail(nil, false, fp, reason)
	}
	if fresh, err := pk.usePasskeyChallenge(ctx, raw, now); err != nil {
		return nil, a.releaseClient(ctx, clientKey, err)
	} else if !fresh {
		return fail(nil, false, fp, "unknown_challenge")
	}
	var u *User
	if id := string(parsed.Response.UserHandle); ValidUserID(id) {
		if u, err = a.users.Get(ctx, id); errors.Is(err, ErrUserNotFound) {
			u = nil
		} else if err != nil {
			return nil, a.releaseClient(ctx, clientKey, err)
		}
	}
	if u == nil || findPasskey(u, parsed.RawID) < 0 {
		return fail(nil, false, fp, "unknown_credential")
	}
	base.Actor = audit.Actor{UserID: u.ID, TenantID: u.TenantID}
	if !u.Active() || u.Lockout.Locked() {
		return fail(u, false, fp, "user_inactive")
	}
	fresh, w, err := a.reserve(ctx, u.ID, now, base)
	if err != nil {
		return nil, err
	}
	if w > 0 {
		return nil, a.throttled(ctx, "u\x00"+u.ID, base, w)
	}
	if !fresh.Active() || fresh.Lockout.Locked() {
		return fail(fresh, true, fp, "user_inactive")
	}
	_, session, err := pk.wa.BeginDiscoverableLogin(webauthn.WithChallenge(raw), webauthn.WithUserVerification(protocol.VerificationPreferred))
	if err != nil {
		return fail(fresh, true, fp, "verification_failed")
	}
	handler := func(_, userHandle []byte) (webauthn.User, error) {
		if string(userHandle) != fresh.ID {
			return nil, errors.New("auth: user handle changed")
		}
		return waUser{fresh}, nil
	}
	if _, _, err := pk.wa.ValidatePasskeyLogin(handler, *session, parsed); err != nil {
		return fail(fresh, true, fp, verificationFailed(err))
	}
	return pk.succeed(ctx, fresh, parsed, clientKey, base, fp, nil, false)
}

// passkeySecondFactorUser returns the user of a password step's challenge
// that may use a passkey as its second factor, and whether the tenant
// demands user verification; anything else is ErrInvalidCredentials.
func (a *authenticator) passkeySecondFactorUser(ctx context.Context, challenge string, now time.Time) (*User, bool, error) {
	c, err := a.parseChallenge(challenge, now)
	if err != nil {
		return nil, false, ErrInvalidCredentials
	}
	u, err := a.users.Get(ctx, c.userID)
	if errors.Is(err, ErrUserNotFound) {
		return nil, false, ErrInvalidCredentials
	}
	if err != nil {
		return nil, false, err
	}
	tp, err := a.tenantPolicy(ctx, u.TenantID)
	if err != nil {
		return nil, false, err
	}
	if !u.Active() || u.Lockout.Locked() || !u.PasswordChangedAt.Equal(c.pwChanged) || !c.unused(u) || !a.passkeyFactor(&tp, u) {
		return nil, false, ErrInvalidCredentials
	}
	return u, a.pk.uvRequired(&tp), nil
}

// passkeyFactor reports whether u may use a passkey as the second factor
// under tp.
func (a *authenticator) passkeyFactor(tp *policy.Tenant, u *User) bool {
	return a.pk != nil && tp.PasskeySecondFactor && len(u.Passkeys) > 0
}

// secondFactor verifies a passkey assertion as the second factor for u,
// whose password step passed and whose account attempt is reserved; guard
// must still accept the user (the challenge is unused).
func (pk *passkeys) secondFactor(ctx context.Context, u *User, response []byte, clientKey string, base audit.Event, guard func(*User) bool) (*LoginResult, error) {
	a := pk.a
	now := a.clock.Now()
	fail := func(fp, reason string) (*LoginResult, error) {
		return nil, a.passkeyFailure(ctx, base, u, true, clientKey, fp, reason)
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return fail("", "malformed")
	}
	fp := passkey.Fingerprint(parsed.RawID)
	raw, reason := a.checkPasskeyChallenge(parsed.Response.CollectedClientData.Challenge, ceremonySecondFactor, u.ID, now)
	if reason != "" {
		return fail(fp, reason)
	}
	if fresh, err := pk.usePasskeyChallenge(ctx, raw, now); err != nil {
		return nil, err
	} else if !fresh {
		return fail(fp, "unknown_challenge")
	}
	if findPasskey(u, parsed.RawID) < 0 {
		return fail(fp, "unknown_credential")
	}
	_, session, err := pk.wa.BeginLogin(waUser{u}, webauthn.WithChallenge(raw), webauthn.WithUserVerification(protocol.VerificationPreferred))
	if err != nil {
		return fail(fp, "verification_failed")
	}
	session.Challenge = base64.RawURLEncoding.EncodeToString(raw)
	if _, err := pk.wa.ValidateLogin(waUser{u}, *session, parsed); err != nil {
		return fail(fp, verificationFailed(err))
	}
	return pk.succeed(ctx, u, parsed, clientKey, base, fp, guard, true)
}

// succeed completes a verified assertion: the tenant's user verification,
// then, in one compare-and-swap, the sign counter (refused as "cloned"
// when a counting authenticator did not count up), the last use and the
// reset of the account's failures; then the client key is released and the
// login audited.
func (pk *passkeys) succeed(ctx context.Context, u *User, parsed *protocol.ParsedCredentialAssertionData, clientKey string, base audit.Event, fp string, guard func(*User) bool, secondFactor bool) (*LoginResult, error) {
	a := pk.a
	fail := func(reason string) (*LoginResult, error) {
		return nil, a.passkeyFailure(ctx, base, u, true, clientKey, fp, reason)
	}
	tp, err := a.tenantPolicy(ctx, u.TenantID)
	if err != nil {
		return nil, err
	}
	uv := parsed.Response.AuthenticatorData.Flags.HasUserVerified()
	if pk.uvRequired(&tp) && !uv {
		return fail("user_verification_required")
	}
	counter := parsed.Response.AuthenticatorData.Counter
	now := a.storeNow()
	updated, err := a.modify(ctx, u.ID, func(u *User) error {
		i := findPasskey(u, parsed.RawID)
		switch {
		case i < 0:
			return passkeyRefusal("unknown_credential", true)
		case u.Lockout.Locked() || !u.Active():
			return passkeyRefusal("user_inactive", true)
		case guard != nil && !guard(u):
			return passkeyRefusal("unknown_challenge", true)
		}
		p := &u.Passkeys[i]
		if (p.SignCount != 0 || counter != 0) && counter <= p.SignCount {
			return passkeyRefusal("cloned", true)
		}
		p.SignCount, p.LastUsedAt = counter, now
		p.BackupState = parsed.Response.AuthenticatorData.Flags.HasBackupState()
		u.Lockout = LockoutState{}
		return nil
	})
	var pe *passkey.Error
	if errors.As(err, &pe) {
		return fail(pe.Reason)
	}
	if err != nil {
		return nil, err
	}
	if err := a.releaseClient(ctx, clientKey, nil); err != nil {
		return nil, err
	}
	mfa := uv || secondFactor
	ev := passkeyEvent(audit.ActionLogin, audit.OutcomeSuccess, reasonPasskeyLogin, updated, fp, base.Origin)
	ev.Attrs["mfa"] = boolString(mfa)
	if secondFactor {
		ev.Attrs["factor"] = "passkey"
	}
	if err := a.record(ctx, ev); err != nil {
		return nil, err
	}
	res := &LoginResult{User: updated, Authenticated: true, MFA: mfa, Passkey: true,
		MFAEnrollmentRequired: tp.RequireMFA && !mfa && !updated.MFA.TOTPActive}
	if secondFactor {
		pol, err := a.PasswordPolicyFor(ctx, u.TenantID)
		if err != nil {
			return nil, err
		}
		res.PasswordExpired = pol.Expired(updated.PasswordChangedAt, a.clock.Now())
	}
	return res, nil
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
