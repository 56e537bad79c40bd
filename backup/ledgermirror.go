package backup

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/disposal"
)

// ledgerMirrorPrefix holds the mirror's objects, beside a repository's
// (see FORMAT.md): "ledger-mirror/<hex of the stream>/<seq, 20 digits>".
const ledgerMirrorPrefix = "ledger-mirror/"

// maxLedgerRecord bounds one mirrored record.
const maxLedgerRecord = 1 << 20

// LedgerMirrorConfig configures OpenLedgerMirror.
type LedgerMirrorConfig struct {
	// Stream is the stream this process appends to (audit.ValidStream),
	// one per writing process, for example the deployment's ledger stream.
	// Required.
	Stream string
	// Clock stamps events that have no time (nil: clock.System).
	Clock clock.Clock
}

// LedgerMirror is a disposal.LedgerStore kept in a Target — an S3 bucket,
// with object lock where the target sets it (s3target.Config.ObjectLock),
// or a directory — outside the database whose disposal ledger it mirrors
// (disposal.NewMirroredLedger). Each disposal is one object holding the
// record's canonical line, hash-chained to the one before in its stream,
// written with Create where the target offers it (so a second writer of a
// stream, or a replay of an old object, fails instead of overwriting) and
// otherwise Put. On a bucket with object lock in compliance mode no one,
// not the database's administrator nor the bucket's, can delete or
// rewrite a mirrored disposal before its retention ends, so a restore of
// the database to any earlier point cannot bring a shredded subject back.
//
// It reads every stream under the prefix (several replicas each append to
// their own), and checks each stream's chain when it reads it: a missing,
// reordered or altered record fails with disposal.ErrCorruptLedger naming
// the stream's position, never silently. FindSubject reads the streams
// again when the subject is not yet known, so another process's disposals
// are found.
type LedgerMirror struct {
	target Target
	stream string
	clock  clock.Clock

	mu      sync.Mutex
	chain   *audit.Chain
	streams map[string][]audit.Record // what was read, by stream
	index   map[string]audit.Record   // the first shred of each subject
}

var _ disposal.LedgerStore = (*LedgerMirror)(nil)

// OpenLedgerMirror reads the mirror in target and returns it ready to
// append to cfg.Stream.
func OpenLedgerMirror(ctx context.Context, target Target, cfg LedgerMirrorConfig) (*LedgerMirror, error) {
	if target == nil {
		return nil, errors.New("backup: a ledger mirror needs a target")
	}
	if !audit.ValidStream(cfg.Stream) {
		return nil, errors.New("backup: LedgerMirrorConfig.Stream is not a valid stream name")
	}
	m := &LedgerMirror{target: target, stream: cfg.Stream, clock: clock.OrSystem(cfg.Clock),
		streams: map[string][]audit.Record{}, index: map[string]audit.Record{}}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.refresh(ctx); err != nil {
		return nil, err
	}
	own := m.streams[cfg.Stream]
	c := audit.ChainConfig{Stream: cfg.Stream, Clock: m.clock}
	if n := len(own); n > 0 {
		c.Seq, c.Head = own[n-1].Seq, own[n-1].Hash
	}
	var err error
	if m.chain, err = audit.NewChain(c); err != nil {
		return nil, err
	}
	return m, nil
}

// streamDir is the object prefix of a stream.
func streamDir(stream string) string {
	return ledgerMirrorPrefix + hex.EncodeToString([]byte(stream)) + "/"
}

