package backup

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/hipaakit/hipaakit/durable"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/hipaakit/hipaakit/phi"
)

// LedgerReplayer replays the disposal ledger into a key store: it shreds,
// in store, every subject ever disposed of. *disposal.Ledger implements it.
// Replay must be idempotent.
type LedgerReplayer interface {
	Replay(ctx context.Context, store phi.KeyStore) (replayed int, err error)
}

// keysetsFormat heads a key store dump (see FORMAT.md).
const keysetsFormat = "hipaakit-keysets"

// maxKeysetLine bounds one line of a key store dump.
const maxKeysetLine = 1 << 20

type keysetsHeader struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
}

type keysetLine struct {
	Ref        string    `json:"ref"`
	Version    int64     `json:"version"`
	KEKID      string    `json:"kek_id"`
	Ciphertext []byte    `json:"ciphertext"`
	KeyIDs     []uint32  `json:"key_ids,omitempty"`
	Created    time.Time `json:"created"`
	Updated    time.Time `json:"updated"`
}

// KeyStoreSource backs up every keyset of a phi.KeyStore (wrapped, as
// stored: the dump holds no plaintext key) as one entry, "keysets". The
// keysets are read page by page with List; a keyset created or rotated while
// the backup runs may or may not be included, but each keyset is read whole.
// Shred tombstones are not backed up: the disposal ledger is what keeps a
// shredded subject shredded after a restore (see KeyStoreSink).
type KeyStoreSource struct {
	Store phi.KeyStore
	Name  string // recorded as SourceInfo.Name
	// PageSize is the List page size (default 500).
	PageSize int
}

// Info implements Source.
func (k KeyStoreSource) Info() SourceInfo { return SourceInfo{Kind: "keystore", Name: k.Name} }

// Walk implements Source.
func (k KeyStoreSource) Walk(ctx context.Context, emit func(Item) error) error {
	if k.Store == nil {
		return errors.New("backup: key store source has no store")
	}
	page := k.PageSize
	if page <= 0 {
		page = 500
	}
	pr, pw := io.Pipe()
	var rows int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		bw := bufio.NewWriterSize(pw, 64<<10)
		err := writeJSONLine(bw, keysetsHeader{Format: keysetsFormat, Version: 1})
		after := ""
		for err == nil {
			var ks []phi.WrappedKeyset
			ks, err = k.Store.List(ctx, after, page)
			if err != nil {
				err = fmt.Errorf("backup: key store source: list: %w", err)
				break
			}
			for _, w := range ks {
				if err = writeJSONLine(bw, keysetLine{Ref: w.Ref, Version: w.Version, KEKID: w.KEKID,
					Ciphertext: w.Ciphertext, KeyIDs: w.KeyIDs, Created: w.Created, Updated: w.Updated}); err != nil {
					break
				}
				rows++
				after = w.Ref
			}
			if len(ks) < page {
				break
			}
		}
		if err == nil {
			err = bw.Flush()
		}
		pw.CloseWithError(err)
	}()
	err := emit(Item{Path: "keysets", Type: EntryKeysets, Mode: 0o600, Body: pr, Rows: func() int64 { <-done; return rows }})
	pr.CloseWithError(errors.New("backup: key store source: consumer stopped"))
	<-done
	return err
}

func writeJSONLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// decodeKeysets parses a key store dump, calling fn for every keyset. It
// rejects a missing or unknown header, malformed lines, invalid references,
// references out of order or repeated, and over-long lines. It never panics.
func decodeKeysets(r io.Reader, fn func(phi.WrappedKeyset) error) (int64, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	line, err := readLine(br)
	if err != nil {
		if err == io.EOF {
			return 0, corruptf("key store dump is empty")
		}
		return 0, err
	}
	var h keysetsHeader
	if err := strictJSON(line, &h); err != nil || h.Format != keysetsFormat {
		return 0, corruptf("key store dump has no valid header")
	}
	if h.Version != 1 {
		return 0, fmt.Errorf("%w: key store dump version %d", ErrUnsupportedVersion, h.Version)
	}
	var n int64
	prev := ""
	for {
		line, err := readLine(br)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		var l keysetLine
		if err := strictJSON(line, &l); err != nil {
			return n, corruptf("key store dump line %d is malformed", n+2)
		}
		if !phi.ValidRef(l.Ref) || l.Ref <= prev || l.Version < 1 || len(l.Ciphertext) == 0 {
			return n, corruptf("key store dump line %d is invalid", n+2)
		}
		prev = l.Ref
		if err := fn(phi.WrappedKeyset{Ref: l.Ref, Version: l.Version, KEKID: l.KEKID, Ciphertext: l.Ciphertext,
			KeyIDs: l.KeyIDs, Created: l.Created, Updated: l.Updated}); err != nil {
			return n, err
		}
		n++
	}
}

// readLine returns the next '\n'-terminated line without its terminator.
// A final line without a terminator is corrupt (a truncated dump).
func readLine(br *bufio.Reader) ([]byte, error) {
	var out []byte
	for {
		frag, err := br.ReadSlice('\n')
		out = append(out, frag...)
		if len(out) > maxKeysetLine {
			return nil, corruptf("key store dump line too long")
		}
		if err == nil {
			return out[:len(out)-1], nil
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF {
			if len(out) == 0 {
				return nil, io.EOF
			}
			return nil, corruptf("key store dump is truncated")
		}
		return nil, err
	}
}

func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	return nil
}

