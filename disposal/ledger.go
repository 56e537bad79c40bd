package disposal

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/phi"
)

// LedgerVersion is the version of the ledger-entry layout inside an audit
// event (the "v" attribute; see FORMAT.md).
const LedgerVersion = 1

// LedgerStore is the storage under a Ledger: an append-only, hash-chained
// stream of audit records, one audit.Event per disposal. FileLedgerStore
// (the embedded default, on the audit package's file log) and
// disposal/pgledger (PostgreSQL) implement it.
//
// Contract:
//   - Append durably stores e as the next record of the stream and returns
//     that record (with its Seq and Hash). It returns nil error only once the
//     record survives a crash.
//   - Scan calls fn for every record with Seq > after, in order, and checks
//     the hash chain as it reads; a break in the chain or an unreadable
//     record stops it with an error (wrapping ErrCorruptLedger when it is
//     the ledger's content that is bad).
//   - FindSubject returns the first record whose Event.Target.Subject is
//     subject, and false when there is none.
//   - Every method is safe for concurrent use and honours ctx.
type LedgerStore interface {
	Append(ctx context.Context, e audit.Event) (audit.Record, error)
	Scan(ctx context.Context, after uint64, fn func(audit.Record) error) error
	FindSubject(ctx context.Context, subject string) (audit.Record, bool, error)
	// Stream names the ledger's stream, recorded in certificates.
	Stream() string
}

// SubjectLocker is implemented by a LedgerStore that several processes
// share (disposal/pgledger): LockSubject serialises the shreds of one
// subject across all of them, from the ledger lookup to the append, so that
// concurrent shreds of one subject on several instances record one entry
// (the others find it and return it as repeated). The lock must be released
// by unlock, and also when its holder dies (a database session's lock, not a
// row someone must clean up).
type SubjectLocker interface {
	LockSubject(ctx context.Context, subject string) (unlock func(), err error)
}

// Ledger is the disposal ledger: the append-only, hash-chained record of
// every crypto-shred. A restore replays it (Replay) so that an older copy of
// the key store can never bring a shredded subject back.
type Ledger struct {
	store  LedgerStore
	mirror LedgerStore // nil: not mirrored
	// locks serialise find-then-append per subject within this process, so
	// that two concurrent shreds of one subject record one entry while
	// shreds of different subjects proceed in parallel. A store shared by
	// processes adds its own lock (SubjectLocker).
	locks [64]sync.Mutex
}

// lockSubject takes the lock stripe of subject, then the store's lock of
// subject when it has one (SubjectLocker), and returns their release.
func (l *Ledger) lockSubject(ctx context.Context, subject string) (unlock func(), err error) {
	h := fnv.New32a()
	h.Write([]byte(subject))
	m := &l.locks[h.Sum32()%uint32(len(l.locks))]
	m.Lock()
	sl, ok := l.store.(SubjectLocker)
	if !ok {
		return m.Unlock, nil
	}
	release, err := sl.LockSubject(ctx, subject)
	if err != nil {
		m.Unlock()
		return nil, fmt.Errorf("disposal: lock the subject's disposal, nothing destroyed: %w", err)
	}
	return func() { release(); m.Unlock() }, nil
}

// NewLedger returns a Ledger over store.
func NewLedger(store LedgerStore) *Ledger { return &Ledger{store: store} }

// NewMirroredLedger returns a Ledger over store whose every disposal is
// also recorded in mirror, a second store kept outside the database or
// directory that store and the key store live in (for example a file
// ledger in another directory while store is in PostgreSQL). Restoring
// the database to an earlier point (point-in-time recovery, an older
// dump) brings back an older key store and an older store together, but
// not an older mirror: Replay and Lookup consult both, so a subject
// shredded after that point stays shredded. Replay also copies into the
// mirror every disposal it lacks (recorded before mirroring began, or
// when a mirror write failed), so the mirror becomes complete.
// Certificates keep naming their position in store.
func NewMirroredLedger(store, mirror LedgerStore) *Ledger {
	return &Ledger{store: store, mirror: mirror}
}

