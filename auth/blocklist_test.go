package auth

import (
	"bytes"
	"compress/gzip"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestDefaultBlocklist(t *testing.T) {
	b := DefaultBlocklist()
	require.GreaterOrEqual(t, b.Len(), 100_000)
	require.Equal(t, 197_529, b.Len(), "update the count in blocklist.go's comment with the data")
	for _, pw := range []string{"password", "PASSWORD", "Password1", "12345678", "qwertyuiop", "iloveyou", "sunshine", "trustno1",
		"ＰＡＳＳＷＯＲＤ"} { // full-width letters normalise by NFKC
		ok, err := b.contains(pw)
		require.NoError(t, err)
		require.True(t, ok, "%q should be blocklisted", pw)
	}
	for _, pw := range []string{"correct horse battery staple", "x", "", "vq7#Lm2!pZ9@kW4r"} {
		ok, err := b.contains(pw)
		require.NoError(t, err)
		require.False(t, ok, "%q should not be blocklisted", pw)
	}
}

// Every embedded entry is already in the lookup's normal form and within the
// length bounds, so no entry is unreachable.
func TestDefaultBlocklistCanonical(t *testing.T) {
	data, err := gunzip(blocklistGz)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	require.Len(t, lines, DefaultBlocklist().Len())
	for _, l := range lines {
		if blocklistKey(l) != l {
			t.Fatalf("entry not canonical (length %d)", len(l))
		}
		if n := utf8.RuneCountInString(l); n < 8 || n > 64 {
			t.Fatalf("entry of %d code points", n)
		}
	}
}

func TestNewBlocklist(t *testing.T) {
	b := NewBlocklist([]string{"Zebra-Stripes", "apple pie", "apple pie", ""})
	require.Equal(t, 2, b.Len())
	ok, err := b.contains("ZEBRA-STRIPES")
	require.NoError(t, err)
	require.True(t, ok)
	ok, _ = b.contains("zebra")
	require.False(t, ok)
	ok, _ = b.contains("apple pie")
	require.True(t, ok)

	empty := NewBlocklist(nil)
	require.Equal(t, 0, empty.Len())
	ok, err = empty.contains("anything")
	require.NoError(t, err)
	require.False(t, ok)
}

func TestLoadBlocklist(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte("second-entry\nFirst-Entry\n"))
	require.NoError(t, zw.Close())
	b, err := LoadBlocklist(&buf)
	require.NoError(t, err)
	require.Equal(t, 2, b.Len())
	ok, _ := b.contains("first-entry")
	require.True(t, ok)

	_, err = LoadBlocklist(strings.NewReader("not gzip"))
	require.Error(t, err)
}

func TestBlocklistLoadFailureFailsClosed(t *testing.T) {
	b := &Blocklist{load: func() ([]byte, error) { return gunzip([]byte("corrupt")) }}
	_, err := b.contains("whatever")
	require.Error(t, err)
	require.Equal(t, 0, b.Len())
	p := DefaultPasswordPolicy()
	p.Blocklist = b
	err = p.Check("a perfectly fine passphrase here", PasswordContext{})
	require.Error(t, err)
	require.NotErrorIs(t, err, ErrWeakPassword)

	unsorted := &Blocklist{load: func() ([]byte, error) { return []byte("b\na\n"), nil }}
	_, err = unsorted.contains("a")
	require.Error(t, err)
	unterminated := &Blocklist{load: func() ([]byte, error) { return []byte("a\nb"), nil }}
	_, err = unterminated.contains("a")
	require.Error(t, err)
}

func FuzzLoadBlocklist(f *testing.F) {
	for _, s := range []string{"", "a\nb\n", "Zebra-Stripes\r\nzebra-stripes\n\n", "\xff\xfe\n"} {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write([]byte(s))
		zw.Close()
		f.Add(buf.Bytes())
	}
	f.Add([]byte("not gzip"))
	f.Fuzz(func(t *testing.T, gz []byte) {
		b, err := LoadBlocklist(bytes.NewReader(gz))
		if err != nil {
			return
		}
		data, err := gunzip(gz)
		if err != nil {
			t.Fatalf("LoadBlocklist accepted what gzip refuses: %v", err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			if k := blocklistKey(line); k != "" {
				if ok, err := b.contains(line); err != nil || !ok {
					t.Fatalf("entry not found after loading (err %v)", err)
				}
				// A variant of an entry (here: the entry itself) is found
				// through the variant list, whenever the key is stable.
				if blocklistKey(k) == k && utf8.RuneCountInString(variantKey(line)) >= minVariantKey {
					if ok, err := b.containsVariant(line); err != nil || !ok {
						t.Fatalf("entry not found as a variant (err %v)", err)
					}
				}
			}
		}
	})
}

func BenchmarkBlocklistContains(b *testing.B) {
	bl := DefaultBlocklist()
	bl.Len()
	b.ReportAllocs()
	for b.Loop() {
		bl.contains("Tr0ub4dor&3-horse")
	}
}
