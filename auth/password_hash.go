package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"
)

// ErrMalformedHash reports a stored password hash that is not a PHC string
// this package can verify. The message never quotes the hash.
var ErrMalformedHash = errors.New("auth: malformed password hash")

// Argon2Params are argon2id cost parameters.
type Argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8  // lanes
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// DefaultArgon2Params returns the OWASP / RFC 9106 second-recommended
// profile this package uses by default: m=19 MiB (19456 KiB), t=2, p=1,
// a 16-byte salt and a 32-byte hash.
func DefaultArgon2Params() Argon2Params {
	return Argon2Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
}

// Bounds on parameters accepted from a PHC string or a configuration, so that
// a corrupted or hostile stored hash cannot make a login exhaust memory or
// CPU.
const (
	minArgonMemory = 8 * 1024    // 8 MiB
	maxArgonMemory = 1024 * 1024 // 1 GiB
	maxArgonTime   = 64
	minSaltLen     = 8
	maxSaltLen     = 64
	minKeyLen      = 16
	maxKeyLen      = 64
)

func (p Argon2Params) validate() error {
	switch {
	case p.Memory < minArgonMemory || p.Memory > maxArgonMemory:
		return fmt.Errorf("auth: argon2 memory must be %d..%d KiB", minArgonMemory, maxArgonMemory)
	case p.Time < 1 || p.Time > maxArgonTime:
		return fmt.Errorf("auth: argon2 time must be 1..%d", maxArgonTime)
	case p.Threads < 1:
		return errors.New("auth: argon2 threads must be at least 1")
	case p.Memory < 8*uint32(p.Threads):
		return errors.New("auth: argon2 memory must be at least 8 KiB per thread")
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return fmt.Errorf("auth: argon2 salt length must be %d..%d bytes", minSaltLen, maxSaltLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("auth: argon2 key length must be %d..%d bytes", minKeyLen, maxKeyLen)
	}
	return nil
}

// phcHash is a parsed "$argon2id$v=19$m=...,t=...,p=...$salt$hash" string.
type phcHash struct {
	params Argon2Params
	salt   []byte
	key    []byte
}

var b64 = base64.RawStdEncoding

// parsePHC parses an argon2id PHC string strictly: version 19, parameters in
// the order m, t, p, unpadded standard base64 for salt and hash, parameters
// within the bounds above.
func parsePHC(s string) (phcHash, error) {
	var h phcHash
	if strings.ContainsAny(s, "\r\n") { // base64 decoding would skip them
		return h, ErrMalformedHash
	}
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v=19" {
		return h, ErrMalformedHash
	}
	kv := strings.Split(parts[3], ",")
	if len(kv) != 3 {
		return h, ErrMalformedHash
	}
	var vals [3]uint64
	for i, name := range [3]string{"m=", "t=", "p="} {
		v, ok := strings.CutPrefix(kv[i], name)
		if !ok || v == "" || (len(v) > 1 && v[0] == '0') {
			return h, ErrMalformedHash
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return h, ErrMalformedHash
		}
		vals[i] = n
	}
	if vals[2] > 255 {
		return h, ErrMalformedHash
	}
	salt, err := b64.Strict().DecodeString(parts[4])
	if err != nil {
		return h, ErrMalformedHash
	}
	key, err := b64.Strict().DecodeString(parts[5])
	if err != nil {
		return h, ErrMalformedHash
	}
	h.params = Argon2Params{Memory: uint32(vals[0]), Time: uint32(vals[1]), Threads: uint8(vals[2]),
		SaltLen: uint32(len(salt)), KeyLen: uint32(len(key))}
	if h.params.validate() != nil {
		return h, ErrMalformedHash
	}
	h.salt, h.key = salt, key
	return h, nil
}

func (h phcHash) String() string {
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", h.params.Memory, h.params.Time, h.params.Threads,
		b64.EncodeToString(h.salt), b64.EncodeToString(h.key))
}

