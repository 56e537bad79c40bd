package witness

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/durable"
	"github.com/hipaakit/hipaakit/signing"
)

// Config configures a Witness. Name, Signer, Logs and StatePath are
// required.
type Config struct {
	// Name is the witness's key name, a schema-less URL such as
	// "witness.example.org/w1".
	Name string
	// Signer is the witness's own ed25519 key (not a log's).
	Signer crypto.Signer
	// Logs are the log keys whose checkpoints the witness cosigns; a
	// checkpoint no key in Logs signed is refused (audit.ErrBadSignature).
	Logs signing.KeySet
	// StatePath is the file holding, per log origin, the last cosigned
	// size, root and head (JSON, replaced atomically).
	StatePath string
	// Clock stamps cosignatures; nil is clock.System.
	Clock clock.Clock
}

type logState struct {
	Size uint64     `json:"size"`
	Root audit.Hash `json:"root"`
	Head audit.Hash `json:"head"`
}

// Witness cosigns consistent checkpoints; it is safe for concurrent use.
type Witness struct {
	cfg   Config
	mu    sync.Mutex
	state map[string]logState
}

// New opens the witness's state (an absent file is an empty state).
func New(cfg Config) (*Witness, error) {
	if !validName(cfg.Name) {
		return nil, errors.New("witness: Name must be a key name without spaces or '+'")
	}
	if cfg.Signer == nil {
		return nil, errors.New("witness: Signer is required")
	}
	if _, ok := cfg.Signer.Public().(ed25519.PublicKey); !ok {
		return nil, errors.New("witness: Signer must be an ed25519 key")
	}
	if cfg.Logs.Len() == 0 {
		return nil, errors.New("witness: Logs needs at least one log key")
	}
	if cfg.StatePath == "" {
		return nil, errors.New("witness: StatePath is required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.System
	}
	w := &Witness{cfg: cfg, state: map[string]logState{}}
	b, err := os.ReadFile(cfg.StatePath)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("witness: read state: %w", durable.WithoutPath(err))
	default:
		if err := json.Unmarshal(b, &w.state); err != nil {
			return nil, fmt.Errorf("%w: witness state file", ErrMalformed)
		}
	}
	return w, nil
}

// Key returns the witness's public key under its name.
func (w *Witness) Key() Key {
	return Key{Name: w.cfg.Name, Public: w.cfg.Signer.Public().(ed25519.PublicKey)}
}

// AddCheckpoint is tlog-witness add-checkpoint: note must be signed by a
// log key, oldSize must be the size the witness last cosigned for its
// origin (else *ConflictError), and proof must prove note's tree extends
// that one (else ErrInconsistent). It returns the cosignature line, after
// the new state is durable.
func (w *Witness) AddCheckpoint(_ context.Context, oldSize uint64, proof []audit.Hash, note []byte) ([]byte, error) {
	cp, err := audit.ParseTreeCheckpoint(note, w.cfg.Logs, "")
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	origin := audit.TreeOrigin(cp.Stream)
	st, seen := w.state[origin]
	if oldSize != st.Size {
		return nil, &ConflictError{Size: st.Size}
	}
	if seen {
		old := audit.TreeCheckpoint{Stream: cp.Stream, Size: st.Size, Root: st.Root, Head: st.Head}
		if err := audit.VerifyConsistency(old, cp, proof); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInconsistent, err)
		}
	} else if oldSize != 0 || len(proof) != 0 {
		return nil, &ConflictError{Size: 0}
	}
	body, _, err := splitNote(note)
	if err != nil {
		return nil, err
	}
	line, err := cosign(w.cfg.Name, w.cfg.Signer, body, uint64(w.cfg.Clock.Now().Unix()))
	if err != nil {
		return nil, err
	}
	next := make(map[string]logState, len(w.state)+1)
	for k, v := range w.state {
		next[k] = v
	}
	next[origin] = logState{Size: cp.Size, Root: cp.Root, Head: cp.Head}
	b, err := json.Marshal(next)
	if err != nil {
		return nil, err
	}
	if err := durable.WriteFileAtomic(w.cfg.StatePath, b, 0o600); err != nil {
		return nil, fmt.Errorf("witness: write state: %w", durable.WithoutPath(err))
	}
	w.state = next
	return line, nil
}

// maxRequest bounds an add-checkpoint request body.
const maxRequest = 128 << 10