// Entry is one disposal as the ledger records it.
type Entry struct {
	Statement Statement
	Position  LedgerPosition
	// Hash is the ledger record's hash in the chain.
	Hash audit.Hash
}

// Ledger event attribute keys (FORMAT.md).
const (
	attrVersion       = "v"
	attrCertificateID = "certificate_id"
	attrMethod        = "method"
	attrReason        = "reason"
	attrStatementHash = "statement_sha256"
	attrKeyCount      = "key_count"
	attrKeyIDs        = "key_ids" // then key_ids.2, key_ids.3, ... when long
	ledgerRecordType  = "subject"
	ledgerEventReason = "cryptographic_erase"
	keyIDsPerAttr     = 90 // 90 × (10 digits + comma) fits audit.MaxStringLen
)

// entryEvent encodes st as the ledger's audit event.
func entryEvent(st Statement) audit.Event {
	h := st.Hash()
	attrs := map[string]string{
		attrVersion:       strconv.Itoa(LedgerVersion),
		attrCertificateID: st.ID,
		attrMethod:        st.Method,
		attrReason:        st.Reason,
		attrStatementHash: hex.EncodeToString(h[:]),
		attrKeyCount:      strconv.Itoa(len(st.KeyIDs)),
	}
	for i, chunk := 0, 1; i < len(st.KeyIDs) || i == 0; i, chunk = i+keyIDsPerAttr, chunk+1 {
		end := min(i+keyIDsPerAttr, len(st.KeyIDs))
		parts := make([]string, 0, end-i)
		for _, id := range st.KeyIDs[i:end] {
			parts = append(parts, strconv.FormatUint(uint64(id), 10))
		}
		attrs[keyIDsAttr(chunk)] = strings.Join(parts, ",")
	}
	return audit.Event{
		Time: st.Time, Action: audit.ActionShred, Outcome: audit.OutcomeSuccess, Reason: ledgerEventReason,
		Actor:  audit.Actor{UserID: st.Actor},
		Origin: audit.Origin{Channel: audit.ChannelSystem},
		Target: audit.Target{RecordType: ledgerRecordType, Subject: st.Subject},
		Attrs:  attrs,
	}
}

func keyIDsAttr(chunk int) string {
	if chunk == 1 {
		return attrKeyIDs
	}
	return attrKeyIDs + "." + strconv.Itoa(chunk)
}

// ParseEntry decodes a ledger record. It checks the entry's own consistency
// (version, fields, statement hash) but not the hash chain, which the
// LedgerStore checks. Errors are *LedgerError (ErrCorruptLedger) or match
// ErrUnsupportedVersion; they never quote the record.
func ParseEntry(r audit.Record) (Entry, error) {
	bad := func(reason string) (Entry, error) {
		return Entry{}, &LedgerError{Seq: r.Seq, Reason: reason}
	}
	e := r.Event
	if e.Action != audit.ActionShred || e.Target.RecordType != ledgerRecordType {
		return bad("not a disposal entry")
	}
	if v := e.Attrs[attrVersion]; v != strconv.Itoa(LedgerVersion) {
		if _, err := strconv.Atoi(v); err == nil {
			return Entry{}, &LedgerError{Seq: r.Seq, Reason: "entry version " + v, err: ErrUnsupportedVersion}
		}
		return bad("missing version")
	}
	n, err := strconv.Atoi(e.Attrs[attrKeyCount])
	if err != nil || n < 0 || n > maxKeyIDs {
		return bad("malformed key count")
	}
	ids := make([]uint32, 0, n)
	for chunk := 1; len(ids) < n || chunk == 1; chunk++ {
		s, ok := e.Attrs[keyIDsAttr(chunk)]
		if !ok {
			return bad("missing key ids")
		}
		if s == "" {
			continue
		}
		for _, p := range strings.Split(s, ",") {
			v, err := strconv.ParseUint(p, 10, 32)
			if err != nil || strconv.FormatUint(v, 10) != p {
				return bad("malformed key id")
			}
			ids = append(ids, uint32(v))
		}
	}
	if len(ids) != n {
		return bad("key count does not match")
	}
	st := Statement{
		ID: e.Attrs[attrCertificateID], Subject: e.Target.Subject, Time: e.Time.UTC(),
		Actor: e.Actor.UserID, Reason: e.Attrs[attrReason], Method: e.Attrs[attrMethod], KeyIDs: ids,
	}
	if err := st.validate(); err != nil {
		var ce *CertificateError
		errors.As(err, &ce)
		return bad(ce.Reason)
	}
	h := st.Hash()
	if e.Attrs[attrStatementHash] != hex.EncodeToString(h[:]) {
		return bad("statement hash does not match")
	}
	if !maps.Equal(e.Attrs, entryEvent(st).Attrs) {
		return bad("unexpected attributes")
	}
	return Entry{Statement: st, Position: LedgerPosition{Seq: r.Seq, Stream: r.Stream}, Hash: r.Hash}, nil
}

