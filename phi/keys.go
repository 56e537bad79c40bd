package phi

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/aead/aesgcm"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// subjectKeys is a subject's unwrapped keyset, ready to use. It is immutable
// and shared by every goroutine that reads it from the cache.
//
// Tink manages the keyset; the Vault calls each key's AES-GCM primitive
// directly, selected by the key ID in the sealed value's header, rather than
// through Tink's keyset-wide AEAD, which tries every key whose prefix matches
// and adds monitoring hooks on the hot path. The bytes are the same either
// way: a version 1 sealed value is a Tink AES-GCM ciphertext.
type subjectKeys struct {
	primary   tink.AEAD
	primaryID uint32
	byID      map[uint32]tink.AEAD
}

// kekAEAD adapts a KEK to Tink's AEADWithContext, remembering the KEK's own
// error, which Tink flattens into a string.
type kekAEAD struct {
	kek KEK
	err error
}

func (a *kekAEAD) EncryptWithContext(ctx context.Context, pt, ad []byte) ([]byte, error) {
	ct, err := a.kek.Wrap(ctx, pt, ad)
	a.err = err
	return ct, err
}

func (a *kekAEAD) DecryptWithContext(ctx context.Context, ct, ad []byte) ([]byte, error) {
	pt, err := a.kek.Unwrap(ctx, ct, ad)
	a.err = err
	return pt, err
}

// keyIDs lists the IDs of the keys in h.
func keyIDs(h *keyset.Handle) []uint32 {
	ids := make([]uint32, 0, h.Len())
	for i := 0; i < h.Len(); i++ {
		if e, err := h.Entry(i); err == nil {
			ids = append(ids, e.KeyID())
		}
	}
	return ids
}

// wrapHandle encrypts h under kek in Tink's encrypted-keyset form, with ref
// as associated data.
func wrapHandle(ctx context.Context, kek KEK, ref string, h *keyset.Handle) (WrappedKeyset, error) {
	var buf bytes.Buffer
	a := &kekAEAD{kek: kek}
	if err := h.WriteWithContext(ctx, keyset.NewBinaryWriter(&buf), a, []byte(ref)); err != nil {
		if a.err != nil {
			return WrappedKeyset{}, fmt.Errorf("phi: wrap keyset: %w", a.err)
		}
		return WrappedKeyset{}, errors.New("phi: wrap keyset: cannot serialise keyset")
	}
	return WrappedKeyset{Ref: ref, KEKID: kek.ID(), Ciphertext: buf.Bytes(), KeyIDs: keyIDs(h)}, nil
}

// currentKEK returns the KEK that wraps new keysets.
func (v *Vault) currentKEK() KEK {
	v.kekMu.RLock()
	defer v.kekMu.RUnlock()
	return v.kek
}

// kekByID returns the current or an old KEK with the given ID.
func (v *Vault) kekByID(id string) (KEK, bool) {
	v.kekMu.RLock()
	defer v.kekMu.RUnlock()
	k, ok := v.keks[id]
	return k, ok
}

// unwrap decrypts w, stored under ref, with the KEK that wrapped it.
func (v *Vault) unwrap(ctx context.Context, ref string, w WrappedKeyset) (*keyset.Handle, error) {
	kek, ok := v.kekByID(w.KEKID)
	if !ok {
		return nil, ErrUnknownKEK
	}
	a := &kekAEAD{kek: kek}
	h, err := keyset.ReadWithContext(ctx, keyset.NewBinaryReader(bytes.NewReader(w.Ciphertext)), a, []byte(ref))
	if err != nil {
		switch {
		case a.err == nil:
			return nil, fmt.Errorf("phi: stored keyset: %w", ErrMalformed)
		case errors.Is(a.err, ErrTampered):
			return nil, fmt.Errorf("phi: stored keyset: %w", ErrTampered)
		default:
			return nil, fmt.Errorf("phi: unwrap keyset: %w", a.err)
		}
	}
	return h, nil
}

// newSubjectKeys checks that h is a keyset of AES-256-GCM keys with Tink
// output prefixes (the version 1 sealed format depends on it) and builds
// their primitives. Only enabled keys are usable.
func newSubjectKeys(h *keyset.Handle) (*subjectKeys, error) {
	bad := fmt.Errorf("phi: stored keyset is not an AES-256-GCM keyset: %w", ErrMalformed)
	keys := &subjectKeys{byID: make(map[uint32]tink.AEAD, h.Len())}
	for i := 0; i < h.Len(); i++ {
		e, err := h.Entry(i)
		if err != nil {
			return nil, bad
		}
		k, ok := e.Key().(*aesgcm.Key)
		if !ok {
			return nil, bad
		}
		p, ok := k.Parameters().(*aesgcm.Parameters)
		if !ok || p.KeySizeInBytes() != 32 || p.Variant() != aesgcm.VariantTink {
			return nil, bad
		}
		if e.KeyStatus() != keyset.Enabled {
			continue
		}
		a, err := aesgcm.NewAEAD(k)
		if err != nil {
			return nil, bad
		}
		keys.byID[e.KeyID()] = a
		if e.IsPrimary() {
			keys.primary, keys.primaryID = a, e.KeyID()
		}
	}
	if keys.primary == nil {
		return nil, bad
	}
	return keys, nil
}

// storeErr passes the store's contract errors through and labels others.
func storeErr(err error) error {
	switch {
	case errors.Is(err, ErrShredded), errors.Is(err, ErrKeyNotFound),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return fmt.Errorf("phi: key store: %w", err)
}

// keysFor returns the subject's keys, from the cache or else from the store
// (creating the keyset first when create is set and none exists).
func (v *Vault) keysFor(ctx context.Context, subject string, create bool) (*subjectKeys, error) {
	if k := v.cache.get(subject); k != nil {
		return k, nil
	}
	gen := v.cache.generation()
	w, err := v.store.Get(ctx, subject)
	if err != nil && create && errors.Is(err, ErrKeyNotFound) {
		w, err = v.createKeyset(ctx, subject)
	}
	if err != nil {
		return nil, storeErr(err)
	}
	h, err := v.unwrap(ctx, subject, w)
	if err != nil {
		return nil, err
	}
	keys, err := newSubjectKeys(h)
	if err != nil {
		return nil, err
	}
	v.cache.put(subject, keys, gen)
	return keys, nil
}

// createKeyset creates and stores a fresh keyset for ref, or returns the one
// another writer stored first.
func (v *Vault) createKeyset(ctx context.Context, ref string) (WrappedKeyset, error) {
	h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	if err != nil {
		return WrappedKeyset{}, errors.New("phi: cannot generate keyset")
	}
	return v.storeNew(ctx, ref, h)
}

// storeNew wraps h under the current KEK and creates it under ref; if
// another writer won the race, it returns theirs.
func (v *Vault) storeNew(ctx context.Context, ref string, h *keyset.Handle) (WrappedKeyset, error) {
	w, err := wrapHandle(ctx, v.currentKEK(), ref, h)
	if err != nil {
		return WrappedKeyset{}, err
	}
	switch err := v.store.Create(ctx, w); {
	case err == nil:
		return w, nil
	case errors.Is(err, ErrKeyExists):
		return v.store.Get(ctx, ref)
	default:
		return WrappedKeyset{}, err
	}
}
