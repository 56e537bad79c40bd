package audit

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"time"

	"github.com/hipaakit/hipaakit/signing"
)

// CheckpointReason says why a checkpoint was written.
type CheckpointReason string

// Checkpoint reasons.
const (
	CheckpointCount    CheckpointReason = "count"    // every N events
	CheckpointInterval CheckpointReason = "interval" // every T of time
	CheckpointClose    CheckpointReason = "close"    // when the writer closes
	CheckpointAnchor   CheckpointReason = "anchor"   // the first line of a segment: what came before it
	CheckpointRepair   CheckpointReason = "repair"   // after a torn tail was dropped
	CheckpointPurge    CheckpointReason = "purge"    // seals the retention_purge record a purge appended
)

// Checkpoint is a signed statement that record Seq of Stream has hash Head.
// Every record up to Seq is fixed by it: changing, removing, adding or
// reordering any of them changes Head. A checkpoint with Seq 0 and a zero
// Head stands for an empty stream.
//
// Signatures are ed25519 over "hipaakit audit checkpoint\n" followed by the
// canonical encoding of the checkpoint without its "sig" member
// (FORMAT.md). KeyID names the signing key so that verifiers holding
// several keys (after a key rotation) pick the right one.
type Checkpoint struct {
	Stream string
	Seq    uint64
	Head   Hash
	Time   time.Time
	Reason CheckpointReason
	KeyID  string
	Sig    []byte
}

// CheckpointSink receives every checkpoint a writer signs, for example to
// keep copies outside the log's storage, so that truncating the log after
// its last checkpoint is detectable (pass the sink's latest checkpoint to
// VerifyOptions.Expect). WriteCheckpoint returns nil only after the
// checkpoint is durably stored.
type CheckpointSink interface {
	WriteCheckpoint(ctx context.Context, c Checkpoint) error
}

// CheckpointSinkFunc adapts a function to a CheckpointSink.
type CheckpointSinkFunc func(ctx context.Context, c Checkpoint) error

// WriteCheckpoint calls f.
func (f CheckpointSinkFunc) WriteCheckpoint(ctx context.Context, c Checkpoint) error {
	return f(ctx, c)
}

var (
	checkpointPrefix     = []byte(`{"checkpoint":`)
	checkpointSigContext = []byte("hipaakit audit checkpoint\n")
)

// Sign sets c.KeyID and c.Sig with signer, whose public key must be an
// ed25519.PublicKey (an ed25519.PrivateKey is a crypto.Signer; so are
// keys held in a KMS or HSM that sign ed25519).
func (c *Checkpoint) Sign(signer crypto.Signer) error {
	pub, ok := signer.Public().(ed25519.PublicKey)
	if !ok {
		return errors.New("audit: checkpoint signer is not an ed25519 key")
	}
	c.KeyID = signing.KeyID(pub)
	c.Sig = nil
	if err := c.check(); err != nil {
		return err
	}
	msg := c.signedBytes()
	sig, err := signer.Sign(rand.Reader, msg, crypto.Hash(0))
	if err != nil {
		return errors.New("audit: signing checkpoint failed")
	}
	if !ed25519.Verify(pub, msg, sig) {
		return errors.New("audit: checkpoint signer returned an invalid signature")
	}
	c.Sig = sig
	return nil
}

// Verify checks c's signature with the key among keys whose KeyID matches.
// It fails with ErrBadSignature when no key matches or the signature does
// not verify.
func (c *Checkpoint) Verify(keys ...ed25519.PublicKey) error {
	if c.check() != nil || len(c.Sig) != ed25519.SignatureSize {
		return ErrBadSignature
	}
	msg := c.signedBytes()
	for _, k := range keys {
		if len(k) == ed25519.PublicKeySize && signing.KeyID(k) == c.KeyID && ed25519.Verify(k, msg, c.Sig) {
			return nil
		}
	}
	return ErrBadSignature
}

