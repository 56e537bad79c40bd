package auth

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// ErrWeakPassword reports a password the policy refuses. The error is a
// *PasswordError whose Reason says why; it never contains the password.
var ErrWeakPassword = errors.New("auth: password refused by policy")

// PasswordReason says why a password was refused.
type PasswordReason string

// Reasons a password is refused.
const (
	ReasonTooShort    PasswordReason = "too_short"
	ReasonTooLong     PasswordReason = "too_long"
	ReasonInvalid     PasswordReason = "invalid_characters" // invalid UTF-8 or control characters
	ReasonBlocklisted PasswordReason = "blocklisted"        // a common or breached password
	// ReasonBlocklistedVariant: a listed password with its letters
	// substituted (0 for o, @ for a, ...) or digits and symbols appended.
	ReasonBlocklistedVariant PasswordReason = "blocklisted_variant"
	ReasonContext            PasswordReason = "context_word" // contains the user name, tenant or app name
	ReasonRepetitive         PasswordReason = "repetitive"   // one character repeated, or a run like "12345678"
)

// PasswordError is a refused password's reason, for showing to the user.
type PasswordError struct {
	Reason PasswordReason
	// Min and Max are the length limits in code points that applied.
	Min, Max int
}

func (e *PasswordError) Error() string {
	switch e.Reason {
	case ReasonTooShort:
		return fmt.Sprintf("auth: password refused: shorter than %d characters", e.Min)
	case ReasonTooLong:
		return fmt.Sprintf("auth: password refused: longer than %d characters", e.Max)
	case ReasonInvalid:
		return "auth: password refused: invalid or control characters"
	case ReasonBlocklisted:
		return "auth: password refused: it is a commonly used or breached password"
	case ReasonBlocklistedVariant:
		return "auth: password refused: it is a commonly used or breached password with substituted characters or appended digits and symbols"
	case ReasonContext:
		return "auth: password refused: it contains the user name, organisation or application name"
	case ReasonRepetitive:
		return "auth: password refused: repetitive or sequential characters"
	}
	return "auth: password refused"
}

// Is makes errors.Is(err, ErrWeakPassword) true.
func (e *PasswordError) Is(target error) bool { return target == ErrWeakPassword }

// PasswordPolicy is the password policy of NIST SP 800-63B rev 4, section
// 3.1.1.2. Lengths count Unicode code points after NFKC normalisation. There
// are no composition rules (no "one digit, one symbol"), no hints, and no
// periodic change unless MaxAge is set. Build it with DefaultPasswordPolicy
// and adjust fields; Check refuses an invalid policy.
type PasswordPolicy struct {
	// MinLength applies when the password is the only authentication
	// factor (default 15, at least 8).
	MinLength int
	// MinLengthWithMFA applies when the user has a second factor
	// (default 8, at least 8).
	MinLengthWithMFA int
	// MaxLength is the longest accepted password (default 128, at least 64).
	// Longer passwords are refused, never truncated.
	MaxLength int
	// Blocklist holds the refused common and breached passwords (default
	// DefaultBlocklist()). It must not be nil.
	Blocklist *Blocklist
	// AppName is a context word refused in passwords, e.g. "Acme Clinic".
	AppName string
	// MaxAge, when non-zero, makes a password expire this long after it was
	// set (for organisations whose policy demands rotation; NIST advises
	// against it, so it is off by default).
	MaxAge time.Duration
}

// DefaultPasswordPolicy returns the defaults documented on PasswordPolicy.
func DefaultPasswordPolicy() PasswordPolicy {
	return PasswordPolicy{MinLength: 15, MinLengthWithMFA: 8, MaxLength: 128, Blocklist: DefaultBlocklist()}
}

// maxPasswordBytes bounds the input any code path hashes, whatever the policy.
const maxPasswordBytes = 4096

// Validate reports whether p is a usable policy.
func (p PasswordPolicy) Validate() error {
	switch {
	case p.MinLength < 8 || p.MinLengthWithMFA < 8:
		return errors.New("auth: password policy: minimum length must be at least 8")
	case p.MaxLength < 64 || p.MaxLength > maxPasswordBytes/4:
		return fmt.Errorf("auth: password policy: maximum length must be 64..%d", maxPasswordBytes/4)
	case p.MinLength > p.MaxLength || p.MinLengthWithMFA > p.MaxLength:
		return errors.New("auth: password policy: minimum length above maximum")
	case p.Blocklist == nil:
		return errors.New("auth: password policy: no blocklist")
	case p.MaxAge < 0:
		return errors.New("auth: password policy: negative maximum age")
	}
	return nil
}

