package hipaakit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/pgaudit"
)

// ErrSigningKeyMissing reports a start without a signing key, and without
// Signing.Trusted, on a deployment that already holds signed records: a key
// drawn now would sign checkpoints nothing else trusts, and the append-only
// trail could never drop them. Copy the deployment's signing key (a shared
// key); or, to rotate or to give this replica a key of its own, list the
// keys that signed the records in Signing.Trusted (and the new public key
// in every other replica's).
var ErrSigningKeyMissing = errors.New("hipaakit: no signing key, but the deployment already holds signed records")

// ErrLedgerUntrusted reports a disposal ledger that does not verify with
// the trusted signing keys (the current key and Signing.Trusted). The
// start is refused before anything is written.
var ErrLedgerUntrusted = errors.New("hipaakit: the disposal ledger does not verify with the trusted signing keys")

// checkSigned is the start-up check of the signed records, run before any
// write: on PostgreSQL the disposal ledger (every replica's stream) must
// verify with TrustedKeys, and a new signing key is refused where signed
// records already exist unless Signing.Trusted declares the keys that
// signed them (a rotation).
func (d *Deployment) checkSigned(ctx context.Context, newKey bool) error {
	signed := false
	if d.DB != nil {
		if err := d.DB.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM hipaakit_audit_streams)`).Scan(&signed); err != nil {
			return fmt.Errorf("hipaakit: read the audit streams: %w", err)
		}
		if !signed {
			if err := d.ledgerPool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM hipaakit_audit_streams)`).Scan(&signed); err != nil {
				return fmt.Errorf("hipaakit: read the ledger streams: %w", err)
			}
		}
	} else {
		signed = nonEmptyDir(d.path(DirAudit)) || nonEmptyDir(d.path(DirLedger))
	}
	if newKey && signed && d.cfg.Signing.Trusted.Len() == 0 {
		return fmt.Errorf("%w: copy the deployment's signing key to %s (or Signing.KeyFile); to rotate, or to give this "+
			"replica its own key, list the keys that signed the records in Signing.Trusted", ErrSigningKeyMissing, FileSigningKey)
	}
	if d.DB == nil || !signed {
		return nil // the file ledger verifies itself when it opens, before it writes
	}
	_, err := pgaudit.NewStore(d.ledgerPool).Verify(ctx, audit.VerifyOptions{Keys: d.TrustedKeys()})
	var ve *audit.VerifyError
	if errors.As(err, &ve) {
		return fmt.Errorf("%w: stream %s seq %d: %s; add the key that signed it to Signing.Trusted",
			ErrLedgerUntrusted, ve.Stream, ve.Seq, ve.Problem)
	}
	if err != nil {
		return fmt.Errorf("hipaakit: verify the disposal ledger: %w", err)
	}
	return nil
}

// nonEmptyDir reports a directory holding at least one entry.
func nonEmptyDir(dir string) bool {
	f, err := os.Open(dir)
	if err != nil {
		return false
	}
	defer f.Close()
	names, _ := f.Readdirnames(1)
	return len(names) > 0
}

// Ready reports whether this process may receive traffic (a readiness
// probe, not a liveness one): on PostgreSQL its stream leases must be held
// and renewed within Config.LeaseTTL and the database must answer. It
// fails with ErrNotReady once a lease was taken over or could not be
// renewed in time, so that a load balancer stops routing to a process
// whose audit writes would fail.
func (d *Deployment) Ready(ctx context.Context) error {
	if d.leases == nil {
		return nil // the embedded stores: the data-directory lock is held until Close
	}
	if err := d.leases.check(); err != nil {
		return err
	}
	if err := d.DB.Ping(ctx); err != nil {
		return fmt.Errorf("%w: PostgreSQL does not answer", ErrNotReady)
	}
	return nil
}

// ReadyHandler answers a readiness probe (mount it at /readyz): 200 "ok"
// while Ready holds, 503 "not ready" otherwise. The body never carries the
// reason, which is logged.
func (d *Deployment) ReadyHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err := d.Ready(r.Context()); err != nil {
			d.Logger.Warn("hipaakit: not ready", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("not ready\n"))
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
}
