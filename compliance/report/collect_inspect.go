package report

import (
	"context"
	"net/url"
	"slices"
	"strings"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/serviceconfig"
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
	trusted, err := cfg.TrustedKeys()
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

// foldReplicas makes cfg state the weakest policy in force across the
// deployment: on PostgreSQL every replica writes its own service
// description (hipaakit_service_descriptions), and a control is met only
// when every replica meets it. Each replica's policies count as tenant
// policies of cfg (weakest takes the least strict), its TLS the weaker of
// the two, its emergency roles added.
func (c *collector) foldReplicas(ctx context.Context) {
	if c.in.DB == nil {
		return
	}
	descs, err := c.in.ServiceDescriptions(ctx)
	if err != nil {
		c.note("service description: the replicas' descriptions cannot be read: %v", err)
		return
	}
	if len(descs) == 0 {
		return
	}
	for _, d := range descs {
		c.cfg.Tenants = append(c.cfg.Tenants, d.Policy)
		c.cfg.Tenants = append(c.cfg.Tenants, d.Tenants...)
		c.cfg.TLS = weakerTLS(c.cfg.TLS, d.TLS)
		for _, r := range d.EmergencyRoles {
			if !slices.Contains(c.cfg.EmergencyRoles, r) {
				c.cfg.EmergencyRoles = append(c.cfg.EmergencyRoles, r)
			}
		}
	}
	c.note("service description: the weakest policy of %d replicas' descriptions is stated", len(descs))
}

// weakerTLS is the weaker of two replicas' transport security.
func weakerTLS(a, b serviceconfig.TLS) serviceconfig.TLS {
	switch {
	case !a.Enabled && !b.Enabled:
		return serviceconfig.TLS{LoopbackOnly: a.LoopbackOnly && b.LoopbackOnly}
	case !a.Enabled:
		return a
	case !b.Enabled:
		return b
	}
	return serviceconfig.TLS{Enabled: true, MinVersion: min(a.MinVersion, b.MinVersion), HSTS: a.HSTS && b.HSTS}
}
