package archive

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/signing"
)

// DefaultAfter is Config.After's default: segments are archived once every
// record of theirs was written 30 days ago.
const DefaultAfter = 30 * 24 * time.Hour

// Errors of the archive.
var (
	// ErrConfig reports a Config that New refuses.
	ErrConfig = errors.New("audit/archive: invalid configuration")
	// ErrMalformedUnit reports a unit manifest that does not parse.
	ErrMalformedUnit = errors.New("audit/archive: malformed unit manifest")
	// ErrDamaged reports an archive whose objects do not agree: a missing
	// unit, segment or checkpoint, a segment whose content is not the one
	// archived, units that do not follow each other.
	ErrDamaged = errors.New("audit/archive: archive is damaged")
)

// Config configures an Archive.
type Config struct {
	// Target stores the archive (required): a directory or an S3 bucket
	// through backup.ArchiveTarget, or a MemoryTarget in tests. A Target
	// that is a Retainer (S3 with object lock) keeps every object from
	// deletion and change until the end of its records' retention.
	Target Target
	// Keys are the log's trusted public keys (required): every checkpoint
	// of the archive must be signed by one of them.
	Keys signing.KeySet
	// Signer is the log's signing key: Archive signs a format-v2 checkpoint
	// at the end of each archived unit with it. Required by Archive only;
	// reading, verifying and purging need none.
	Signer crypto.Signer
	// After is the age past which a sealed segment is archived: every one
	// of its records written at least After ago. Zero is DefaultAfter.
	After time.Duration
	// Retention is how long archived objects are retained (the object lock
	// of a Retainer), from when their records were written. Zero is six
	// calendar years (audit.SixYearsAfter, 45 CFR 164.316(b)(2)).
	Retention time.Duration
	// Clock reads the time; nil is clock.System.
	Clock clock.Clock
}

// Archive is an archive of audit streams on a Target: per stream, whole
// sealed segments with the C2SP tlog-tiles tiles of the stream's Merkle
// tree and a signed format-v2 checkpoint at the end of each. It is safe for
// concurrent use; one process archives a given stream at a time.
type Archive struct {
	cfg      Config
	verifier *audit.ProofVerifier
}

// New returns the archive of cfg. It does not contact the target.
func New(cfg Config) (*Archive, error) {
	if cfg.Target == nil {
		return nil, fmt.Errorf("%w: Target is required", ErrConfig)
	}
	if cfg.Keys.Len() == 0 {
		return nil, fmt.Errorf("%w: Keys are required", ErrConfig)
	}
	if cfg.After < 0 || cfg.Retention < 0 {
		return nil, fmt.Errorf("%w: After and Retention must not be negative", ErrConfig)
	}
	if cfg.After == 0 {
		cfg.After = DefaultAfter
	}
	cfg.Clock = clock.OrSystem(cfg.Clock)
	return &Archive{cfg: cfg, verifier: audit.NewProofVerifier(cfg.Keys)}, nil
}

// retainUntil is the end of the retention of records written by writtenBy.
func (a *Archive) retainUntil(writtenBy time.Time) time.Time {
	if a.cfg.Retention == 0 {
		return audit.SixYearsAfter(writtenBy)
	}
	return writtenBy.Add(a.cfg.Retention).UTC()
}

// put stores an object, retained until until when the target can.
func (a *Archive) put(ctx context.Context, name string, data []byte, until time.Time) error {
	if r, ok := a.cfg.Target.(Retainer); ok && until.After(a.cfg.Clock.Now()) {
		return r.PutRetained(ctx, name, data, until)
	}
	return a.cfg.Target.Put(ctx, name, data)
}

// streamDir returns the directory of stream's objects: "audit/" and the
// stream's name when it is lower case and does not start with "x-", else
// "audit/x-" and the name in hex (object names are lower case).
func streamDir(stream string) string {
	if stream == strings.ToLower(stream) && !strings.HasPrefix(stream, "x-") {
		return "audit/" + stream + "/"
	}
	return "audit/x-" + hex.EncodeToString([]byte(stream)) + "/"
}

func unitName(first uint64) string      { return fmt.Sprintf("unit/%020d.json", first) }
func segmentObject(first uint64) string { return fmt.Sprintf("seg/%020d.jsonl", first) }
func checkpointName(size uint64) string { return fmt.Sprintf("checkpoint/%020d.note", size) }

// unitFormat is the format line of a unit manifest.
const unitFormat = "hipaakit audit archive unit v1"

