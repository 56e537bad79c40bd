package breach

import (
	"strconv"
	"unicode"
	"unicode/utf8"
)

// Limits of free text in an incident.
const (
	// MaxText is the longest description, vector, factor or reason, in bytes.
	MaxText = 2000
	// MinTextChars and MinTextWords are the least letters-and-digits and
	// words a description or a factor must hold, as for a break-glass
	// reason, so that "x" or "tbd" is not a finding.
	MinTextChars = 20
	MinTextWords = 3
	// maxDigitRun is the longest run of digits free text may hold: longer
	// runs are phone, social security, account and record numbers.
	maxDigitRun = 6
)

// CheckText validates free text meant for an incident record: at most
// MaxText bytes of valid UTF-8 without control characters other than
// newline, at least MinTextChars letters and digits in MinTextWords words,
// and nothing that looks like PHI — an e-mail address, a run of more than
// six digits (ignoring spaces, dots, dashes, slashes and parentheses
// between them: phone, SSN, record numbers) or a date written with
// numbers (1980-02-03, 02/03/1980). Incident records are read by counsel,
// regulators and auditors; they name subjects by opaque identifier only.
// Errors are *FieldError naming field, never quoting s.
func CheckText(field, s string) error {
	if err := checkShortText(field, s, MaxText); err != nil {
		return err
	}
	chars, words, run := 0, 0, 0
	for _, r := range s + " " {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			chars++
			run++
			continue
		}
		if run >= 2 {
			words++
		}
		run = 0
	}
	if chars < MinTextChars || words < MinTextWords {
		return invalid(field, "needs at least "+strconv.Itoa(MinTextChars)+" letters or digits in "+strconv.Itoa(MinTextWords)+" words")
	}
	return nil
}

// checkShortText applies CheckText's encoding and PHI checks without the
// minimum length (identifiers, vectors, labels).
func checkShortText(field, s string, max int) error {
	if len(s) > max {
		return invalid(field, "longer than "+strconv.Itoa(max)+" bytes")
	}
	if !utf8.ValidString(s) {
		return invalid(field, "not valid UTF-8")
	}
	for _, r := range s {
		if r != '\n' && (unicode.IsControl(r) || unicode.Is(unicode.Cf, r)) {
			return invalid(field, "holds control or format characters")
		}
	}
	if why := looksLikePHI(s); why != "" {
		return &FieldError{Field: field, Reason: "holds " + why, Err: ErrPHIText}
	}
	return nil
}

// looksLikePHI names what in s looks like PHI, or returns "".
func looksLikePHI(s string) string {
	rs := []rune(s)
	for i, r := range rs {
		if r == '@' && i > 0 && i < len(rs)-1 && isWordRune(rs[i-1]) && isWordRune(rs[i+1]) {
			return "an e-mail address"
		}
	}
	digits, groups, inNumber := 0, 0, false
	for i := 0; i <= len(rs); i++ {
		var r rune = ' '
		if i < len(rs) {
			r = rs[i]
		}
		switch {
		case unicode.IsDigit(r):
			if !inNumber {
				groups++
			}
			digits++
			inNumber = true
			if digits > maxDigitRun {
				return "a long number (phone, SSN or record number)"
			}
		case inNumber && (r == '-' || r == '/' || r == '.') && i+1 < len(rs) && unicode.IsDigit(rs[i+1]):
			// a separator inside a number: 1980-02-03, 555.123.4567
			inNumber = false
			if groups >= 2 && (r == '-' || r == '/') && digits >= 5 {
				return "a date or a structured number"
			}
		case inNumber && (r == ' ' || r == '(' || r == ')') && i+1 < len(rs) && unicode.IsDigit(rs[i+1]):
			inNumber = false // "555 123 4567" keeps counting
		default:
			digits, groups, inNumber = 0, 0, false
		}
	}
	return ""
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '.' || r == '_' || r == '-'
}