// record appends st to the ledger (and its mirror). An error wrapping
// ErrMirror comes with the entry: it is recorded in store.
func (l *Ledger) record(ctx context.Context, st Statement) (Entry, error) {
	r, err := l.store.Append(ctx, entryEvent(st))
	if err != nil {
		return Entry{}, fmt.Errorf("disposal: ledger append: %w", err)
	}
	e := Entry{Statement: st, Position: LedgerPosition{Seq: r.Seq, Stream: r.Stream}, Hash: r.Hash}
	if l.mirror != nil {
		if _, err := l.mirror.Append(ctx, entryEvent(st)); err != nil {
			// Recorded in store (and copied to the mirror by the next
			// Replay): the entry stands, the caller learns the mirror lags.
			return e, fmt.Errorf("%w: %w", ErrMirror, err)
		}
	}
	return e, nil
}

// Lookup returns the disposal recorded for subject, and false if there is
// none.
func (l *Ledger) Lookup(ctx context.Context, subject string) (Entry, bool, error) {
	r, ok, err := l.store.FindSubject(ctx, subject)
	if err == nil && !ok && l.mirror != nil {
		r, ok, err = l.mirror.FindSubject(ctx, subject)
	}
	if err != nil || !ok {
		return Entry{}, false, err
	}
	e, err := ParseEntry(r)
	if err != nil {
		return Entry{}, false, err
	}
	return e, true, nil
}

// Entries calls fn for every disposal in ledger order, checking the hash
// chain and every entry as it reads. It stops at the first error.
func (l *Ledger) Entries(ctx context.Context, fn func(Entry) error) error {
	return entries(ctx, l.store, fn)
}

func entries(ctx context.Context, store LedgerStore, fn func(Entry) error) error {
	return store.Scan(ctx, 0, func(r audit.Record) error {
		switch r.Event.Action {
		case audit.ActionTrailRepaired, audit.ActionRetentionPurge:
			// Written by the audit log itself (torn-tail repair, purge).
			return nil
		}
		e, err := ParseEntry(r)
		if err != nil {
			return err
		}
		return fn(e)
	})
}

