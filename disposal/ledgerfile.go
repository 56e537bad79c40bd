package disposal

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"errors"
	"fmt"
	"sync"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/signing"
)

// DefaultLedgerStream is the stream name of the disposal ledger.
const DefaultLedgerStream = "disposal"

// ErrReadOnly reports an Append to a ledger opened for reading only.
var ErrReadOnly = errors.New("disposal: ledger opened read-only")

// FileLedgerStore is the embedded default LedgerStore: an audit.FileLog in
// a directory of its own (never the audit trail's directory), holding one
// audit.ActionShred event per disposal. The audit package provides the hash
// chain, group-committed fsync, signed checkpoints, torn-tail repair and
// verification; this type adds the subject index.
type FileLedgerStore struct {
	log    *audit.FileLog    // nil when read-only
	reader *audit.FileReader // the log's reader, or an independent one
	keys   signing.KeySet
	stream string

	appendMu sync.Mutex        // serialises Append with reading the head
	mu       sync.Mutex        // guards index and dirtyUpTo
	index    map[string]uint64 // subject -> seq of its first disposal entry
	// dirtyUpTo, when non-zero, is the head sequence number after an
	// Append that failed once its event was linked into the chain: the
	// event may be (or become) durable without being indexed. The index is
	// rebuilt from the durable log once everything up to dirtyUpTo is
	// durable; until then lookups fail closed.
	dirtyUpTo uint64
}

// errIndexPending reports a lookup while the outcome of a failed append is
// not yet known.
var errIndexPending = errors.New("disposal: ledger: outcome of a failed append not yet durable; retry")

var _ LedgerStore = (*FileLedgerStore)(nil)

// FileLedgerOptions configure a FileLedgerStore.
type FileLedgerOptions struct {
	// Signer signs the ledger's checkpoints (an ed25519 key). Required for
	// OpenFileLedgerStore. It may be the certificate signing key: the two
	// signatures use distinct context strings.
	Signer crypto.Signer
	// Keys are the public keys whose checkpoints are trusted when reading
	// (default: Signer's public key). Required for OpenFileLedgerReader.
	Keys signing.KeySet
	// Clock stamps checkpoints (default: the system clock).
	Clock clock.Clock
	// Repair lets Open drop a torn, never acknowledged last line (see
	// audit.FileOptions.Repair).
	Repair bool
}

// OpenFileLedgerStore opens (creating if needed) the ledger in dir for
// appending. One process at a time may hold it open (an exclusive lock on
// the directory). It reads the whole ledger once to check the hash chain
// and build the subject index.
func OpenFileLedgerStore(ctx context.Context, dir string, opts FileLedgerOptions) (*FileLedgerStore, error) {
	if opts.Signer == nil {
		return nil, errors.New("disposal: FileLedgerOptions.Signer is required")
	}
	pub, ok := opts.Signer.Public().(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: ledger signer must be ed25519", ErrInvalidKey)
	}
	keys := opts.Keys
	if keys.Len() == 0 {
		keys, _ = signing.NewKeySet(pub) // one key cannot collide
	}
	log, err := audit.OpenFileLog(ctx, dir, audit.FileOptions{
		Stream: DefaultLedgerStream, Signer: opts.Signer, PreviousKeys: keys, Clock: opts.Clock, Repair: opts.Repair,
		// Disposals are rare: seal every entry with a checkpoint.
		CheckpointEvery: 1,
	})
	if err != nil {
		return nil, ledgerErr(err)
	}
	s := &FileLedgerStore{log: log, reader: log.Reader(), keys: keys, stream: DefaultLedgerStream}
	if err := s.buildIndex(ctx); err != nil {
		log.Close()
		return nil, err
	}
	return s, nil
}

