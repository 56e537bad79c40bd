package witness

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/signing"
)

// ErrStale reports a log whose newest checkpoint has not been cosigned
// yet by enough witnesses (their publishing is behind or failing).
var ErrStale = errors.New("witness: the newest checkpoint is not witnessed yet")

// Endpoint is one witness a Publisher sends checkpoints to: its key, to
// count its cosignatures, and how to reach it (Client over HTTP, or a
// *Witness in the same process).
type Endpoint struct {
	Key   Key
	Adder Adder
}

// PublisherConfig configures a Publisher. Prover, Witnesses and Store are
// required.
type PublisherConfig struct {
	// Prover is the log's (FileReader.Prover, pgaudit.NewProver): the
	// Publisher reads its newest checkpoint and consistency proofs.
	Prover audit.Prover
	// Witnesses are the witnesses (N).
	Witnesses []Endpoint
	// Required is K, the cosignatures a checkpoint needs to count as
	// witnessed in Status; zero is every witness.
	Required int
	// Store keeps each checkpoint with its cosignatures.
	Store Store
	// Timeout bounds one round of requests to one witness; zero is 10 s.
	Timeout time.Duration
	// Interval is how often the background loop (Start) looks for a new
	// checkpoint without being woken by Sink; zero is one minute.
	Interval time.Duration
	// OnPublish, when set, is called after each round with its Status (to
	// log or export it; it must not block).
	OnPublish func(Status)
	// Clock stamps Status; nil is clock.System.
	Clock clock.Clock
}

// Status is the outcome of the newest publishing round: the checkpoint
// published, how many witnesses' cosignatures are stored for it, K, and
// why each failing witness failed (by witness name; errors carry no
// record content). Witnessed is Cosigned >= Required.
type Status struct {
	Stream    string
	Size      uint64
	Cosigned  int
	Required  int
	Witnessed bool
	Failures  map[string]string
	At        time.Time
}

// Publisher sends every new checkpoint of a log to its witnesses and
// stores the cosignatures with the checkpoint. It never blocks or fails a
// write: Sink only wakes it, and a witness that is down or refuses shows
// in Status (and in CheckStored), not in the log. It is safe for
// concurrent use; several processes publishing one stream is safe too
// (witnesses answer a stale old size with a conflict and the Publisher
// resends from the witness's size; stores merge cosignatures).
type Publisher struct {
	cfg   PublisherConfig
	wake  chan struct{}
	round sync.Mutex // one round at a time
	mu    sync.Mutex // guards last and started
	last  Status

	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
	started bool // guarded by mu
}

// NewPublisher checks cfg and returns a Publisher; Start runs it.
func NewPublisher(cfg PublisherConfig) (*Publisher, error) {
	switch {
	case cfg.Prover == nil:
		return nil, errors.New("witness: PublisherConfig.Prover is required")
	case len(cfg.Witnesses) == 0:
		return nil, errors.New("witness: PublisherConfig.Witnesses needs at least one witness")
	case cfg.Store == nil:
		return nil, errors.New("witness: PublisherConfig.Store is required")
	case cfg.Required < 0 || cfg.Required > len(cfg.Witnesses):
		return nil, errors.New("witness: PublisherConfig.Required must be between 0 and the number of witnesses")
	}
	for _, w := range cfg.Witnesses {
		if w.Adder == nil || !validName(w.Key.Name) || len(w.Key.Public) != 32 {
			return nil, errors.New("witness: each Endpoint needs an Adder and a valid Key")
		}
	}
	if cfg.Required == 0 {
		cfg.Required = len(cfg.Witnesses)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Minute
	}
	cfg.Clock = clock.OrSystem(cfg.Clock)
	return &Publisher{cfg: cfg, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}, nil
}

// Sink returns the audit.CheckpointSink to set on the log
// (FileOptions.CheckpointSink, pgaudit.Options.CheckpointSink): each
// checkpoint wakes the Publisher and the sink returns at once, nil.
func (p *Publisher) Sink() audit.CheckpointSink {
	return audit.CheckpointSinkFunc(func(context.Context, audit.Checkpoint) error {
		p.Notify()
		return nil
	})
}

// Notify wakes the background loop; it never blocks.
func (p *Publisher) Notify() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Start runs the background loop: a round whenever Notify is called, and
// every Interval. Close stops it.
func (p *Publisher) Start() {
	p.mu.Lock()
	if p.started {
		p.mu.Unlock()
		return
	}
	select {
	case <-p.stop:
		p.mu.Unlock()
		return
	default:
	}
	p.started = true
	p.mu.Unlock()
	go func() {
		defer close(p.done)
		t := time.NewTicker(p.cfg.Interval)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-p.wake:
			case <-t.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), p.cfg.Timeout*time.Duration(len(p.cfg.Witnesses)+1))
			p.PublishNow(ctx) // the outcome is in Status
			cancel()
		}
	}()
}

// Close stops the background loop started by Start and waits for it.
func (p *Publisher) Close() error {
	p.once.Do(func() { close(p.stop) })
	p.mu.Lock()
	started := p.started
	p.started = true // a Start after Close does nothing
	p.mu.Unlock()
	if started {
		<-p.done
	}
	return nil
}