// Replay re-applies every recorded disposal to store: store.Shred(subject)
// for each entry, in ledger order. KeyStore.Shred is idempotent and succeeds
// for references the store has never seen, so Replay is safe to run any
// number of times, also before the rest of a restore. It returns how many
// entries it applied.
//
// Replay reads the whole ledger and checks its hash chain first; on a
// corrupt ledger it applies nothing and returns an error matching
// ErrCorruptLedger, because a ledger that may be missing entries must not be
// taken as the complete list of disposals.
//
// A mirrored ledger (NewMirroredLedger) replays the disposals of both
// stores, store's first, and then appends to the mirror those it lacks.
func (l *Ledger) Replay(ctx context.Context, store phi.KeyStore) (replayed int, err error) {
	var subjects []string
	var missing []Statement // in store, not in the mirror
	inStore := map[string]bool{}
	if err := l.Entries(ctx, func(e Entry) error {
		subjects = append(subjects, e.Statement.Subject)
		inStore[e.Statement.Subject] = true
		missing = append(missing, e.Statement)
		return nil
	}); err != nil {
		return 0, err
	}
	if l.mirror != nil {
		onlyMirror, err := l.mirrorDiff(ctx, &missing)
		if err != nil {
			return 0, err
		}
		for _, st := range onlyMirror {
			if !inStore[st.Subject] {
				subjects = append(subjects, st.Subject)
			}
		}
	} else {
		missing = nil
	}
	for _, s := range subjects {
		if _, err := store.Shred(ctx, s); err != nil {
			return replayed, fmt.Errorf("disposal: replay: shred entry %d of %d: %w", replayed+1, len(subjects), err)
		}
		replayed++
	}
	if _, err := l.appendMirror(ctx, missing); err != nil {
		return replayed, err
	}
	return replayed, nil
}

// mirrorDiff reads the mirror, removes from *missing (disposals of store)
// those the mirror holds and returns the mirror's disposals.
func (l *Ledger) mirrorDiff(ctx context.Context, missing *[]Statement) ([]Statement, error) {
	inMirror := map[string]bool{}
	var all []Statement
	if err := entries(ctx, l.mirror, func(e Entry) error {
		inMirror[e.Statement.Subject] = true
		all = append(all, e.Statement)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMirror, err)
	}
	*missing = slices.DeleteFunc(*missing, func(st Statement) bool { return inMirror[st.Subject] })
	return all, nil
}

// appendMirror appends sts to the mirror.
func (l *Ledger) appendMirror(ctx context.Context, sts []Statement) (int, error) {
	for i, st := range sts {
		if _, err := l.mirror.Append(ctx, entryEvent(st)); err != nil {
			return i, fmt.Errorf("%w: %w", ErrMirror, err)
		}
	}
	return len(sts), nil
}

// SyncMirror copies into the mirror of a mirrored ledger
// (NewMirroredLedger) every disposal of its store the mirror lacks — those
// recorded by other processes sharing the store (replicas, the CLI), or
// while a mirror write failed — and returns how many it copied. It reads
// both ledgers whole, checking them as Replay does, and destroys no key.
// Without a mirror it does nothing.
func (l *Ledger) SyncMirror(ctx context.Context) (int, error) {
	if l.mirror == nil {
		return 0, nil
	}
	var missing []Statement
	if err := l.Entries(ctx, func(e Entry) error { missing = append(missing, e.Statement); return nil }); err != nil {
		return 0, err
	}
	if _, err := l.mirrorDiff(ctx, &missing); err != nil {
		return 0, err
	}
	return l.appendMirror(ctx, missing)
}

// Verify reads the whole ledger, checking the hash chain and every entry,
// and returns the number of entries.
func (l *Ledger) Verify(ctx context.Context) (int, error) {
	n := 0
	err := l.Entries(ctx, func(Entry) error { n++; return nil })
	return n, err
}

// Close closes the store when it has a Close method (FileLedgerStore does).
func (l *Ledger) Close() error {
	if c, ok := l.store.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// Stream names the ledger's stream.
func (l *Ledger) Stream() string { return l.store.Stream() }

// sortedIDs returns ids sorted and without repeats, never nil.
func sortedIDs(ids []uint32) []uint32 {
	out := slices.Clone(ids)
	slices.Sort(out)
	out = slices.Compact(out)
	if out == nil {
		out = []uint32{}
	}
	return out
}