func (c *Checkpoint) check() error {
	if !ValidStream(c.Stream) {
		return &FieldError{Field: "stream", Reason: "must be 1-64 ASCII letters, digits, '_', '.' or '-'"}
	}
	if c.Seq > MaxSeq {
		return &FieldError{Field: "seq", Reason: "must be at most 2^53-1"}
	}
	if c.Seq == 0 && !c.Head.IsZero() {
		return &FieldError{Field: "head", Reason: "must be zero at seq 0"}
	}
	if c.Time.IsZero() {
		return &FieldError{Field: "time", Reason: "must be set"}
	}
	if y := c.Time.UTC().Year(); y < 1 || y > 9999 {
		return &FieldError{Field: "time", Reason: "year outside 1-9999"}
	}
	if !validToken(string(c.Reason), MaxActionLen, false) {
		return &FieldError{Field: "reason", Reason: "must be a lower-case token"}
	}
	if len(c.KeyID) != 16 || unhexString(c.KeyID) == nil {
		return &FieldError{Field: "key", Reason: "must be 16 lower-case hex digits"}
	}
	return nil
}

func unhexString(s string) []byte {
	out := make([]byte, len(s)/2)
	for i := 0; i+1 < len(s); i += 2 {
		hi, lo := unhex(s[i]), unhex(s[i+1])
		if hi > 15 || lo > 15 {
			return nil
		}
		out[i/2] = hi<<4 | lo
	}
	return out
}

// signedBytes returns the signature context and the checkpoint's canonical
// encoding without "sig".
func (c *Checkpoint) signedBytes() []byte {
	b := append(make([]byte, 0, 256), checkpointSigContext...)
	return c.appendObject(b, false)
}

func (c *Checkpoint) appendObject(dst []byte, withSig bool) []byte {
	dst = append(dst, `{"head":`...)
	dst = appendHex(dst, c.Head[:])
	dst = append(dst, `,"key":`...)
	dst = appendString(dst, c.KeyID)
	dst = append(dst, `,"reason":`...)
	dst = appendString(dst, string(c.Reason))
	dst = append(dst, `,"seq":`...)
	dst = appendUint(dst, c.Seq)
	if withSig {
		dst = append(dst, `,"sig":`...)
		dst = appendBase64(dst, c.Sig)
	}
	dst = append(dst, `,"stream":`...)
	dst = appendString(dst, c.Stream)
	dst = append(dst, `,"time":`...)
	dst = appendTime(dst, c.Time.UTC())
	return append(dst, `,"v":1}`...)
}

// Marshal returns the canonical checkpoint line (without a newline). c must
// be signed.
func (c *Checkpoint) Marshal() ([]byte, error) { return c.AppendMarshal(nil) }

// AppendMarshal appends the canonical checkpoint line to dst.
func (c *Checkpoint) AppendMarshal(dst []byte) ([]byte, error) {
	if err := c.check(); err != nil {
		return dst, err
	}
	if len(c.Sig) != ed25519.SignatureSize {
		return dst, &FieldError{Field: "sig", Reason: "checkpoint is not signed"}
	}
	dst = append(dst, checkpointPrefix...)
	dst = c.appendObject(dst, true)
	return append(dst, '}'), nil
}

// ParseCheckpoint parses one canonical checkpoint line. It checks the form;
// Verify checks the signature.
func ParseCheckpoint(line []byte) (Checkpoint, error) {
	line = trimNewline(line)
	if len(line) >= MaxLineSize {
		return Checkpoint{}, ErrOversized
	}
	var c Checkpoint
	d := decoder{b: line, src: string(line)}
	d.expect(`{"checkpoint":{"head":`)
	c.Head = d.hash()
	d.expect(`,"key":`)
	c.KeyID = d.str(false)
	d.expect(`,"reason":`)
	c.Reason = CheckpointReason(d.str(false))
	d.expect(`,"seq":`)
	c.Seq = d.uint()
	d.expect(`,"sig":`)
	c.Sig = d.base64(ed25519.SignatureSize)
	d.expect(`,"stream":`)
	c.Stream = d.str(false)
	d.expect(`,"time":`)
	c.Time = d.time()
	d.expect(`,"v":1}}`)
	if d.bad || d.i != len(line) {
		return Checkpoint{}, classify(line)
	}
	if c.check() != nil {
		return Checkpoint{}, ErrMalformed
	}
	if len(c.Sig) != ed25519.SignatureSize {
		return Checkpoint{}, ErrNonCanonical
	}
	return c, nil
}
