package auth

import (
	"errors"
)

// ErrRefused matches every *RefusedError (errors.Is).
var ErrRefused = errors.New("auth: operation refused")

// RefusedError is an operation that one of the package's rules refuses,
// rather than bad credentials (ErrInvalidCredentials) or bad input
// (ErrInvalidUser, password.ErrWeak, policy.ErrInvalid). Reason is a stable
// code, the one the HTTP endpoints answer with:
//
//	self_administration             an identity acting on itself
//	last_administrator              the tenant would keep no administrator
//	second_administrator_required   the requester approving their own role request
//	approval_pending                a PHI role grant waits for a second administrator (SetRoles)
//	no_role_request                 nothing to approve or reject
//	recovery_not_allowed            the tenant policy does not allow that recovery method
//	user_inactive                   the user is disabled or removed
//	mfa_not_enrolled, mfa_already_active, no_sealer   second-factor state and configuration
//	invalid_code                    a TOTP code that does not match (enrolment, change)
//	invalid_totp_params, weak_totp_secret             an unusable TOTP import or enrolment
//	reauthentication_required       the session's authentication is too old
//	csrf                            a cross-site state-changing request
//	emergency_denied                a refused break-glass elevation
//
// The documentation names a refusal by its Reason (refusal "csrf"). Messages
// never contain credentials, secrets or PHI.
type RefusedError struct {
	Reason string
	msg    string
}

func (e *RefusedError) Error() string { return e.msg }

// Is reports whether target is ErrRefused.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// refusal returns the *RefusedError for reason with message msg.
func refusal(reason, msg string) error { return &RefusedError{Reason: reason, msg: msg} }