// Unit is one archived segment: records First..Last of Stream, all written
// by WrittenBy, retained until RetainUntil, with the SHA-256 of the
// segment's bytes; the checkpoint at size Last is beside it.
type Unit struct {
	Format      string    `json:"format"`
	Stream      string    `json:"stream"`
	First       uint64    `json:"first"`
	Last        uint64    `json:"last"`
	SHA256      string    `json:"segment_sha256"`
	WrittenBy   time.Time `json:"written_by"`
	RetainUntil time.Time `json:"retain_until"`
}

// ParseUnit parses a unit manifest.
func ParseUnit(b []byte) (Unit, error) {
	var u Unit
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if len(b) > 4096 || d.Decode(&u) != nil || u.Format != unitFormat || !audit.ValidStream(u.Stream) ||
		u.First == 0 || u.Last < u.First || u.Last > audit.MaxSeq || len(u.SHA256) != 64 || u.WrittenBy.IsZero() {
		return Unit{}, ErrMalformedUnit
	}
	if _, err := hex.DecodeString(u.SHA256); err != nil || strings.ToLower(u.SHA256) != u.SHA256 {
		return Unit{}, ErrMalformedUnit
	}
	return u, nil
}

// Report says what Archive stored.
type Report struct {
	Stream   string
	Archived []Unit
	// StoppedBy is why it stopped: "young" (the next segment is younger
	// than After) or "" (every sealed segment is archived).
	StoppedBy string
}

// Archive stores every sealed segment of src older than Config.After that is
// not archived yet, oldest first: for each, the segment, the tiles its
// records add to the stream's tree, the format-v2 checkpoint at its last
// record (signed with Config.Signer) and, last, its unit manifest. Before
// it stores anything of a segment it checks that the segment's records
// lead to the log's stored tree hashes and that the checkpoint it signs is
// consistent with the log's newest signed one, so the archive only ever
// receives what the log signed. A log without a Merkle tree fails with
// audit.ErrNoTree.
func (a *Archive) Archive(ctx context.Context, src Source) (Report, error) {
	if a.cfg.Signer == nil {
		return Report{}, fmt.Errorf("%w: Signer is required to archive", ErrConfig)
	}
	live, err := src.Prover(a.cfg.Keys).TreeCheckpoint(ctx)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Stream: live.Stream}
	dir := streamDir(live.Stream)
	units, err := a.units(ctx, live.Stream)
	if err != nil {
		return rep, err
	}
	var size uint64 // the archived tree's size
	if len(units) > 0 {
		size = units[len(units)-1].Last
	}
	segs, err := src.Sealed(ctx, a.cfg.Keys)
	if err != nil {
		return rep, err
	}
	now := a.cfg.Clock.Now().UTC()
	for _, seg := range segs {
		if seg.LastSeq <= size {
			continue
		}
		if size > 0 && seg.FirstSeq != size+1 {
			return rep, fmt.Errorf("%w: stream %s: segment from %d does not follow the archive's last record %d", ErrDamaged, live.Stream, seg.FirstSeq, size)
		}
		if seg.WrittenBy.After(now.Add(-a.cfg.After)) {
			rep.StoppedBy = "young"
			break
		}
		if seg.LastSeq > live.Size {
			break // the log's newest checkpoint does not cover it yet
		}
		u, err := a.archiveSegment(ctx, src, live, seg, size, dir)
		if err != nil {
			return rep, err
		}
		rep.Archived = append(rep.Archived, u)
		size = u.Last
	}
	return rep, nil
}

