package report

import (
	"context"
	"net/url"
	"strings"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/compliance/serviceconfig"
	"github.com/hipaakit/hipaakit/signing"
)

// inspect opens the deployment cfg describes read-only, through
// hipaakit.Inspect: the layout, the key location and the stores are the
// root package's, never restated here. The trusted signing keys are
// cfg's audit and ledger keys (and the deployment's own signing key, when
// its file is readable); the audit trail is verified with the audit keys
// alone (auditEvidence).
func inspect(ctx context.Context, cfg *serviceconfig.Config) (*hipaakit.Inspection, error) {
	dc, err := deploymentConfig(cfg)
	if err != nil {
		return nil, err
	}
	return hipaakit.Inspect(ctx, dc)
}

// deploymentConfig is the hipaakit.Config of the deployment cfg describes.
func deploymentConfig(cfg *serviceconfig.Config) (hipaakit.Config, error) {
	trusted, err := signing.NewKeySet(append(cfg.AuditPublicKeys(), cfg.LedgerPublicKeys()...)...)
	if err != nil {
		return hipaakit.Config{}, err
	}
	dc := hipaakit.Config{DataDir: cfg.DataDir, LedgerSchema: cfg.LedgerSchema, Signing: hipaakit.SigningConfig{Trusted: trusted}}
	if cfg.DatabaseURL != "" {
		dc.DatabaseURL = cfg.DatabaseURL
		if cfg.DatabaseSchema != "" {
			// database_url is a postgres:// URL (Validate); pgx reads the
			// search_path parameter as a run-time parameter.
			u, err := url.Parse(cfg.DatabaseURL)
			if err != nil {
				return hipaakit.Config{}, hipaakit.ErrBadDatabaseURL
			}
			q := u.Query()
			q.Set("search_path", cfg.DatabaseSchema)
			u.RawQuery = q.Encode()
			dc.DatabaseURL = u.String()
		}
	}
	if id, ok := strings.CutPrefix(cfg.KEK, "aws-kms:"); ok {
		dc.KEK = hipaakit.KEKConfig{KMSKeyID: id, KMSEndpoint: cfg.KMSEndpoint, KMSRegion: cfg.KMSRegion}
	} else {
		dc.KEK = hipaakit.KEKConfig{Key: cfg.MasterKey, KeyFile: cfg.KEKFile}
	}
	if b := cfg.Backup; b.Target == "s3" {
		dc.Backup = hipaakit.BackupConfig{S3Bucket: b.Bucket, S3Prefix: b.Prefix, S3Endpoint: b.Endpoint, S3Region: b.Region}
	} else {
		dc.Backup = hipaakit.BackupConfig{Dir: b.Dir}
	}
	return dc, nil
}
