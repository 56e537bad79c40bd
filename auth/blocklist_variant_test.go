package auth

import (
	"bufio"
	"errors"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Variants of listed passwords are refused with their own reason, which
// names the rule and never the password.
func TestPasswordPolicyRefusesBlocklistVariants(t *testing.T) {
	p := DefaultPasswordPolicy()
	pc := PasswordContext{MFA: true}
	for _, pw := range []string{"Passw0rd!", "Password1!", "Welcome1!", "Summer2024!", "P@$$w0rd2024", "W3lc0m3!!"} {
		err := p.Check(pw, pc)
		var pe *PasswordError
		require.True(t, errors.As(err, &pe), "%q accepted: %v", pw, err)
		require.Contains(t, []PasswordReason{ReasonBlocklisted, ReasonBlocklistedVariant}, pe.Reason, pw)
		require.NotContains(t, strings.ToLower(err.Error()), strings.ToLower(pw))
	}
	for _, pw := range []string{"Passw0rd!", "Password1!", "Welcome1!", "Summer2024!"} {
		var pe *PasswordError
		require.ErrorAs(t, p.Check(pw, pc), &pe)
		require.Equal(t, ReasonBlocklistedVariant, pe.Reason, pw)
		require.Contains(t, pe.Error(), "substituted characters or appended digits")
	}
}

func TestVariantKey(t *testing.T) {
	for in, want := range map[string]string{
		"Passw0rd!": "password", "Password1!": "password", "Welcome1!": "weicome", "Summer2024!": "summer",
		"P@$$w0rd": "password", "1234!!": "", "h3ll0 w0rld 42": "heiio worid", "ＰＡＳＳ": "pass",
	} {
		require.Equal(t, want, variantKey(in), in)
	}
	b := NewBlocklist([]string{"sunshine1"})
	for pw, want := range map[string]bool{"5un5h1ne!": true, "sun!!!!!!": false, "SUNSHINE2024": true, "sunshine dog": false, "12345678": false} {
		got, err := b.containsVariant(pw)
		require.NoError(t, err)
		require.Equal(t, want, got, pw)
	}
	bad := &Blocklist{load: func() ([]byte, error) { return nil, errors.New("boom") }}
	_, err := bad.containsVariant("anything at all")
	require.Error(t, err, "an unloadable list must fail closed")
}

// The variant rule refuses none of 10,000 random four-word passphrases
// (fixed seed) drawn from testdata/common_words.txt: false-refusal rate 0.
func TestBlocklistVariantPassphrases(t *testing.T) {
	f, err := os.Open("testdata/common_words.txt")
	require.NoError(t, err)
	defer f.Close()
	var words []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if w := strings.TrimSpace(sc.Text()); w != "" && !strings.HasPrefix(w, "#") {
			words = append(words, w)
		}
	}
	require.NoError(t, sc.Err())
	require.GreaterOrEqual(t, len(words), 1000)
	rng := rand.New(rand.NewPCG(20261201, 4))
	p := DefaultPasswordPolicy()
	refused := 0
	for range 10_000 {
		var pp [4]string
		for i := range pp {
			pp[i] = words[rng.IntN(len(words))]
		}
		pw := strings.Join(pp[:], " ")
		err := p.Check(pw, PasswordContext{})
		var pe *PasswordError
		if errors.As(err, &pe) && (pe.Reason == ReasonBlocklistedVariant || pe.Reason == ReasonBlocklisted) {
			refused++
			t.Logf("refused passphrase %q: %s", pw, pe.Reason)
		} else if err != nil && pe == nil {
			t.Fatal(err)
		}
	}
	t.Logf("false refusals: %d of 10000", refused)
	require.Zero(t, refused)
}
