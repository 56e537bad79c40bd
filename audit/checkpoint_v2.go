package audit

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/hipaakit/hipaakit/signing"
)

// ErrMalformedNote reports bytes that are not a format-v2 checkpoint: not a
// C2SP signed note, or a note whose body is not a hipaakit tree checkpoint.
var ErrMalformedNote = errors.New("audit: malformed checkpoint note")

// originPrefix starts the origin line of every format-v2 checkpoint.
const originPrefix = "hipaakit.audit/"

// maxNoteSize bounds the checkpoint notes ParseTreeCheckpoint reads.
const maxNoteSize = 64 << 10

// TreeOrigin returns the C2SP origin line (and the signed-note key name) of
// stream's checkpoints: "hipaakit.audit/" and the stream name.
func TreeOrigin(stream string) string { return originPrefix + stream }

// TreeCheckpoint is a format-v2 checkpoint (FORMAT.md, "Checkpoint format
// v2"): a C2SP tlog-checkpoint of the stream's Merkle tree inside a C2SP
// signed note, signed with ed25519 under the key name TreeOrigin(Stream).
// Size is the number of records (the tree's leaves) it covers, Root the
// RFC 6962 root of their leaves, and Head the hash-chain head at record
// Size, so the same statement fixes both the tree and the v1 chain.
type TreeCheckpoint struct {
	Stream string
	Size   uint64
	Root   Hash
	Head   Hash
	Time   time.Time
	// Note is the signed note, set by SignTreeCheckpoint and
	// ParseTreeCheckpoint; its signatures after the log's own are
	// cosignatures (of witnesses), kept as read.
	Note []byte
}

// body returns the note text the signature covers.
func (c *TreeCheckpoint) body() ([]byte, error) {
	if !ValidStream(c.Stream) {
		return nil, &FieldError{Field: "stream", Reason: "must be 1-64 ASCII letters, digits, '_', '.' or '-'"}
	}
	if c.Size > MaxSeq {
		return nil, &FieldError{Field: "size", Reason: "must be at most 2^53-1"}
	}
	if c.Size == 0 && !c.Head.IsZero() {
		return nil, &FieldError{Field: "head", Reason: "must be zero at size 0"}
	}
	if y := c.Time.UTC().Year(); c.Time.IsZero() || y < 1 || y > 9999 {
		return nil, &FieldError{Field: "time", Reason: "must be set, years 1-9999"}
	}
	b := make([]byte, 0, 200)
	b = append(b, TreeOrigin(c.Stream)...)
	b = append(b, '\n')
	b = strconv.AppendUint(b, c.Size, 10)
	b = append(b, '\n')
	b = base64.StdEncoding.AppendEncode(b, c.Root[:])
	b = append(b, "\nhead "...)
	b = hex.AppendEncode(b, c.Head[:])
	b = append(b, "\ntime "...)
	t := appendTime(make([]byte, 0, 32), c.Time.UTC())
	b = append(b, t[1:len(t)-1]...) // without appendTime's quotes
	return append(b, '\n'), nil
}

// noteSigner signs notes with a crypto.Signer holding an ed25519 key.
type noteSigner struct {
	name string
	hash uint32
	s    crypto.Signer
}

func (n *noteSigner) Name() string    { return n.name }
func (n *noteSigner) KeyHash() uint32 { return n.hash }
func (n *noteSigner) Sign(msg []byte) ([]byte, error) {
	return n.s.Sign(rand.Reader, msg, crypto.Hash(0))
}

// noteVerifier returns the signed-note verifier of pub under name.
func noteVerifier(name string, pub ed25519.PublicKey) (note.Verifier, error) {
	vkey, err := note.NewEd25519VerifierKey(name, pub)
	if err != nil {
		return nil, err
	}
	return note.NewVerifier(vkey)
}

// SignTreeCheckpoint signs c with signer (an ed25519 key) and sets c.Note.
func SignTreeCheckpoint(c *TreeCheckpoint, signer crypto.Signer) error {
	pub, ok := signer.Public().(ed25519.PublicKey)
	if !ok {
		return errors.New("audit: checkpoint signer is not an ed25519 key")
	}
	body, err := c.body()
	if err != nil {
		return err
	}
	name := TreeOrigin(c.Stream)
	v, err := noteVerifier(name, pub)
	if err != nil {
		return fmt.Errorf("audit: checkpoint key: %w", err)
	}
	msg, err := note.Sign(&note.Note{Text: string(body)}, &noteSigner{name: name, hash: v.KeyHash(), s: signer})
	if err != nil {
		return errors.New("audit: signing checkpoint failed")
	}
	if _, err := note.Open(msg, note.VerifierList(v)); err != nil {
		return errors.New("audit: checkpoint signer returned an invalid signature")
	}
	c.Note = msg
	return nil
}

