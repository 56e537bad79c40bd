package hipaakit

import (
	"fmt"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/pgaudit"
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
