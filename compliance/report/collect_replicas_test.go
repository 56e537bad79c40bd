package report_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/compliance/report"
	"github.com/hipaakit/hipaakit/hipaakittest"
	"github.com/hipaakit/hipaakit/phi/localkek"
	"github.com/hipaakit/hipaakit/serviceconfig"
)

// TestCollectFoldsReplicas: two replicas of one deployment on PostgreSQL
// write their own service descriptions; the report, given the file of the
// one served over TLS, states the weakest policy in force across both: the
// other's plain HTTP off loopback fails transmission security and its
// longer idle timeout is the one reported.
func TestCollectFoldsReplicas(t *testing.T) {
	ctx := context.Background()
	pool, schema := hipaakittest.PostgresSchema(t)
	t.Cleanup(func() {
		_, _ = pool.Exec(context.Background(), `DROP SCHEMA IF EXISTS "`+schema+hipaakit.LedgerSchemaSuffix+`" CASCADE`)
	})
	kek, err := localkek.Generate()
	must(t, err)
	shared := t.TempDir()
	u := hipaakittest.PostgresURL()
	if strings.Contains(u, "?") {
		u += "&search_path=" + schema
	} else {
		u += "?search_path=" + schema
	}
	clk := clock.NewFake(fixtureStart)
	var files []string
	for id, idle := range map[string]time.Duration{"tls": 10 * time.Minute, "plain": 20 * time.Minute} {
		cfg := hipaakit.Config{DataDir: filepath.Join(t.TempDir(), "data"), DatabaseURL: u, InstanceID: id, Clock: clk,
			KEK: hipaakit.KEKConfig{Key: kek}, Signing: hipaakit.SigningConfig{KeyFile: filepath.Join(shared, "signing-key.pem")},
			Backup: hipaakit.BackupConfig{Dir: filepath.Join(shared, "backups")}, Auth: hipaakit.AuthConfig{IdleTimeout: idle},
			Service: hipaakit.Description{Name: "clinic", AuditRetention: "P6Y",
				Retention: []serviceconfig.RetentionRule{{Kind: "audit", Keep: "P6Y"}}}}
		if id == "tls" {
			cfg.Service.TLS = serviceconfig.TLS{Enabled: true, MinVersion: "1.2", HSTS: true}
		}
		d, err := hipaakit.Open(ctx, cfg)
		must(t, err)
		t.Cleanup(func() { d.Close() })
		if id == "tls" {
			files = append(files, filepath.Join(cfg.DataDir, serviceconfig.FileName))
		}
	}
	cfg, err := serviceconfig.Load(files[0])
	must(t, err)
	cfg.MasterKey = kek
	ev, err := report.Collect(ctx, cfg, fixtureStart.Add(time.Hour))
	must(t, err)
	if ev.Transport == nil || ev.Transport.TLS || ev.Transport.LoopbackOnly || ev.Sessions.IdleTimeout != 20*time.Minute {
		t.Fatalf("transport %+v sessions %+v notes %q", ev.Transport, ev.Sessions, ev.Notes)
	}
	if !strings.Contains(strings.Join(ev.Notes, "\n"), "2 replicas") {
		t.Fatalf("notes: %q", ev.Notes)
	}
	if ev.Audit == nil || !ev.Audit.Verified || ev.Disposal == nil || !ev.Disposal.LedgerVerified {
		t.Fatalf("audit %+v disposal %+v notes %q", ev.Audit, ev.Disposal, ev.Notes)
	}
}