// OpenFileLedgerReader opens the ledger in dir for reading only, without
// taking its lock: for Replay during a restore and for verification while
// another process appends. opts.Keys is required.
func OpenFileLedgerReader(ctx context.Context, dir string, opts FileLedgerOptions) (*FileLedgerStore, error) {
	if opts.Keys.Len() == 0 {
		return nil, errors.New("disposal: FileLedgerOptions.Keys is required to read a ledger")
	}
	r, err := audit.OpenFileReader(dir)
	if err != nil {
		return nil, fmt.Errorf("disposal: open ledger: %w", err)
	}
	s := &FileLedgerStore{reader: r, keys: opts.Keys, stream: DefaultLedgerStream}
	if err := s.buildIndex(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *FileLedgerStore) buildIndex(ctx context.Context) error {
	index := make(map[string]uint64)
	err := s.Scan(ctx, 0, func(r audit.Record) error {
		if r.Event.Action == audit.ActionShred {
			if _, dup := index[r.Event.Target.Subject]; !dup {
				index[r.Event.Target.Subject] = r.Seq
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.index = index
	s.mu.Unlock()
	return nil
}

// ensureIndex rebuilds the index from the durable log when a failed Append
// left it dirty. It fails closed while the failed append's outcome is not
// yet durable.
func (s *FileLedgerStore) ensureIndex(ctx context.Context) error {
	s.mu.Lock()
	dirty := s.dirtyUpTo != 0
	s.mu.Unlock()
	if !dirty {
		return nil
	}
	s.appendMu.Lock() // no Append while the index is rebuilt
	defer s.appendMu.Unlock()
	s.mu.Lock()
	upTo := s.dirtyUpTo
	s.mu.Unlock()
	if upTo == 0 {
		return nil // rebuilt meanwhile
	}
	if s.log.DurableSeq() < upTo {
		return errIndexPending
	}
	if err := s.buildIndex(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	s.dirtyUpTo = 0
	s.mu.Unlock()
	return nil
}

// Stream implements LedgerStore.
func (s *FileLedgerStore) Stream() string { return s.stream }

// Append implements LedgerStore. Appends are serialised: the FileLog's
// head after a Write is then the record that Write stored, so no read-back
// is needed. (Concurrent shreds still overlap their key-store and audit
// writes with the ledger append.)
//
// Once started, the write is not abandoned when ctx ends: a linked event
// becomes durable whatever the caller does, so Append waits for it,
// bounded by the log's own WriteTimeout. If the write fails after the event
// was linked, the index is rebuilt from the durable log before the next
// lookup.
func (s *FileLedgerStore) Append(ctx context.Context, e audit.Event) (audit.Record, error) {
	if s.log == nil {
		return audit.Record{}, ErrReadOnly
	}
	if err := ctx.Err(); err != nil {
		return audit.Record{}, fmt.Errorf("disposal: ledger append not started: %w", err)
	}
	s.appendMu.Lock()
	defer s.appendMu.Unlock()
	before, _ := s.log.Head()
	if err := s.log.Write(context.WithoutCancel(ctx), e); err != nil {
		if after, _ := s.log.Head(); after != before {
			s.mu.Lock()
			s.dirtyUpTo = after
			s.mu.Unlock()
		}
		return audit.Record{}, err
	}
	// Only this store writes to its private FileLog, and appendMu orders
	// the writes, so the head is the record just written.
	seq, h := s.log.Head()
	s.mu.Lock()
	if _, dup := s.index[e.Target.Subject]; !dup {
		s.index[e.Target.Subject] = seq
	}
	s.mu.Unlock()
	e.Time = e.Time.UTC()
	return audit.Record{Stream: s.stream, Seq: seq, Hash: h, Event: e}, nil
}

// Scan implements LedgerStore. It verifies the whole log (hash chain and
// checkpoint signatures) before yielding any record.
func (s *FileLedgerStore) Scan(ctx context.Context, after uint64, fn func(audit.Record) error) error {
	if _, err := s.reader.Verify(ctx, audit.VerifyOptions{Keys: s.keys}); err != nil {
		return ledgerErr(err)
	}
	for r, err := range s.reader.Records(ctx, after+1) {
		if err != nil {
			return ledgerErr(err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// FindSubject implements LedgerStore.
func (s *FileLedgerStore) FindSubject(ctx context.Context, subject string) (audit.Record, bool, error) {
	if s.log != nil {
		if err := s.ensureIndex(ctx); err != nil {
			return audit.Record{}, false, err
		}
	}
	s.mu.Lock()
	seq, ok := s.index[subject]
	s.mu.Unlock()
	if !ok {
		return audit.Record{}, false, ctx.Err()
	}
	for r, err := range s.reader.Records(ctx, seq) {
		if err != nil {
			return audit.Record{}, false, ledgerErr(err)
		}
		if r.Seq != seq || r.Event.Target.Subject != subject {
			break
		}
		return r, true, nil
	}
	return audit.Record{}, false, &LedgerError{Seq: seq, Reason: "indexed entry missing"}
}

// Close closes the underlying log (sealing it with a checkpoint).
func (s *FileLedgerStore) Close() error {
	if s.log == nil {
		return nil
	}
	return s.log.Close()
}

// ledgerErr maps the audit package's read and verification errors to
// *LedgerError, keeping the cause for errors.Is. Context errors pass
// through.
func ledgerErr(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var ve *audit.VerifyError
	if errors.As(err, &ve) {
		return &LedgerError{Seq: ve.Seq, Reason: "verification failed: " + string(ve.Problem), err: err}
	}
	var le *audit.LineError
	if errors.As(err, &le) {
		return &LedgerError{Reason: "unreadable entry", err: err}
	}
	for _, content := range []error{audit.ErrMalformed, audit.ErrNonCanonical, audit.ErrOversized, audit.ErrVersion,
		audit.ErrTorn, audit.ErrBadSignature, audit.ErrChainBroken, audit.ErrTruncated} {
		if errors.Is(err, content) {
			return &LedgerError{Reason: "unreadable or tampered entries", err: err}
		}
	}
	return fmt.Errorf("disposal: ledger: %w", err)
}
