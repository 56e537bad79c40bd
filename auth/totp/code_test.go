package totp

import (
	"encoding/base32"
	"strings"
	"testing"
	"time"
)

func b32(s string) string {
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString([]byte(s))
}

func FuzzDecodeTOTPSecret(f *testing.F) {
	for _, s := range []string{b32("12345678901234567890"), "jbsw y3dp ehpk 3pxp jbsw y3dp ehpk 3pxp", "", "====", "!!", strings.Repeat("A", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := DecodeSecret(s)
		if err != nil {
			if b != nil {
				t.Fatal("bytes with an error")
			}
			return
		}
		if len(b) < minImportBytes || len(b) > maxSecretBytes {
			t.Fatalf("accepted a %d-byte secret", len(b))
		}
		p, _ := NewParams(SHA512, 8, 30)
		if _, err := p.Match(s, "12345678", 1, time.Unix(59, 0)); err != nil {
			t.Fatalf("accepted secret unusable: %v", err)
		}
	})
}

func FuzzParseTOTPCode(f *testing.F) {
	for _, s := range []string{"123456", "123 456", "12345678", "", "abc", "1 2 3 4 5 6 7 8 9"} {
		f.Add(s, 6)
	}
	f.Fuzz(func(t *testing.T, s string, digits int) {
		if digits != 6 && digits != 8 {
			digits = 6
		}
		c, ok := ParseCode(s, digits)
		if !ok {
			return
		}
		if len(c) != digits || strings.Trim(c, "0123456789") != "" {
			t.Fatalf("accepted a non-code")
		}
		if strings.ReplaceAll(s, " ", "") != c {
			t.Fatalf("code is not the input's digits")
		}
	})
}
