package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth/policy"
)

// Recovery codes are NIST SP 800-63B look-up secrets: recoveryCodeCount
// single-use codes per user, issued when TOTP is activated, each of 120
// random bits written as 24 Crockford base32 characters in groups of four
// ("7k2m-q9x4-..."). With at least 112 bits of entropy NIST allows a plain
// approved hash, so each code is stored as SHA-256 over a domain label, the
// user ID and the code: "rc1$" + unpadded base64. A used code is removed.
const (
	recoveryCodeCount = 10
	recoveryCodeChars = 24
	recoveryHashTag   = "rc1$"
)

// crockford is Crockford's base32 alphabet in lower case (no i, l, o, u).
const crockford = "0123456789abcdefghjkmnpqrstvwxyz"

// newRecoveryCodes returns recoveryCodeCount fresh codes for userID and
// their stored hashes.
func newRecoveryCodes(userID string) (codes, hashes []string, err error) {
	for range recoveryCodeCount {
		var raw [15]byte // 120 bits
		if _, err := rand.Read(raw[:]); err != nil {
			return nil, nil, fmt.Errorf("auth: recovery code: %w", err)
		}
		var sb strings.Builder
		acc, bits := uint32(0), 0
		for _, b := range raw {
			acc = acc<<8 | uint32(b)
			bits += 8
			for bits >= 5 {
				bits -= 5
				if n := sb.Len(); n > 0 && (n+1)%5 == 0 {
					sb.WriteByte('-')
				}
				sb.WriteByte(crockford[(acc>>bits)&31])
			}
		}
		code := sb.String()
		canon, _ := parseRecoveryCode(code)
		codes = append(codes, code)
		hashes = append(hashes, hashRecoveryCode(userID, canon))
	}
	return codes, hashes, nil
}

// parseRecoveryCode returns the canonical form of a typed recovery code:
// lower case, without hyphens or spaces, with Crockford's substitutions
// (i, l → 1; o → 0). It accepts exactly 24 base32 characters.
func parseRecoveryCode(s string) (string, bool) {
	if len(s) > 64 {
		return "", false
	}
	var b [recoveryCodeChars]byte
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		switch c {
		case '-', ' ':
			continue
		case 'i', 'l':
			c = '1'
		case 'o':
			c = '0'
		}
		if strings.IndexByte(crockford, c) < 0 || n == recoveryCodeChars {
			return "", false
		}
		b[n] = c
		n++
	}
	if n != recoveryCodeChars {
		return "", false
	}
	return string(b[:]), true
}

func hashRecoveryCode(userID, canon string) string {
	h := sha256.New()
	h.Write([]byte("hipaakit/auth/recovery-code/v1\x00"))
	h.Write([]byte(userID))
	h.Write([]byte{0})
	h.Write([]byte(canon))
	return recoveryHashTag + base64.RawStdEncoding.EncodeToString(h.Sum(nil))
}

// useRecoveryCode consumes the recovery code matching code, if any, with
// compare-and-swap: two concurrent uses of one code let exactly one through.
// All stored hashes are compared in constant time. It returns false when
// guard (if not nil) refuses the user as read for an attempt. also, when
// not nil, makes further changes in the same compare-and-swap (the login
// resets the failure counter there); its error aborts the attempt.
func (a *authenticator) useRecoveryCode(ctx context.Context, u *User, code string, guard func(*User) bool, also func(*User) error) (bool, error) {
	canon, ok := parseRecoveryCode(code)
	if !ok {
		return false, nil
	}
	want := []byte(hashRecoveryCode(u.ID, canon))
	for range maxCASRetries {
		if guard != nil && !guard(u) {
			return false, nil
		}
		idx := -1
		for i, h := range u.MFA.RecoveryCodes {
			if subtle.ConstantTimeCompare([]byte(h), want) == 1 && idx < 0 {
				idx = i
			}
		}
		if idx < 0 {
			return false, nil
		}
		u.MFA.RecoveryCodes = slices.Delete(u.MFA.RecoveryCodes, idx, idx+1)
		if also != nil {
			if err := also(u); err != nil {
				return false, err
			}
		}
		u.UpdatedAt = a.storeNow()
		err := a.users.Update(ctx, u)
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, ErrVersionConflict) {
			return false, err
		}
		var gerr error
		if u, gerr = a.users.Get(ctx, u.ID); gerr != nil {
			return false, gerr
		}
	}
	return false, ErrVersionConflict
}

// RegenerateRecoveryCodes replaces the user's recovery codes with
// recoveryCodeCount new ones and returns them (shown once). The user must
// have active TOTP and the tenant's policy must allow recovery codes
// (else refusal "recovery_not_allowed"); the caller re-authenticates the user first.
func (a *authenticator) RegenerateRecoveryCodes(ctx context.Context, userID string, actor audit.Actor, origin audit.Origin) ([]string, error) {
	cur, err := a.users.Get(ctx, userID)
	if err != nil {
		return nil, err
	}
	tp, err := a.tenantPolicy(ctx, cur.TenantID)
	if err != nil {
		return nil, err
	}
	if !tp.AllowsRecovery(policy.RecoveryCodes) {
		return nil, errRecoveryNotAllowed
	}
	var codes []string
	u, err := a.modify(ctx, userID, func(u *User) error {
		if !u.Active() {
			return errUserInactive
		}
		if !u.MFA.TOTPActive {
			return errMFANotEnrolled
		}
		c, h, err := newRecoveryCodes(u.ID)
		if err != nil {
			return err
		}
		codes, u.MFA.RecoveryCodes = c, h
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := a.record(ctx, audit.Event{Action: audit.ActionMFAEnrolled, Outcome: audit.OutcomeSuccess,
		Reason: "recovery_codes_regenerated", Actor: actor, Origin: origin,
		Target: audit.Target{RecordType: "user", RecordID: u.ID}}); err != nil {
		return nil, err
	}
	return codes, nil
}

// RegenerateRecoveryCodes answers {} from a signed-in user with
// {"recovery_codes": [...]}: recoveryCodeCount new codes, shown once; the
// previous codes stop working. Mount registers it behind
// SessionManager.RequireRecentAuth, so a session whose authentication is
// not recent answers 401 "reauthentication_required" and the user
// re-authenticates (POST /reauth) first. Audited as
// mfa_enrolled/"recovery_codes_regenerated". A user without active TOTP
// gets 409 "mfa_not_enrolled"; a tenant without recovery codes 403
// "recovery_not_allowed".
func (h *endpoints) RegenerateRecoveryCodes(w http.ResponseWriter, r *http.Request) {
	var b struct{}
	st, ok := h.sessionAndBody(w, r, &b)
	if !ok {
		return
	}
	codes, err := h.auth.RegenerateRecoveryCodes(r.Context(), st.p.UserID, st.p.Actor(), h.sm.origin(r))
	if errors.Is(err, errRecoveryNotAllowed) {
		writeError(w, http.StatusForbidden, "recovery_not_allowed")
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"recovery_codes": codes})
}

// enrolmentRecoveryCodes returns fresh recovery codes and their hashes for
// a second factor u is enrolling, or none when u's tenant does not allow
// recovery codes.
func (a *authenticator) enrolmentRecoveryCodes(ctx context.Context, u *User) (codes, hashes []string, err error) {
	tp, err := a.tenantPolicy(ctx, u.TenantID)
	if err != nil || !tp.AllowsRecovery(policy.RecoveryCodes) {
		return nil, nil, err
	}
	return newRecoveryCodes(u.ID)
}
