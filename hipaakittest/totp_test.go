package hipaakittest

import (
	"encoding/base32"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestTOTPCodeRFC6238 checks the generator against RFC 6238 Appendix B.
func TestTOTPCodeRFC6238(t *testing.T) {
	enc := base32.StdEncoding.WithPadding(base32.NoPadding)
	seeds := map[TOTPAlgorithm]string{
		SHA1:   enc.EncodeToString([]byte("12345678901234567890")),
		SHA256: enc.EncodeToString([]byte("12345678901234567890123456789012")),
		SHA512: enc.EncodeToString([]byte("1234567890123456789012345678901234567890123456789012345678901234")),
	}
	cases := []struct {
		unix int64
		alg  TOTPAlgorithm
		want string
	}{
		{59, SHA1, "94287082"}, {59, SHA256, "46119246"}, {59, SHA512, "90693936"},
		{1111111109, SHA1, "07081804"}, {1111111109, SHA256, "68084774"}, {1111111109, SHA512, "25091201"},
		{1234567890, SHA1, "89005924"}, {1234567890, SHA256, "91819424"}, {1234567890, SHA512, "93441116"},
		{20000000000, SHA1, "65353130"}, {20000000000, SHA256, "77737706"}, {20000000000, SHA512, "47863826"},
	}
	for _, c := range cases {
		got, err := TOTPCodeWith(seeds[c.alg], time.Unix(c.unix, 0), c.alg, 8, 30*time.Second)
		if err != nil || got != c.want {
			t.Errorf("%s at %d = %q, %v; want %q", c.alg, c.unix, got, err, c.want)
		}
	}
	six, err := TOTPCode(seeds[SHA1], time.Unix(59, 0))
	if err != nil || six != "287082" {
		t.Errorf("TOTPCode = %q, %v; want 287082", six, err)
	}
}

func TestTOTPCodeRefusesBadInput(t *testing.T) {
	const canary = "NOT*BASE32*CANARY"
	for name, f := range map[string]func() (string, error){
		"secret": func() (string, error) { return TOTPCode(canary, time.Unix(0, 0)) },
		"empty":  func() (string, error) { return TOTPCode("", time.Unix(0, 0)) },
		"alg":    func() (string, error) { return TOTPCodeWith("GEZDGNBV", time.Unix(0, 0), "MD5", 6, 30*time.Second) },
		"digits": func() (string, error) { return TOTPCodeWith("GEZDGNBV", time.Unix(0, 0), SHA1, 9, 30*time.Second) },
		"period": func() (string, error) {
			return TOTPCodeWith("GEZDGNBV", time.Unix(0, 0), SHA1, 6, 1500*time.Millisecond)
		},
	} {
		_, err := f()
		if !errors.Is(err, ErrTOTPParams) {
			t.Errorf("%s: err = %v, want ErrTOTPParams", name, err)
		}
		if err != nil && strings.Contains(err.Error(), canary) {
			t.Errorf("%s: error quotes the secret", name)
		}
	}
}