// PasswordContext is what a new password is checked against besides the
// blocklist.
type PasswordContext struct {
	UserName string // the login name
	TenantID string
	// Words are further context words (display name, service name, ...).
	Words []string
	// MFA is true when the user has (or is enrolling) a second factor,
	// which lowers the minimum length to MinLengthWithMFA.
	MFA bool
}

// Check returns nil when password is acceptable for a user in pc, or a
// *PasswordError (matching ErrWeakPassword) with the reason. It fails closed
// with another error when the policy is invalid or the blocklist cannot load.
func (p PasswordPolicy) Check(password string, pc PasswordContext) error {
	if err := p.Validate(); err != nil {
		return err
	}
	minLen := p.MinLength
	if pc.MFA {
		minLen = p.MinLengthWithMFA
	}
	perr := func(r PasswordReason) error { return &PasswordError{Reason: r, Min: minLen, Max: p.MaxLength} }
	if len(password) > maxPasswordBytes {
		return perr(ReasonTooLong)
	}
	if !utf8.ValidString(password) {
		return perr(ReasonInvalid)
	}
	pw := normalizePassword(password)
	n := 0
	for _, r := range pw {
		if unicode.IsControl(r) {
			return perr(ReasonInvalid)
		}
		n++
	}
	if n < minLen {
		return perr(ReasonTooShort)
	}
	if n > p.MaxLength {
		return perr(ReasonTooLong)
	}
	if repetitive(pw) {
		return perr(ReasonRepetitive)
	}
	listed, err := p.Blocklist.contains(pw)
	if err != nil {
		return err
	}
	if listed {
		return perr(ReasonBlocklisted)
	}
	if listed, err = p.Blocklist.containsVariant(pw); err != nil {
		return err
	}
	if listed {
		return perr(ReasonBlocklistedVariant)
	}
	lower := blocklistKey(pw)
	words := append([]string{pc.UserName, pc.TenantID, p.AppName}, pc.Words...)
	if local, _, ok := strings.Cut(pc.UserName, "@"); ok {
		words = append(words, local)
	}
	for _, w := range words {
		if containsContextWord(lower, blocklistKey(strings.TrimSpace(w))) {
			return perr(ReasonContext)
		}
	}
	return nil
}

// containsContextWord reports whether the lower-cased password contains
// word: anywhere for words of four or more code points, as the whole
// password (ignoring digits and symbols around it) for shorter ones, so
// that a two-letter tenant ID does not refuse half of all passwords.
func containsContextWord(pw, word string) bool {
	if word == "" {
		return false
	}
	if utf8.RuneCountInString(word) >= 4 {
		return strings.Contains(pw, word)
	}
	core := strings.TrimFunc(pw, func(r rune) bool { return !unicode.IsLetter(r) })
	return core == word
}

// repetitive reports whether pw is one character repeated, or a run of
// consecutive code points up or down ("abcdefgh", "87654321"), or one short
// unit (up to 3 code points) repeated ("abcabcabc").
func repetitive(pw string) bool {
	rs := []rune(pw)
	if len(rs) < 2 {
		return false
	}
	up, down := true, true
	for i := 1; i < len(rs); i++ {
		up = up && rs[i] == rs[i-1]+1
		down = down && rs[i] == rs[i-1]-1
	}
	if up || down {
		return true
	}
	for unit := 1; unit <= 3 && unit < len(rs); unit++ {
		same := true
		for i := unit; i < len(rs) && same; i++ {
			same = rs[i] == rs[i-unit]
		}
		if same {
			return true
		}
	}
	return false
}

// expired reports whether a password set at changedAt has outlived MaxAge
// at now. It is always false when MaxAge is zero.
func (p PasswordPolicy) expired(changedAt, now time.Time) bool {
	return p.MaxAge > 0 && !changedAt.IsZero() && now.Sub(changedAt) >= p.MaxAge
}