// refresh reads the records written since the last read, of every stream.
// Called with m.mu held.
func (m *LedgerMirror) refresh(ctx context.Context) error {
	type obj struct {
		stream string
		seq    uint64
		name   string
	}
	var objs []obj
	err := m.target.List(ctx, ledgerMirrorPrefix, func(o ObjectInfo) error {
		rest, ok := strings.CutPrefix(o.Name, ledgerMirrorPrefix)
		if !ok {
			return nil
		}
		stream, seq, ok := parseMirrorName(rest)
		if !ok {
			return objErr("read", o.Name, corruptf("not a ledger mirror object"))
		}
		objs = append(objs, obj{stream: stream, seq: seq, name: o.Name})
		return nil
	})
	if err != nil {
		return err
	}
	sort.Slice(objs, func(i, j int) bool {
		if objs[i].stream != objs[j].stream {
			return objs[i].stream < objs[j].stream
		}
		return objs[i].seq < objs[j].seq
	})
	for _, o := range objs {
		have := m.streams[o.stream]
		if o.seq <= uint64(len(have)) {
			continue // read before
		}
		if o.seq != uint64(len(have))+1 {
			return mirrorCorrupt(o.stream, uint64(len(have))+1, "record missing")
		}
		b, err := readObject(ctx, m.target, o.name, maxLedgerRecord)
		if err != nil {
			return err
		}
		r, err := audit.ParseRecord(b)
		if err != nil {
			return mirrorCorrupt(o.stream, o.seq, "record does not parse")
		}
		var prev audit.Hash
		if len(have) > 0 {
			prev = have[len(have)-1].Hash
		}
		if h, err := r.ComputeHash(); err != nil || h != r.Hash || r.Prev != prev || r.Seq != o.seq || r.Stream != o.stream {
			return mirrorCorrupt(o.stream, o.seq, "hash chain broken")
		}
		m.streams[o.stream] = append(have, r)
		m.indexRecord(r)
	}
	return nil
}

// parseMirrorName parses "<hex of the stream>/<seq, 20 digits>", the name
// of a mirrored record below the prefix.
func parseMirrorName(rest string) (stream string, seq uint64, ok bool) {
	hexStream, seqText, ok := strings.Cut(rest, "/")
	s, herr := hex.DecodeString(hexStream)
	seq, serr := strconv.ParseUint(seqText, 10, 64)
	if !ok || herr != nil || serr != nil || len(seqText) != 20 || seq == 0 || !audit.ValidStream(string(s)) {
		return "", 0, false
	}
	return string(s), seq, true
}

func (m *LedgerMirror) indexRecord(r audit.Record) {
	if r.Event.Action != audit.ActionShred {
		return
	}
	if _, ok := m.index[r.Event.Target.Subject]; !ok {
		m.index[r.Event.Target.Subject] = r
	}
}

func mirrorCorrupt(stream string, seq uint64, why string) error {
	return fmt.Errorf("%w: ledger mirror stream %s, record %d: %s", disposal.ErrCorruptLedger, stream, seq, why)
}

// Append implements disposal.LedgerStore: the record is the next of this
// process's stream, stored as one object.
func (m *LedgerMirror) Append(ctx context.Context, e audit.Event) (audit.Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	seq, head := m.chain.Head()
	line, r, err := m.chain.AppendNext(nil, e)
	if err != nil {
		return audit.Record{}, err
	}
	name := fmt.Sprintf("%s%020d", streamDir(m.stream), r.Seq)
	if c, ok := m.target.(Creator); ok {
		err = c.Create(ctx, name, line)
	} else {
		err = m.target.Put(ctx, name, line)
	}
	if err != nil {
		m.chain.Reset(seq, head) //nolint:errcheck // the head it came from
		if errors.Is(err, ErrExists) {
			return audit.Record{}, fmt.Errorf("backup: ledger mirror stream %s has another writer: %w", m.stream, err)
		}
		return audit.Record{}, err
	}
	m.streams[m.stream] = append(m.streams[m.stream], r)
	m.indexRecord(r)
	return r, nil
}

// Scan implements disposal.LedgerStore: every stream's records, stream by
// stream, read afresh; after skips the records of each stream up to that
// sequence number.
func (m *LedgerMirror) Scan(ctx context.Context, after uint64, fn func(audit.Record) error) error {
	m.mu.Lock()
	if err := m.refresh(ctx); err != nil {
		m.mu.Unlock()
		return err
	}
	names := make([]string, 0, len(m.streams))
	for s := range m.streams {
		names = append(names, s)
	}
	sort.Strings(names)
	var all []audit.Record
	for _, s := range names {
		for _, r := range m.streams[s] {
			if r.Seq > after {
				all = append(all, r)
			}
		}
	}
	m.mu.Unlock()
	for _, r := range all {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// FindSubject implements disposal.LedgerStore.
func (m *LedgerMirror) FindSubject(ctx context.Context, subject string) (audit.Record, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.index[subject]; ok {
		return r, true, nil
	}
	if err := m.refresh(ctx); err != nil {
		return audit.Record{}, false, err
	}
	r, ok := m.index[subject]
	return r, ok, nil
}

// Stream implements disposal.LedgerStore.
func (m *LedgerMirror) Stream() string { return m.stream }
