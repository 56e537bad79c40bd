package hipaakit

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"github.com/hipaakit/hipaakit/auth/password"
	"github.com/hipaakit/hipaakit/serviceconfig"
)

// Description is what a deployment states of itself, for the compliance
// report, beyond what Open knows (Config.Service). With Name set, every
// successful Open writes the service description (serviceconfig.Config) of
// this process: the file DataDir/hipaakit.json (serviceconfig.FileName,
// what `hipaakit report --config` reads) and, on PostgreSQL, this
// instance's row of hipaakit_service_descriptions, which the report reads
// for every replica. It holds no secret: public keys, paths relative to the
// data directory, the database URL without its password, the policy in
// force. Open fills in the stores, the key location, the backup target,
// the trusted signing keys and the default tenant's policy.
type Description struct {
	// Name is the service's name in the report; empty: no description.
	Name string
	// TLS is the transport security the service serves with.
	TLS serviceconfig.TLS
	// EmergencyRoles are the break-glass roles.
	EmergencyRoles []string
	// AuditRetention (ISO 8601, e.g. "P6Y") and Retention state how long
	// records are kept.
	AuditRetention string
	Retention      []serviceconfig.RetentionRule
	// Tenants are tenant IDs whose policy (from Auth.Tenants) differs from
	// the default and is stated too.
	Tenants []string
}

// Default session timeouts and lockout threshold, as package auth applies
// them (stated in the service description).
const (
	defaultIdleTimeout     = 15 * time.Minute
	defaultAbsoluteTimeout = 12 * time.Hour
	defaultMaxFailures     = 10
)

// Describe returns this process's service description (Config.Service
// must name the service), as Open writes it.
func (d *Deployment) Describe(ctx context.Context) (serviceconfig.Config, error) {
	svc, ac := d.cfg.Service, d.cfg.Auth
	sc := serviceconfig.Config{Version: serviceconfig.Version, Service: svc.Name, DataDir: ".",
		AuditKeys: d.TrustedKeys().PEMs(), KEK: "local", TLS: svc.TLS, EmergencyRoles: svc.EmergencyRoles,
		AuditRetention: svc.AuditRetention, Retention: svc.Retention, Backup: serviceconfig.Backup{Target: "directory", Dir: d.relative(d.BackupDir())}}
	switch k := d.KeyLocation(); k.Kind {
	case KeyInFile:
		sc.KEKFile = d.relative(k.File)
	case KeyInKMS:
		sc.KEK, sc.KMSEndpoint, sc.KMSRegion = "aws-kms:"+d.cfg.KEK.KMSKeyID, d.cfg.KEK.KMSEndpoint, d.cfg.KEK.KMSRegion
	}
	if b := d.cfg.Backup; b.S3Bucket != "" {
		sc.Backup = serviceconfig.Backup{Target: "s3", Bucket: b.S3Bucket, Prefix: b.S3Prefix, Endpoint: b.S3Endpoint, Region: b.S3Region}
	}
	if d.DB != nil {
		u, err := serviceconfig.PublicDatabaseURL(d.cfg.DatabaseURL)
		if err != nil {
			return serviceconfig.Config{}, fmt.Errorf("hipaakit: the service description needs DatabaseURL as a postgres:// URL: %w", err)
		}
		sc.DatabaseURL, sc.DatabaseSchema, sc.LedgerSchema = u, d.Schema, d.LedgerSchema
	}
	pw := ac.Passwords
	if pw == (password.Policy{}) {
		pw = password.DefaultPolicy()
	}
	blocklist := "default"
	if pw.Blocklist != nil && pw.Blocklist.Len() == 0 {
		blocklist = "none"
	}
	for i, tenant := range append([]string{""}, svc.Tenants...) {
		p, err := d.tenants.TenantPolicy(ctx, tenant)
		if err != nil {
			return serviceconfig.Config{}, fmt.Errorf("hipaakit: the policy of a tenant: %w", err)
		}
		sp := serviceconfig.Policy{RequireMFA: p.RequireMFA,
			IdleTimeout:      serviceconfig.Duration(shorter(cmp.Or(ac.IdleTimeout, defaultIdleTimeout), p.IdleTimeout)),
			AbsoluteTimeout:  serviceconfig.Duration(shorter(cmp.Or(ac.AbsoluteTimeout, defaultAbsoluteTimeout), p.AbsoluteTimeout)),
			LockoutThreshold: cmp.Or(ac.Lockout.MaxFailures, defaultMaxFailures), PasswordBlocklist: blocklist,
			PasswordMinLength: min(cmp.Or(pw.MinLength, 15), cmp.Or(pw.MinLengthWithMFA, 8))}
		if i == 0 {
			sc.Policy = sp
		} else {
			sp.TenantID = tenant
			sc.Tenants = append(sc.Tenants, sp)
		}
	}
	return sc, sc.Validate()
}