// ParseTreeCheckpoint parses a format-v2 checkpoint note and verifies the
// log's signature with keys. It fails with ErrMalformedNote when msg is not
// such a note, with ErrBadSignature when no key in keys signed it, and with
// *StreamMismatchError when want is not empty and the note is another
// stream's. Signatures by other keys (cosignatures) are ignored here. To
// verify many notes or proofs with the same keys, use a ProofVerifier.
func ParseTreeCheckpoint(msg []byte, keys signing.KeySet, want string) (TreeCheckpoint, error) {
	return openTreeCheckpoint(msg, want, func(stream string) (note.Verifiers, error) { return streamVerifiers(keys, stream) })
}

// streamVerifiers returns the signed-note verifiers of keys under stream's
// key name.
func streamVerifiers(keys signing.KeySet, stream string) (note.Verifiers, error) {
	if keys.Len() == 0 {
		return nil, ErrNoKeys
	}
	var vs []note.Verifier
	for _, k := range keys.Keys() {
		v, err := noteVerifier(TreeOrigin(stream), k)
		if err != nil {
			return nil, ErrBadSignature
		}
		vs = append(vs, v)
	}
	return note.VerifierList(vs...), nil
}

// openTreeCheckpoint is ParseTreeCheckpoint with the verifiers of a stream
// supplied by verifiers.
func openTreeCheckpoint(msg []byte, want string, verifiers func(stream string) (note.Verifiers, error)) (TreeCheckpoint, error) {
	if len(msg) > maxNoteSize {
		return TreeCheckpoint{}, fmt.Errorf("%w: longer than %d bytes", ErrMalformedNote, maxNoteSize)
	}
	c, err := parseTreeBody(msg)
	if err != nil {
		return TreeCheckpoint{}, err
	}
	if want != "" && c.Stream != want {
		return TreeCheckpoint{}, &StreamMismatchError{Want: want, Got: c.Stream}
	}
	vs, err := verifiers(c.Stream)
	if err != nil {
		return TreeCheckpoint{}, err
	}
	n, err := note.Open(msg, vs)
	if err != nil {
		var unv *note.UnverifiedNoteError
		var inv *note.InvalidSignatureError
		switch {
		case errors.As(err, &unv), errors.As(err, &inv):
			return TreeCheckpoint{}, ErrBadSignature
		}
		return TreeCheckpoint{}, ErrMalformedNote
	}
	if len(n.Sigs) == 0 {
		return TreeCheckpoint{}, ErrBadSignature
	}
	c.Note = append([]byte(nil), msg...)
	return c, nil
}

// parseTreeBody parses the text of a checkpoint note without checking its
// signatures; the body must be canonical (it re-encodes byte for byte).
func parseTreeBody(msg []byte) (TreeCheckpoint, error) {
	i := bytes.Index(msg, []byte("\n\n"))
	if i < 0 {
		return TreeCheckpoint{}, ErrMalformedNote
	}
	text := string(msg[:i+1])
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], originPrefix) ||
		!strings.HasPrefix(lines[3], "head ") || !strings.HasPrefix(lines[4], "time ") {
		return TreeCheckpoint{}, ErrMalformedNote
	}
	var c TreeCheckpoint
	c.Stream = lines[0][len(originPrefix):]
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil {
		return TreeCheckpoint{}, ErrMalformedNote
	}
	c.Size = size
	root, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(root) != len(c.Root) {
		return TreeCheckpoint{}, ErrMalformedNote
	}
	copy(c.Root[:], root)
	if c.Head, err = ParseHash(lines[3][len("head "):]); err != nil {
		return TreeCheckpoint{}, ErrMalformedNote
	}
	d := decoder{b: []byte(`"` + lines[4][len("time "):] + `"`)}
	c.Time = d.time()
	if d.bad || d.i != len(d.b) {
		return TreeCheckpoint{}, ErrMalformedNote
	}
	body, err := c.body()
	if err != nil || string(body) != text {
		return TreeCheckpoint{}, ErrMalformedNote
	}
	return c, nil
}

// StreamMismatchError reports a checkpoint or proof of another stream than
// the one asked for. It matches ErrTreeMismatch.
type StreamMismatchError struct {
	Want, Got string
}

func (e *StreamMismatchError) Error() string {
	return "audit: checkpoint is for stream " + strconv.Quote(e.Got) + ", not " + strconv.Quote(e.Want)
}

// Unwrap makes errors.Is(err, ErrTreeMismatch) true.
func (e *StreamMismatchError) Unwrap() error { return ErrTreeMismatch }
