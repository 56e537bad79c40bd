package hipaakit

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/witness"
)

// WitnessConfig sends the deployment's audit checkpoints to witnesses
// (C2SP tlog-witness; "hipaakit witness" runs one) and keeps their
// cosignatures (Deployment.CosignatureStore). With Endpoints set, Open
// starts a witness.Publisher of this process's audit stream: every new
// checkpoint wakes it (it is the log's checkpoint sink, which never waits
// for a witness), and it also looks for one every Interval. A witness that
// is down or refuses never fails a write or Ready; it shows in
// Deployment.WitnessStatus. Zero: no witnesses.
type WitnessConfig struct {
	// Endpoints are the witnesses (N).
	Endpoints []WitnessEndpoint
	// Required is K, the cosignatures a checkpoint needs to count as
	// witnessed (WitnessStatus().Witnessed); zero is every endpoint.
	Required int
	// Interval is how often the publisher looks for a new checkpoint
	// without being woken by one (zero: one minute).
	Interval time.Duration
	// Timeout bounds one request to one witness (zero: 10 s).
	Timeout time.Duration
	// HTTPClient sends the requests (nil: http.DefaultClient).
	HTTPClient *http.Client
}

// WitnessEndpoint is one witness: where it listens and its public key.
type WitnessEndpoint struct {
	// URL is the witness's base URL (requests go to URL/add-checkpoint):
	// https, or plain http to a loopback address only.
	URL string
	// Key is the witness's public key under its name (the name of its
	// cosignatures; witness.Witness.Key, or the name and the public key
	// file "hipaakit witness" writes).
	Key witness.Key
}

// validateWitnesses refuses witness settings the publisher could not use
// or that would send checkpoints in clear over the network.
func (c Config) validateWitnesses() error {
	w := c.Witnesses
	if len(w.Endpoints) == 0 {
		if w.Required != 0 || w.Interval != 0 || w.Timeout != 0 || w.HTTPClient != nil {
			return &ConfigError{Field: "Witnesses.Endpoints", Problem: "witness settings are given without any witness",
				Fix: "add the witnesses' URLs and keys, or leave Witnesses empty"}
		}
		return nil
	}
	names := map[string]bool{}
	for i, e := range w.Endpoints {
		field := fmt.Sprintf("Witnesses.Endpoints[%d]", i)
		u, err := url.Parse(e.URL)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.User != nil || u.RawQuery != "" {
			return &ConfigError{Field: field + ".URL", Problem: "is not a witness base URL",
				Fix: "give https://host[:port][/path] without credentials or query"}
		}
		if u.Scheme == "http" && !loopbackHost(u.Hostname()) {
			return &ConfigError{Field: field + ".URL", Problem: "sends checkpoints over plain HTTP to a non-loopback host",
				Fix: "use https:// (plain http only to a witness on a loopback address)"}
		}
		if len(e.Key.Public) != 32 || e.Key.Name == "" || !validKeyName(e.Key.Name) {
			return &ConfigError{Field: field + ".Key", Problem: "is not a witness key (a name without spaces or '+' and an ed25519 public key)",
				Fix: "give the witness's name and public key (witness.Witness.Key, or the key file hipaakit witness writes)"}
		}
		if names[e.Key.Name] {
			return &ConfigError{Field: field + ".Key", Problem: "names a witness already listed",
				Fix: "list each witness once; K counts distinct witnesses"}
		}
		names[e.Key.Name] = true
	}
	if w.Required < 0 || w.Required > len(w.Endpoints) {
		return &ConfigError{Field: "Witnesses.Required", Problem: "is not between 0 and the number of witnesses",
			Fix: fmt.Sprintf("give K from 1 to %d (0: every witness)", len(w.Endpoints))}
	}
	if w.Interval < 0 || w.Timeout < 0 {
		return &ConfigError{Field: "Witnesses.Interval", Problem: "Interval or Timeout is negative",
			Fix: "leave them zero (one minute, 10 s) or give positive durations"}
	}
	return nil
}

// validKeyName is a cosignature key name: no spaces, '+' or line breaks.
func validKeyName(name string) bool {
	for _, r := range name {
		if r == ' ' || r == '+' || r == '\n' || r == '\t' || r == '\r' {
			return false
		}
	}
	return len(name) <= 256
}

// loopbackHost reports a host name that is a loopback address.
func loopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// publisherSlot is the log's checkpoint sink: it wakes the publisher once
// Open has started one (the sink is given to the log before the publisher,
// which reads the log, can exist).
type publisherSlot struct {
	p atomic.Pointer[witness.Publisher]
}

// sink returns the audit.CheckpointSink of the slot; it never blocks.
func (s *publisherSlot) sink() audit.CheckpointSink {
	return audit.CheckpointSinkFunc(func(context.Context, audit.Checkpoint) error {
		if p := s.p.Load(); p != nil {
			p.Notify()
		}
		return nil
	})
}

// checkpointSink is the sink the audit log is opened with: the witness
// publisher's when Config.Witnesses has endpoints, else none.
func (d *Deployment) checkpointSink() audit.CheckpointSink {
	if len(d.cfg.Witnesses.Endpoints) == 0 {
		return nil
	}
	return d.witnesses.sink()
}

// startWitnesses starts the publisher of Config.Witnesses once the audit
// trail is open; Close stops it before the trail closes.
func (d *Deployment) startWitnesses() error {
	w := d.cfg.Witnesses
	if len(w.Endpoints) == 0 {
		return nil
	}
	eps := make([]witness.Endpoint, len(w.Endpoints))
	for i, e := range w.Endpoints {
		eps[i] = witness.Endpoint{Key: e.Key, Adder: witness.Client{URL: e.URL, HTTP: w.HTTPClient}}
	}
	p, err := d.NewWitnessPublisher(witness.PublisherConfig{Witnesses: eps, Required: w.Required,
		Interval: w.Interval, Timeout: w.Timeout})
	if err != nil {
		return fmt.Errorf("hipaakit: witness publisher: %w", err)
	}
	d.witnesses.p.Store(p)
	p.Start()
	d.closers = append(d.closers, p.Close)
	p.Notify() // publish the checkpoint the log already has
	return nil
}

// WitnessStatus returns the outcome of the newest publishing round of
// Config.Witnesses (the checkpoint's size, how many witnesses cosigned it,
// K, and why each failing witness failed); ok is false when no witnesses
// are configured. A zero Status with ok true means no round finished yet.
func (d *Deployment) WitnessStatus() (st witness.Status, ok bool) {
	p := d.witnesses.p.Load()
	if p == nil {
		return witness.Status{}, false
	}
	return p.Status(), true
}

// PublishWitnesses runs one publishing round of Config.Witnesses now
// (witness.Publisher.PublishNow) and returns its Status; the background
// publisher does the same on every checkpoint and every Interval. It fails
// with ErrNoWitnesses when none are configured.
func (d *Deployment) PublishWitnesses(ctx context.Context) (witness.Status, error) {
	p := d.witnesses.p.Load()
	if p == nil {
		return witness.Status{}, ErrNoWitnesses
	}
	return p.PublishNow(ctx)
}