// shorter is lim when it is set and shorter than def (a tenant policy only
// shortens the deployment's timeouts).
func shorter(def, lim time.Duration) time.Duration {
	if lim > 0 && lim < def {
		return lim
	}
	return def
}

// writeDescription writes the service description (Describe) when
// Config.Service names the service: the file in the data directory and, on
// PostgreSQL, this instance's row.
func (d *Deployment) writeDescription(ctx context.Context) error {
	if d.cfg.Service.Name == "" {
		return nil
	}
	if _, err := serviceconfig.PublicDatabaseURL(d.cfg.DatabaseURL); d.DB != nil && err != nil {
		d.Logger.Warn("hipaakit: " + serviceconfig.FileName + " not written: give DatabaseURL as a postgres:// URL for hipaakit report")
		return nil
	}
	sc, err := d.Describe(ctx)
	if err != nil {
		return err
	}
	if err := serviceconfig.Write(d.path(serviceconfig.FileName), sc); err != nil {
		return fmt.Errorf("hipaakit: %w", err)
	}
	if d.DB == nil {
		return nil
	}
	b, err := json.Marshal(sc)
	if err != nil {
		return fmt.Errorf("hipaakit: encode the service description: %w", err)
	}
	if _, err := d.DB.Exec(ctx, `INSERT INTO hipaakit_service_descriptions (instance, description, written_at)
		VALUES ($1, $2, $3) ON CONFLICT (instance) DO UPDATE SET description = EXCLUDED.description, written_at = EXCLUDED.written_at`,
		d.InstanceID, b, d.Clock.Now()); err != nil {
		return fmt.Errorf("hipaakit: write the service description: %w", err)
	}
	return nil
}

// relative is path relative to the data directory (where the description
// is), or path itself when it cannot be.
func (d *Deployment) relative(path string) string {
	dir, err1 := filepath.Abs(d.cfg.DataDir)
	p, err2 := filepath.Abs(path)
	rel, err := filepath.Rel(dir, p)
	if err1 != nil || err2 != nil || err != nil {
		return path
	}
	return rel
}

// ServiceDescriptions reads the service description of every replica of
// the deployment on PostgreSQL (hipaakit_service_descriptions), by instance
// ID; on the embedded stores the one in the data directory, under "". A
// description that does not parse is an error naming its instance.
func (in *Inspection) ServiceDescriptions(ctx context.Context) (map[string]serviceconfig.Config, error) {
	out := map[string]serviceconfig.Config{}
	if in.DB == nil {
		c, err := serviceconfig.Load(filepath.Join(in.cfg.DataDir, serviceconfig.FileName))
		if err != nil {
			return nil, err
		}
		out[""] = c
		return out, nil
	}
	var exists bool
	if err := in.DB.QueryRow(ctx, `SELECT to_regclass('hipaakit_service_descriptions') IS NOT NULL`).Scan(&exists); err != nil {
		return nil, fmt.Errorf("hipaakit: read the service descriptions: %w", err)
	}
	if !exists {
		return out, nil
	}
	rows, err := in.DB.Query(ctx, `SELECT instance, description::text FROM hipaakit_service_descriptions ORDER BY instance`)
	if err != nil {
		return nil, fmt.Errorf("hipaakit: read the service descriptions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var inst, doc string
		if err := rows.Scan(&inst, &doc); err != nil {
			return nil, fmt.Errorf("hipaakit: read the service descriptions: %w", err)
		}
		c, err := serviceconfig.Parse([]byte(doc))
		if err != nil {
			return nil, fmt.Errorf("hipaakit: the service description of instance %s: %w", inst, err)
		}
		out[inst] = c
	}
	return out, rows.Err()
}