// ParseAddRequest parses a tlog-witness add-checkpoint body: "old N", one
// base64 proof hash per line, an empty line, the checkpoint note.
func ParseAddRequest(body []byte) (oldSize uint64, proof []audit.Hash, note []byte, err error) {
	i := bytes.Index(body, []byte("\n\n"))
	if i < 0 {
		return 0, nil, nil, ErrMalformed
	}
	lines := strings.Split(string(body[:i]), "\n")
	s, ok := strings.CutPrefix(lines[0], "old ")
	if !ok || len(lines) > 1+128 {
		return 0, nil, nil, ErrMalformed
	}
	if oldSize, err = strconv.ParseUint(s, 10, 64); err != nil || strconv.FormatUint(oldSize, 10) != s {
		return 0, nil, nil, ErrMalformed
	}
	for _, l := range lines[1:] {
		h, err := base64.StdEncoding.Strict().DecodeString(l)
		if err != nil || len(h) != len(audit.Hash{}) {
			return 0, nil, nil, ErrMalformed
		}
		proof = append(proof, audit.Hash(h))
	}
	return oldSize, proof, body[i+2:], nil
}

// AddRequestBody encodes an add-checkpoint body.
func AddRequestBody(oldSize uint64, proof []audit.Hash, note []byte) []byte {
	b := []byte("old " + strconv.FormatUint(oldSize, 10) + "\n")
	for _, h := range proof {
		b = append(b, base64.StdEncoding.EncodeToString(h[:])+"\n"...)
	}
	b = append(b, '\n')
	return append(b, note...)
}

// Handler serves POST /add-checkpoint as C2SP tlog-witness specifies: 200
// with the cosignature line, 409 with the witness's size
// (text/x.tlog.size), 422 for an inconsistent proof, 403 for a checkpoint no
// trusted log key signed, 400 for a malformed request.
func (w *Witness) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /add-checkpoint", func(rw http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxRequest+1))
		if err != nil || len(body) > maxRequest {
			http.Error(rw, "witness: request too large or unreadable", http.StatusBadRequest)
			return
		}
		old, proof, note, err := ParseAddRequest(body)
		if err != nil {
			http.Error(rw, "witness: malformed request", http.StatusBadRequest)
			return
		}
		line, err := w.AddCheckpoint(r.Context(), old, proof, note)
		var ce *ConflictError
		switch {
		case err == nil:
			rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
			rw.Write(line)
		case errors.As(err, &ce):
			rw.Header().Set("Content-Type", "text/x.tlog.size")
			rw.WriteHeader(http.StatusConflict)
			fmt.Fprintf(rw, "%d\n", ce.Size)
		case errors.Is(err, ErrInconsistent):
			http.Error(rw, "witness: inconsistent checkpoint", http.StatusUnprocessableEntity)
		case errors.Is(err, audit.ErrBadSignature):
			http.Error(rw, "witness: checkpoint not signed by a trusted log key", http.StatusForbidden)
		case errors.Is(err, audit.ErrMalformedNote), errors.Is(err, ErrMalformed):
			http.Error(rw, "witness: malformed checkpoint", http.StatusBadRequest)
		default:
			http.Error(rw, "witness: internal error", http.StatusInternalServerError)
		}
	})
	return mux
}

// Client sends a log's checkpoints to one witness (tlog-witness).
type Client struct {
	// URL is the witness's base URL; the request goes to URL + "/add-checkpoint".
	URL string
	// HTTP is the client to use; nil is http.DefaultClient.
	HTTP *http.Client
}

// AddCheckpoint sends the checkpoint with its consistency proof from
// oldSize and returns the witness's cosignature line. A 409 answer is a
// *ConflictError with the witness's size (resend with a proof from it), 422
// is ErrInconsistent.
func (c Client) AddCheckpoint(ctx context.Context, oldSize uint64, proof []audit.Hash, note []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(c.URL, "/")+"/add-checkpoint", bytes.NewReader(AddRequestBody(oldSize, proof, note)))
	if err != nil {
		return nil, errors.New("witness: bad witness URL")
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("witness: request failed: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	switch resp.StatusCode {
	case http.StatusOK:
		if !bytes.HasPrefix(b, []byte("— ")) || !bytes.HasSuffix(b, []byte("\n")) || bytes.Count(b, []byte("\n")) != 1 {
			return nil, fmt.Errorf("%w: cosignature line", ErrMalformed)
		}
		return b, nil
	case http.StatusConflict:
		n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: conflict answer", ErrMalformed)
		}
		return nil, &ConflictError{Size: n}
	case http.StatusUnprocessableEntity:
		return nil, ErrInconsistent
	case http.StatusForbidden:
		return nil, audit.ErrBadSignature
	default:
		return nil, fmt.Errorf("witness: answered HTTP %d", resp.StatusCode)
	}
}
