package phi

import (
	"context"
	"errors"
	"fmt"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
)

// maxCASRetries bounds the compare-and-swap retries of a rotation step.
const maxCASRetries = 8

// RotateSubjectKey adds a fresh AES-256-GCM key to subject's keyset and makes
// it the primary key: later Seals use it, and values sealed under the older
// keys still open (Reseal moves them to the new key). It returns the new
// key's ID. The subject must have keys (else ErrKeyNotFound or ErrShredded).
func (v *Vault) RotateSubjectKey(ctx context.Context, subject string) (newKeyID uint32, err error) {
	if !ValidSubject(subject) {
		return 0, fmt.Errorf("%w: subject is not a valid subject ID", ErrInvalidBinding)
	}
	for range maxCASRetries {
		w, err := v.store.Get(ctx, subject)
		if err != nil {
			return 0, storeErr(err)
		}
		h, err := v.unwrap(ctx, subject, w)
		if err != nil {
			return 0, err
		}
		if _, err := newSubjectKeys(h); err != nil {
			return 0, err
		}
		m := keyset.NewManagerFromHandle(h)
		id, err := m.Add(aead.AES256GCMKeyTemplate())
		if err != nil {
			return 0, errors.New("phi: cannot generate key")
		}
		if err := m.SetPrimary(id); err != nil {
			return 0, errors.New("phi: cannot set primary key")
		}
		nh, err := m.Handle()
		if err != nil {
			return 0, errors.New("phi: cannot build keyset")
		}
		nw, err := wrapHandle(ctx, v.currentKEK(), subject, nh)
		if err != nil {
			return 0, err
		}
		err = v.store.Update(ctx, nw, w.Version)
		if errors.Is(err, ErrConflict) {
			continue
		}
		if err != nil {
			return 0, storeErr(err)
		}
		v.cache.invalidate(subject)
		return id, nil
	}
	return 0, ErrConflict
}

// Reseal returns s sealed again, for the same binding, under the primary key
// of the subject's keyset, so that older keys can be retired after
// RotateSubjectKey. A value already under the primary key is returned
// unchanged (so Reseal can be run over a table repeatedly); compare with
// bytes.Equal to skip unchanged rows.
func (v *Vault) Reseal(ctx context.Context, b Binding, s Sealed) (Sealed, error) {
	if err := b.validate(); err != nil {
		return nil, err
	}
	h, err := ParseHeader(s)
	if err != nil {
		return nil, err
	}
	keys, err := v.keysFor(ctx, b.Subject, false)
	if err != nil {
		return nil, err
	}
	pt, err := v.Open(ctx, b, s)
	if err != nil {
		return nil, err
	}
	defer pt.Wipe()
	if h.KeyID == keys.primaryID {
		return s, nil
	}
	return v.Seal(ctx, b, pt.reveal())
}

// Progress reports how far RotateKEK has come.
type Progress struct {
	// Scanned counts the keysets examined so far.
	Scanned int
	// Rewrapped counts the keysets re-wrapped under the new KEK in this run.
	Rewrapped int
	// Skipped counts the keysets found already under the new KEK (re-wrapped
	// by an earlier, interrupted run, or created after the KEK changed).
	Skipped int
	// Gone counts the keysets shredded while the walk ran.
	Gone int
	// LastRef is the reference of the last keyset examined. It is a subject
	// ID or a reserved reference, never PHI.
	LastRef string
	// Done is set on the final report of a run that completed.
	Done bool
}

// rotatePageSize is how many keysets RotateKEK reads per List call.
const rotatePageSize = 256

// RotateKEK makes newKEK the Vault's KEK and re-wraps every keyset in the
// store under it (subject keysets and the blind-index key). Data is not
// touched: the keys inside the keysets do not change. Keysets already
// wrapped by newKEK are skipped, so a run that was interrupted is resumed by
// running it again, with a Vault that has both KEKs (the new one as KEK and
// the old one through VaultConfig.OldKEKs, or the other way round). Each keyset is
// updated with a compare-and-swap, so concurrent Seals, rotations and shreds
// are safe. progress, if not nil, is called after every keyset and once more
// at the end with Done set. newKEK becomes the Vault's KEK (for new keysets)
// as soon as RotateKEK starts, also when the walk then fails; the previous
// KEK stays available for unwrapping.
//
// Keysets that other processes create under the old KEK while the walk runs
// are not re-wrapped; switch every process to the new KEK, then run RotateKEK
// once more before retiring the old KEK.
func (v *Vault) RotateKEK(ctx context.Context, newKEK KEK, progress func(Progress)) error {
	if newKEK == nil || newKEK.ID() == "" {
		return errors.New("phi: RotateKEK needs a KEK with an ID")
	}
	newID := newKEK.ID()
	v.kekMu.Lock()
	v.kek = newKEK
	v.keks[newID] = newKEK
	v.kekMu.Unlock()

	report := func(p Progress) {
		if progress != nil {
			progress(p)
		}
	}
	var p Progress
	after := ""
	for {
		page, err := v.store.List(ctx, after, rotatePageSize)
		if err != nil {
			return fmt.Errorf("phi: RotateKEK: %w", storeErr(err))
		}
		for _, w := range page {
			p.Scanned++
			p.LastRef = w.Ref
			switch done, err := v.rewrap(ctx, w, newKEK); {
			case err != nil:
				return fmt.Errorf("phi: RotateKEK: %w", err)
			case done == rewrapSkipped:
				p.Skipped++
			case done == rewrapGone:
				p.Gone++
			default:
				p.Rewrapped++
			}
			report(p)
		}
		if len(page) < rotatePageSize {
			break
		}
		after = page[len(page)-1].Ref
	}
	p.Done = true
	report(p)
	return nil
}

type rewrapResult int

const (
	rewrapDone rewrapResult = iota
	rewrapSkipped
	rewrapGone
)

// rewrap moves one keyset under newKEK, retrying lost compare-and-swaps.
func (v *Vault) rewrap(ctx context.Context, w WrappedKeyset, newKEK KEK) (rewrapResult, error) {
	if !ValidRef(w.Ref) {
		return 0, errors.New("key store listed an invalid reference")
	}
	for range maxCASRetries {
		if w.KEKID == newKEK.ID() {
			return rewrapSkipped, nil
		}
		h, err := v.unwrap(ctx, w.Ref, w)
		if err != nil {
			return 0, err
		}
		nw, err := wrapHandle(ctx, newKEK, w.Ref, h)
		if err != nil {
			return 0, err
		}
		err = v.store.Update(ctx, nw, w.Version)
		switch {
		case err == nil:
			v.cache.invalidate(w.Ref)
			return rewrapDone, nil
		case errors.Is(err, ErrShredded), errors.Is(err, ErrKeyNotFound):
			return rewrapGone, nil
		case !errors.Is(err, ErrConflict):
			return 0, storeErr(err)
		}
		if w, err = v.store.Get(ctx, w.Ref); err != nil {
			if errors.Is(err, ErrShredded) || errors.Is(err, ErrKeyNotFound) {
				return rewrapGone, nil
			}
			return 0, storeErr(err)
		}
	}
	return 0, ErrConflict
}