// Hasher hashes and verifies passwords with argon2id and bounds how many
// hashes run at once: each one holds Params.Memory of RAM, so a login flood
// waits for a slot (or for its context to end) instead of exhausting memory.
// A Hasher is safe for concurrent use.
type hasher struct {
	params Argon2Params
	slots  chan struct{}

	dummyOnce sync.Once
	dummy     phcHash
}

// NewHasher returns a Hasher with parameters p that runs at most
// maxConcurrent hashes at once (0 means runtime.GOMAXPROCS(0)).
func newHasher(p Argon2Params, maxConcurrent int) (*hasher, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	if maxConcurrent < 0 {
		return nil, errors.New("auth: maxConcurrent must not be negative")
	}
	if maxConcurrent == 0 {
		maxConcurrent = runtime.GOMAXPROCS(0)
	}
	return &hasher{params: p, slots: make(chan struct{}, maxConcurrent)}, nil
}

// Params returns the parameters new hashes use.
func (h *hasher) Params() Argon2Params { return h.params }

func (h *hasher) acquire(ctx context.Context) error {
	if h == nil || h.slots == nil {
		return errors.New("auth: Hasher not built by NewHasher")
	}
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("auth: waiting to hash: %w", ctx.Err())
	}
}

func (h *hasher) release() { <-h.slots }

// normalizePassword is the one transformation applied to a password before it
// is measured or hashed: Unicode NFKC normalisation (NIST SP 800-63B rev 4
// 3.1.1.2). No truncation, no case folding, no trimming.
func normalizePassword(pw string) string { return norm.NFKC.String(pw) }

func (h *hasher) derive(ctx context.Context, password string, p Argon2Params, salt []byte) ([]byte, error) {
	if err := h.acquire(ctx); err != nil {
		return nil, err
	}
	defer h.release()
	return argon2.IDKey([]byte(normalizePassword(password)), salt, p.Time, p.Memory, p.Threads, p.KeyLen), nil
}

// Hash returns the PHC string of the NFKC-normalised password under a fresh
// random salt. It waits for a free slot, or fails when ctx ends first.
func (h *hasher) Hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, h.params.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: salt: %w", err)
	}
	key, err := h.derive(ctx, password, h.params, salt)
	if err != nil {
		return "", err
	}
	return phcHash{params: h.params, salt: salt, key: key}.String(), nil
}

// Verify reports whether password matches the PHC string encoded, and
// whether encoded should be replaced by a fresh Hash because its parameters
// differ from the Hasher's. An empty encoded verifies against a dummy hash
// with the current parameters and reports false, so that an unknown user
// costs the same time as a wrong password; callers pass "" for unknown users
// rather than returning early. A malformed encoded also costs one dummy hash
// and returns ErrMalformedHash. Keys are compared in constant time.
func (h *hasher) Verify(ctx context.Context, password, encoded string) (ok, rehash bool, err error) {
	var target phcHash
	var perr error
	if encoded == "" {
		target = h.dummyHash()
	} else if target, perr = parsePHC(encoded); perr != nil {
		target = h.dummyHash()
	}
	key, err := h.derive(ctx, password, target.params, target.salt)
	if err != nil {
		return false, false, err
	}
	match := subtle.ConstantTimeCompare(key, target.key) == 1
	if encoded == "" {
		return false, false, nil
	}
	if perr != nil {
		return false, false, perr
	}
	return match, match && target.params != h.params, nil
}

// dummyHash is a hash of a random password under the current parameters.
func (h *hasher) dummyHash() phcHash {
	h.dummyOnce.Do(func() {
		salt := make([]byte, h.params.SaltLen)
		key := make([]byte, h.params.KeyLen)
		if _, err := rand.Read(salt); err != nil {
			panic("auth: crypto/rand failed: " + err.Error())
		}
		if _, err := rand.Read(key); err != nil {
			panic("auth: crypto/rand failed: " + err.Error())
		}
		h.dummy = phcHash{params: h.params, salt: salt, key: key}
	})
	return h.dummy
}