func (a *Archive) archiveSegment(ctx context.Context, src Source, live audit.TreeCheckpoint, seg audit.SealedSegment, oldSize uint64, dir string) (Unit, error) {
	data, err := src.Read(ctx, seg)
	if err != nil {
		return Unit{}, err
	}
	recs, err := segmentRecords(data, live.Stream)
	if err != nil {
		return Unit{}, err
	}
	if len(recs) == 0 || recs[0].Seq != seg.FirstSeq || recs[len(recs)-1].Seq != seg.LastSeq {
		return Unit{}, fmt.Errorf("%w: stream %s: the range from %d does not hold records %d-%d", ErrDamaged, live.Stream, seg.FirstSeq, seg.FirstSeq, seg.LastSeq)
	}
	cp := audit.TreeCheckpoint{Stream: live.Stream, Size: seg.LastSeq, Head: recs[len(recs)-1].Hash, Time: a.cfg.Clock.Now().UTC()}
	var tiles []tlog.Tile
	var tileData [][]byte
	err = src.WithTreeStore(ctx, func(s audit.TreeStore) error {
		if cp.Root, err = audit.TreeRoot(ctx, s, int64(cp.Size)); err != nil {
			return err
		}
		// the root at the segment's end is the one the log signed later
		if _, err := audit.ProveConsistency(ctx, s, cp, live); err != nil {
			return err
		}
		// and the segment's records are its leaves
		if _, err := audit.CheckTree(ctx, seqOf(recs), s, cp); err != nil {
			return err
		}
		hr := hashReader(ctx, s)
		for _, t := range tlog.NewTiles(TileHeight, int64(oldSize), int64(cp.Size)) {
			b, err := tlog.ReadTileData(t, hr)
			if err != nil {
				return fmt.Errorf("%w: tile %s: %v", audit.ErrTreeMismatch, TilePath(t), err)
			}
			tiles, tileData = append(tiles, t), append(tileData, b)
		}
		return nil
	})
	if err != nil {
		return Unit{}, err
	}
	if err := audit.SignTreeCheckpoint(&cp, a.cfg.Signer); err != nil {
		return Unit{}, err
	}
	sum := sha256.Sum256(data)
	u := Unit{Format: unitFormat, Stream: live.Stream, First: seg.FirstSeq, Last: seg.LastSeq, SHA256: hex.EncodeToString(sum[:]),
		WrittenBy: seg.WrittenBy.UTC(), RetainUntil: a.retainUntil(seg.WrittenBy)}
	if err := a.put(ctx, dir+segmentObject(u.First), data, u.RetainUntil); err != nil {
		return Unit{}, err
	}
	for i, t := range tiles {
		if err := a.put(ctx, dir+TilePath(t), tileData[i], u.RetainUntil); err != nil {
			return Unit{}, err
		}
	}
	if err := a.put(ctx, dir+checkpointName(cp.Size), cp.Note, u.RetainUntil); err != nil {
		return Unit{}, err
	}
	mb, err := json.Marshal(u)
	if err != nil {
		return Unit{}, err
	}
	if err := a.put(ctx, dir+unitName(u.First), mb, u.RetainUntil); err != nil {
		return Unit{}, err
	}
	return u, nil
}

// segmentRecords parses a segment's records (its checkpoint lines are
// skipped), each of stream.
func segmentRecords(data []byte, stream string) ([]audit.Record, error) {
	var out []audit.Record
	for n, line := range bytes.Split(data, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		e, err := audit.ParseLine(line)
		if err != nil {
			return nil, fmt.Errorf("%w: segment line %d: %w", ErrDamaged, n+1, err)
		}
		if e.Record == nil {
			continue
		}
		if e.Record.Stream != stream {
			return nil, &audit.StreamMismatchError{Want: stream, Got: e.Record.Stream}
		}
		out = append(out, *e.Record)
	}
	return out, nil
}

// seqOf yields records.
func seqOf(recs []audit.Record) func(func(audit.Record, error) bool) {
	return func(yield func(audit.Record, error) bool) {
		for _, r := range recs {
			if !yield(r, nil) {
				return
			}
		}
	}
}

// units lists stream's archived units, oldest first.
func (a *Archive) units(ctx context.Context, stream string) ([]Unit, error) {
	dir := streamDir(stream)
	names, err := a.cfg.Target.List(ctx, dir+"unit/")
	if err != nil {
		return nil, err
	}
	var out []Unit
	for _, n := range names {
		b, err := a.cfg.Target.Get(ctx, n)
		if errors.Is(err, ErrNotFound) {
			continue // purged since the listing
		}
		if err != nil {
			return nil, err
		}
		u, err := ParseUnit(b)
		if err != nil {
			return nil, fmt.Errorf("%w: %s", err, strings.TrimPrefix(n, dir))
		}
		if u.Stream != stream || dir+unitName(u.First) != n {
			return nil, fmt.Errorf("%w: %s names another unit", ErrDamaged, strings.TrimPrefix(n, dir))
		}
		if len(out) > 0 && u.First != out[len(out)-1].Last+1 {
			return nil, fmt.Errorf("%w: stream %s: unit from %d does not follow record %d", ErrDamaged, stream, u.First, out[len(out)-1].Last)
		}
		out = append(out, u)
	}
	return out, nil
}

// Units lists stream's archived units, oldest first.
func (a *Archive) Units(ctx context.Context, stream string) ([]Unit, error) {
	if !audit.ValidStream(stream) {
		return nil, &audit.FieldError{Field: "stream", Reason: "must be 1-64 ASCII letters, digits, '_', '.' or '-'"}
	}
	return a.units(ctx, stream)
}