// Status returns the outcome of the newest round.
func (p *Publisher) Status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last.clone()
}

func (s Status) clone() Status {
	if s.Failures != nil {
		f := make(map[string]string, len(s.Failures))
		for k, v := range s.Failures {
			f[k] = v
		}
		s.Failures = f
	}
	return s
}

// PublishNow runs one round: the log's newest checkpoint goes to every
// witness that has not cosigned it yet (each within Timeout), the
// cosignatures obtained are stored, and the Status is returned. The error
// is the round's own (no checkpoint, the store failing); witness failures
// are only in Status.Failures.
func (p *Publisher) PublishNow(ctx context.Context) (Status, error) {
	p.round.Lock()
	defer p.round.Unlock()
	cp, err := p.cfg.Prover.TreeCheckpoint(ctx)
	if err != nil {
		return p.Status(), err
	}
	st := Status{Stream: cp.Stream, Size: cp.Size, Required: p.cfg.Required, At: p.cfg.Clock.Now().UTC()}
	have, err := p.cfg.Store.LatestCosigned(ctx, cp.Stream)
	if err != nil && !errors.Is(err, ErrNoCosigned) {
		return p.Status(), err
	}
	note := cp.Note
	if hb, _, herr := splitNote(have); herr == nil {
		if nb, _, _ := splitNote(cp.Note); string(hb) == string(nb) {
			note = have // the cosignatures stored for this checkpoint so far
		}
	}
	for _, w := range p.cfg.Witnesses {
		if VerifyCosignatures(note, []Key{w.Key}, 1) == nil {
			st.Cosigned++
			continue
		}
		wctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
		got, err := Publish(wctx, singleCheckpoint{p.cfg.Prover, cp}, w.Adder)
		cancel()
		if err == nil {
			if err = VerifyCosignatures(got, []Key{w.Key}, 1); err != nil {
				err = fmt.Errorf("witness %s returned no valid cosignature: %w", w.Key.Name, err)
			}
		}
		if err != nil {
			if st.Failures == nil {
				st.Failures = map[string]string{}
			}
			st.Failures[w.Key.Name] = err.Error()
			continue
		}
		body, sigs, _ := splitNote(note)
		_, gsigs, _ := splitNote(got)
		note = joinNote(body, mergeLines(sigs, gsigs))
		st.Cosigned++
	}
	// a note no witness cosigned is not stored: the store keeps showing
	// the last witnessed one, and CheckStored reports the log ahead of it
	if st.Cosigned > 0 {
		if err := p.cfg.Store.SaveCosigned(ctx, cp.Stream, cp.Size, note); err != nil {
			return p.Status(), err
		}
	}
	st.Witnessed = st.Cosigned >= st.Required
	p.mu.Lock()
	p.last = st
	p.mu.Unlock()
	if p.cfg.OnPublish != nil {
		p.cfg.OnPublish(st.clone())
	}
	return st.clone(), nil
}

// singleCheckpoint is a Prover whose newest checkpoint is fixed, so that
// every witness of a round sees the same one.
type singleCheckpoint struct {
	audit.Prover
	cp audit.TreeCheckpoint
}

func (s singleCheckpoint) TreeCheckpoint(context.Context) (audit.TreeCheckpoint, error) {
	return s.cp, nil
}

func joinNote(body []byte, sigs []string) []byte {
	out := append(append([]byte(nil), body...), '\n')
	for _, l := range sigs {
		out = append(out, l...)
		out = append(out, '\n')
	}
	return out
}

// CheckStored checks the newest cosigned checkpoint in store for the
// stream of p: signed by one of logKeys, cosigned by at least k of
// witnesses (ErrTooFewCosignatures), and the log's newest checkpoint
// (ErrStale when the log has signed a larger one since: its publishing is
// behind). It is what verification and reports show of the witnesses.
func CheckStored(ctx context.Context, store Store, p audit.Prover, logKeys signing.KeySet, witnesses []Key, k int) (Status, error) {
	cp, err := p.TreeCheckpoint(ctx)
	if err != nil {
		return Status{}, err
	}
	st := Status{Stream: cp.Stream, Required: k}
	note, err := store.LatestCosigned(ctx, cp.Stream)
	if err != nil {
		return st, err
	}
	stored, err := audit.ParseTreeCheckpoint(note, logKeys, cp.Stream)
	if err != nil {
		return st, err
	}
	st.Size = stored.Size
	for _, w := range witnesses {
		if VerifyCosignatures(note, []Key{w}, 1) == nil {
			st.Cosigned++
		}
	}
	st.Witnessed = st.Cosigned >= k
	if !st.Witnessed {
		return st, fmt.Errorf("%w: %d of %d required on the checkpoint of size %d", ErrTooFewCosignatures, st.Cosigned, k, stored.Size)
	}
	if stored.Size < cp.Size {
		return st, fmt.Errorf("%w: the newest cosigned checkpoint has size %d, the log's %d", ErrStale, stored.Size, cp.Size)
	}
	return st, nil
}