// KeyStoreSink restores a key store backup into Store. It spools and parses
// the whole dump first (it holds only wrapped keysets), so that a corrupt
// backup writes nothing. Commit then replays the disposal ledger into Store
// BEFORE it creates any keyset — so a subject shredded after the backup was
// taken gets its tombstone first and its keyset is refused (phi.ErrShredded)
// — creates the keysets, and replays the ledger once more to catch
// disposals that happened meanwhile.
//
// Store should be a fresh store that the service switches to after the
// restore: keysets become visible one by one as Commit creates them. Begin
// refuses a store that holds keysets (ErrExists) unless the restore is
// forced; a forced restore overwrites keysets of the same reference.
type KeyStoreSink struct {
	Store  phi.KeyStore
	Ledger LedgerReplayer
	// TempDir holds the spool file (default os.TempDir()).
	TempDir string

	// Restored, Shredded and Replayed count what Commit did: keysets created,
	// keysets refused because the ledger shredded their subject, and ledger
	// records replayed (both replays).
	Restored, Shredded, Replayed int

	force   bool
	entries int // keysets entries spooled
	spool   *os.File
	digests map[string][32]byte // ref → SHA-256 of the restored ciphertext
}

func digest(b []byte) [32]byte { return sha256.Sum256(b) }

// countKeysets returns how many keysets entries m holds.
func countKeysets(m *Manifest) int {
	n := 0
	for i := range m.Entries {
		if m.Entries[i].Type == EntryKeysets {
			n++
		}
	}
	return n
}

var _ Sink = (*KeyStoreSink)(nil)

// NewKeyStoreSink returns a sink restoring into store after replaying ledger.
// ledger is required: a key store restore without the disposal ledger could
// bring shredded subjects back.
func NewKeyStoreSink(store phi.KeyStore, ledger LedgerReplayer) (*KeyStoreSink, error) {
	if store == nil || ledger == nil {
		return nil, errors.New("backup: key store sink needs a key store and the disposal ledger")
	}
	return &KeyStoreSink{Store: store, Ledger: ledger}, nil
}

// Begin implements Sink.
func (k *KeyStoreSink) Begin(ctx context.Context, m *Manifest, force bool) error {
	if m.Source.Kind != "keystore" {
		return fmt.Errorf("%w: key store sink, source kind %q", ErrSourceKind, m.Source.Kind)
	}
	if k.Store == nil || k.Ledger == nil {
		return errors.New("backup: key store sink needs a key store and the disposal ledger")
	}
	// Commit restores one dump; a manifest naming several would create
	// every keyset of the first and then fail, half-finished.
	if n := countKeysets(m); n > 1 {
		return corruptf("key store backup holds %d keysets entries, want one", n)
	}
	k.force = force
	k.entries = 0
	if !force {
		ks, err := k.Store.List(ctx, "", 1)
		if err != nil {
			return fmt.Errorf("backup: key store sink: %w", err)
		}
		if len(ks) > 0 {
			return fmt.Errorf("%w: key store is not empty", ErrExists)
		}
	}
	f, err := os.CreateTemp(k.TempDir, ".hipaakit-keysets-*")
	if err != nil {
		return fmt.Errorf("backup: key store sink: spool: %w", durable.WithoutPath(err))
	}
	os.Remove(f.Name()) // unlinked: vanishes with the process
	k.spool = f
	return nil
}

// Entry implements Sink.
func (k *KeyStoreSink) Entry(ctx context.Context, e *Entry, body io.Reader) error {
	if e.Type != EntryKeysets {
		return fmt.Errorf("%w: key store sink, entry type %q", ErrSourceKind, e.Type)
	}
	if k.entries++; k.entries > 1 {
		return corruptf("key store backup holds more than one keysets entry")
	}
	tee := io.TeeReader(body, k.spool)
	if _, err := decodeKeysets(tee, func(phi.WrappedKeyset) error { return nil }); err != nil {
		return err
	}
	_, err := io.Copy(k.spool, body) // nothing left after a valid dump
	return err
}

// Commit implements Sink.
func (k *KeyStoreSink) Commit(ctx context.Context) error {
	n, err := k.Ledger.Replay(ctx, k.Store)
	if err != nil {
		return fmt.Errorf("backup: key store sink: replay disposal ledger: %w", err)
	}
	k.Replayed += n
	if _, err := k.spool.Seek(0, io.SeekStart); err != nil {
		return err
	}
	_, err = decodeKeysets(k.spool, func(w phi.WrappedKeyset) error {
		if k.digests == nil {
			k.digests = map[string][32]byte{}
		}
		err := k.Store.Create(ctx, w)
		if err == nil || (errors.Is(err, phi.ErrKeyExists) && k.force) {
			k.digests[w.Ref] = digest(w.Ciphertext)
		}
		switch {
		case err == nil:
			k.Restored++
		case errors.Is(err, phi.ErrShredded):
			k.Shredded++
		case errors.Is(err, phi.ErrKeyExists) && k.force:
			cur, gerr := k.Store.Get(ctx, w.Ref)
			if gerr != nil {
				return fmt.Errorf("backup: key store sink: %w", gerr)
			}
			if uerr := k.Store.Update(ctx, w, cur.Version); uerr != nil {
				return fmt.Errorf("backup: key store sink: %w", uerr)
			}
			k.Restored++
		default:
			return fmt.Errorf("backup: key store sink: keyset %s: %w", strconv.Quote(w.Ref), err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	n, err = k.Ledger.Replay(ctx, k.Store)
	if err != nil {
		return fmt.Errorf("backup: key store sink: replay disposal ledger: %w", err)
	}
	k.Replayed += n
	k.spool.Close()
	k.spool = nil
	return nil
}

// Abort implements Sink.
func (k *KeyStoreSink) Abort(ctx context.Context) error {
	if k.spool != nil {
		k.spool.Close()
		k.spool = nil
	}
	return nil
}
