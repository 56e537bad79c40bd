package audit

import (
	"crypto"
	"crypto/ed25519"
	"errors"
	"time"

	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/signing"
)

// Defaults of FileOptions.
const (
	DefaultStream             = "audit"
	DefaultSegmentMaxBytes    = 64 << 20
	DefaultSegmentMaxAge      = 24 * time.Hour
	DefaultCheckpointEvery    = 10000
	DefaultCheckpointInterval = time.Minute
	DefaultMaxPendingBytes    = 8 << 20
	DefaultFullTimeout        = 5 * time.Second
	DefaultWriteTimeout       = 30 * time.Second
)

// FileOptions configure a FileLog. The zero value of every field but
// Signer means its default.
type FileOptions struct {
	// Stream names the log's hash chain (default "audit"). A directory
	// holds one stream; a second log (for example a disposal ledger) uses
	// its own directory and stream name.
	Stream string
	// Signer signs checkpoints; its public key must be ed25519. Required.
	Signer crypto.Signer
	// PreviousKeys are earlier checkpoint keys, trusted when Open checks
	// the newest segment after a key rotation (the signer's own key is
	// always trusted; a key here with its KeyID fails Open). Verifiers need
	// them too.
	PreviousKeys signing.KeySet
	// Clock sets event and checkpoint times (default the system clock).
	Clock clock.Clock
	// SegmentMaxBytes and SegmentMaxAge rotate to a new segment file when
	// the current one reaches that size or age (defaults 64 MiB, 24 h).
	SegmentMaxBytes int64
	SegmentMaxAge   time.Duration
	// CheckpointEvery and CheckpointInterval write a signed checkpoint after
	// that many events or that much time with unsealed events (defaults
	// 10000 events, 1 minute). A checkpoint is also written at Close.
	CheckpointEvery    int
	CheckpointInterval time.Duration
	// CheckpointSink, when set, receives every checkpoint after it is
	// durable in the log; the events it covers are acknowledged only after
	// the sink accepts it, and a sink failure fails the log (fail closed).
	CheckpointSink CheckpointSink
	// MaxPendingBytes bounds the encoded events waiting for the next
	// group commit (default 8 MiB). A Write that finds the buffer full
	// waits at most FullTimeout (default 5 s) and then fails with
	// ErrUnavailable.
	MaxPendingBytes int
	FullTimeout     time.Duration
	// WriteTimeout bounds how long a Write waits for durability when its
	// context has no earlier deadline (default 30 s).
	WriteTimeout time.Duration
	// Repair lets Open drop a torn (incomplete, never acknowledged) last
	// line of the newest segment. Open records the repair as a
	// trail_repaired event. Without Repair, Open fails with a
	// *TornTailError.
	Repair bool
}

func (o *FileOptions) setDefaults() error {
	if o.Stream == "" {
		o.Stream = DefaultStream
	}
	if !ValidStream(o.Stream) {
		return errors.New("audit: invalid stream name")
	}
	if o.Signer == nil {
		return errors.New("audit: FileOptions.Signer is required")
	}
	if _, ok := o.Signer.Public().(ed25519.PublicKey); !ok {
		return errors.New("audit: checkpoint signer is not an ed25519 key")
	}
	o.Clock = clock.OrSystem(o.Clock)
	def := func(v *int64, d int64) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.SegmentMaxBytes, DefaultSegmentMaxBytes)
	for _, p := range []struct {
		v *time.Duration
		d time.Duration
	}{{&o.SegmentMaxAge, DefaultSegmentMaxAge}, {&o.CheckpointInterval, DefaultCheckpointInterval}, {&o.FullTimeout, DefaultFullTimeout}, {&o.WriteTimeout, DefaultWriteTimeout}} {
		if *p.v <= 0 {
			*p.v = p.d
		}
	}
	if o.CheckpointEvery <= 0 {
		o.CheckpointEvery = DefaultCheckpointEvery
	}
	if o.MaxPendingBytes <= 0 {
		o.MaxPendingBytes = DefaultMaxPendingBytes
	}
	return nil
}
