package phi

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/prf"
	"golang.org/x/text/unicode/norm"
)

// BlindIndexLen is the length of a blind index in bytes.
const BlindIndexLen = sha256.Size

// blindIndexLabel separates the derivation of per-field keys.
const blindIndexLabel = "hipaakit.phi.blind-index.v1\x00"

// Normalizer maps a value to the canonical form that is indexed, so that
// values a user considers equal ("Ann@Example.com " and "ann@example.com")
// get the same blind index. It returns an error for a value that cannot be
// indexed. A Normalizer must be deterministic and must not put the value into
// its errors (the Vault drops them anyway).
type Normalizer func(value []byte) ([]byte, error)

var errNormalize = errors.New("phi: blind index: value rejected by the field's normaliser")

// NormalizeExact indexes values byte for byte.
func NormalizeExact(value []byte) ([]byte, error) { return value, nil }

// NormalizeFold indexes text case-insensitively: Unicode NFKC, lower case,
// leading and trailing space trimmed and inner runs of space collapsed to one.
// A value that is not valid UTF-8 is rejected.
func NormalizeFold(value []byte) ([]byte, error) {
	if !utf8.Valid(value) {
		return nil, errNormalize
	}
	s := strings.Join(strings.Fields(norm.NFKC.String(string(value))), " ")
	return []byte(strings.ToLower(s)), nil
}

// NormalizeEmail indexes e-mail addresses: NormalizeFold, and the value must
// hold exactly one '@' with text on both sides and no inner space.
func NormalizeEmail(value []byte) ([]byte, error) {
	v, err := NormalizeFold(value)
	if err != nil {
		return nil, err
	}
	at := bytes.IndexByte(v, '@')
	if at <= 0 || at == len(v)-1 || bytes.Count(v, []byte("@")) != 1 || bytes.ContainsFunc(v, unicode.IsSpace) {
		return nil, errNormalize
	}
	return v, nil
}

// NormalizeDigits indexes the decimal digits of a value only, dropping
// separators, so that "555-0100" and "(555) 0100" match (phone numbers,
// SSNs, medical record numbers). A value without digits is rejected.
func NormalizeDigits(value []byte) ([]byte, error) {
	out := make([]byte, 0, len(value))
	for _, c := range value {
		if c >= '0' && c <= '9' {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, errNormalize
	}
	return out, nil
}

// blindIndexer holds the blind-index key and the per-field keys derived
// from it. The index key is a Tink HMAC-SHA256 PRF keyset stored, wrapped by
// the KEK, under a reserved reference; it is independent of every subject's
// data keys, so shredding a subject changes no other subject's index.
type blindIndexer struct {
	v           *Vault
	normalizers map[string]Normalizer

	mu        sync.Mutex
	prf       *prf.Set
	fieldKeys map[string][]byte
}

func newBlindIndexer(v *Vault, n map[string]Normalizer) *blindIndexer {
	return &blindIndexer{v: v, normalizers: n, fieldKeys: make(map[string][]byte)}
}

// BlindIndex returns the blind index of value for field: HMAC-SHA256 of the
// normalised value under a key derived for the field from the Vault's index
// key. Equal values (after normalisation) of one field get equal indexes, so
// a sealed column can be searched for exact matches by storing the index
// beside it; without the index key, an index reveals nothing about the value
// but equality with other indexes. The field must have been registered with
// VaultConfig.BlindIndexes (else ErrUnknownField).
//
// The index key is created in the store on first use and never rotates
// (rotating it would change every index); KEK rotation re-wraps it.
func (v *Vault) BlindIndex(ctx context.Context, field string, value []byte) ([]byte, error) {
	n, ok := v.index.normalizers[field]
	if !ok {
		return nil, ErrUnknownField
	}
	nv, err := n(value)
	if err != nil {
		return nil, errNormalize
	}
	key, err := v.index.fieldKey(ctx, field)
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, key)
	m.Write(nv)
	return m.Sum(nil), nil
}

func (x *blindIndexer) fieldKey(ctx context.Context, field string) ([]byte, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if k, ok := x.fieldKeys[field]; ok {
		return k, nil
	}
	if x.prf == nil {
		p, err := x.load(ctx)
		if err != nil {
			return nil, err
		}
		x.prf = p
	}
	k, err := x.prf.ComputePrimaryPRF([]byte(blindIndexLabel+field), sha256.Size)
	if err != nil {
		return nil, errors.New("phi: blind index: cannot derive field key")
	}
	x.fieldKeys[field] = k
	return k, nil
}

// load reads (or creates) the index keyset.
func (x *blindIndexer) load(ctx context.Context) (*prf.Set, error) {
	w, err := x.v.store.Get(ctx, blindIndexRef)
	if errors.Is(err, ErrKeyNotFound) {
		var h *keyset.Handle
		h, err = keyset.NewHandle(prf.HMACSHA256PRFKeyTemplate())
		if err != nil {
			return nil, errors.New("phi: blind index: cannot generate index key")
		}
		w, err = x.v.storeNew(ctx, blindIndexRef, h)
	}
	if err != nil {
		return nil, fmt.Errorf("phi: blind index key: %w", storeErr(err))
	}
	h, err := x.v.unwrap(ctx, blindIndexRef, w)
	if err != nil {
		return nil, err
	}
	p, err := prf.NewPRFSet(h)
	if err != nil || h.Len() != 1 {
		return nil, fmt.Errorf("phi: blind index key is not an HMAC-SHA256 PRF keyset: %w", ErrMalformed)
	}
	return p, nil
}
