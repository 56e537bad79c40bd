package auth

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Variants of blocklisted passwords. A password whose variant key equals
// the variant key of an entry is refused with ReasonBlocklistedVariant: the
// key is the normalised, lower-cased password with its trailing digits and
// symbols stripped and the common substitutions undone (0→o, 1→i, l→i,
// 3→e, 4→a, 5→s, 7→t, @→a, $→s, !→i; 1 stands for both i and l, so l and i
// are one letter in the key). "Passw0rd!", "Password1!", "Welcome1!" and
// "Summer2024!" are variants of listed passwords. Digits and symbols are
// stripped before the substitutions are undone, so a trailing "3" is a
// digit, not an "e". A key shorter than minVariantKey characters (such as
// the empty key of a password of digits and symbols only) matches nothing:
// so short a stem says little about the password.

// minVariantKey is the length in code points below which a variant key
// matches nothing.
const minVariantKey = 4

// variantKey returns the variant key of pw (see above).
func variantKey(pw string) string {
	k := strings.TrimRightFunc(blocklistKey(pw), func(r rune) bool {
		return unicode.IsDigit(r) || unicode.IsPunct(r) || unicode.IsSymbol(r) || unicode.IsSpace(r)
	})
	return strings.Map(func(r rune) rune {
		switch r {
		case '0':
			return 'o'
		case '1', 'l', '!':
			return 'i'
		case '3':
			return 'e'
		case '4', '@':
			return 'a'
		case '5', '$':
			return 's'
		case '7':
			return 't'
		}
		return r
	}, k)
}

// variants returns the list of the variant keys of b's entries, built on
// first use (about as large again as b).
func (b *Blocklist) variants() (*Blocklist, error) {
	if err := b.init(); err != nil {
		return nil, err
	}
	b.vonce.Do(func() {
		keys := make([]string, 0, len(b.offs))
		for i := range b.offs {
			keys = append(keys, variantKey(string(b.key(b.data, b.offs, i))))
		}
		b.vlist = NewBlocklist(keys)
	})
	return b.vlist, nil
}

// containsVariant reports whether password is a variant of an entry (see
// variantKey): the same after case folding, undoing common substitutions
// and stripping trailing digits and symbols. Like Contains it returns an
// error only when the list cannot be loaded; callers must then refuse the
// password.
func (b *Blocklist) containsVariant(password string) (bool, error) {
	v, err := b.variants()
	if err != nil {
		return false, err
	}
	k := variantKey(password)
	if utf8.RuneCountInString(k) < minVariantKey {
		return false, nil
	}
	return v.contains(k)
}
