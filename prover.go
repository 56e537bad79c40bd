package hipaakit

import (
	"fmt"
	"path/filepath"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/archive"
	"github.com/hipaakit/hipaakit/audit/pgaudit"
	"github.com/hipaakit/hipaakit/audit/witness"
)

// Prover returns the Merkle-tree prover (audit.Prover) of an audit stream
// of the deployment, trusting the deployment's keys (TrustedKeys): it
// proves that one event is in the log (ProveInclusion, whose proof verifies
// offline with audit.VerifyInclusionProof and only the public keys) and
// that the log extends a checkpoint someone kept (ProveConsistency,
// VerifySince). stream "" is this process's audit stream; on PostgreSQL
// any stream of the schema may be named (another replica's AuditStream, a
// LedgerStream); the embedded file log has one stream (audit.DefaultStream).
// The prover only reads, and is usable while the deployment is open.
func (d *Deployment) Prover(stream string) (audit.Prover, error) {
	if d.DB != nil {
		if stream == "" {
			stream = d.AuditStream()
		}
		if !audit.ValidStream(stream) {
			return nil, &audit.FieldError{Field: "stream", Reason: "must be 1-64 ASCII letters, digits, '_', '.' or '-'"}
		}
		return pgaudit.NewProver(d.DB, stream, d.TrustedKeys()), nil
	}
	if stream != "" && stream != audit.DefaultStream {
		return nil, fmt.Errorf("hipaakit: the embedded audit log has one stream, %q: %w", audit.DefaultStream, audit.ErrNoTree)
	}
	r, err := audit.OpenFileReader(d.path(DirAudit))
	if err != nil {
		return nil, fmt.Errorf("hipaakit: open the audit log: %w", err)
	}
	return r.Prover(d.TrustedKeys()), nil
}

// ArchiveSource returns the audit/archive Source of this process's audit
// stream: the embedded file log's sealed segments, or on PostgreSQL the
// stream's months (pgaudit.ArchiveSource). Archive it with an
// archive.Archive whose Keys are TrustedKeys and Signer the deployment's
// signing key.
func (d *Deployment) ArchiveSource() (archive.Source, error) {
	if d.DB != nil {
		return pgaudit.ArchiveSource(d.DB, d.AuditStream()), nil
	}
	l, ok := d.Audit.(archive.FileLog)
	if !ok {
		return nil, fmt.Errorf("hipaakit: the audit trail is not a file log: %w", audit.ErrNoTree)
	}
	return archive.FileSource(l), nil
}

// CosignatureStore returns where witness cosignatures of this process's
// audit checkpoints are kept (witness.Publisher's Store, what
// witness.CheckStored and "hipaakit audit witness-status" read):
// audit.TreeCosignedFile beside the embedded file log, or PostgreSQL's
// table.
func (d *Deployment) CosignatureStore() witness.Store {
	if d.DB != nil {
		return pgaudit.NewCosignatureStore(d.DB)
	}
	return &witness.FileStore{Path: filepath.Join(d.path(DirAudit), audit.TreeCosignedFile)}
}

// NewArchive returns an audit archive (audit/archive) for this
// deployment's streams: cfg as given, with Keys (when empty) the
// deployment's TrustedKeys, Signer (when nil) its signing key and Clock
// (when nil) its clock. Archive(ctx, ArchiveSource()) then archives this
// process's stream.
func (d *Deployment) NewArchive(cfg archive.Config) (*archive.Archive, error) {
	if cfg.Keys.Len() == 0 {
		cfg.Keys = d.TrustedKeys()
	}
	if cfg.Signer == nil {
		cfg.Signer = d.signKey
	}
	if cfg.Clock == nil {
		cfg.Clock = d.Clock
	}
	return archive.New(cfg)
}

// NewWitnessPublisher returns a witness.Publisher of this process's audit
// stream: cfg as given, with Prover (when nil) Prover("") and Store (when
// nil) CosignatureStore(). Start it, and Close it before the deployment.
func (d *Deployment) NewWitnessPublisher(cfg witness.PublisherConfig) (*witness.Publisher, error) {
	if cfg.Prover == nil {
		p, err := d.Prover("")
		if err != nil {
			return nil, err
		}
		cfg.Prover = p
	}
	if cfg.Store == nil {
		cfg.Store = d.CosignatureStore()
	}
	if cfg.Clock == nil {
		cfg.Clock = d.Clock
	}
	return witness.NewPublisher(cfg)
}
