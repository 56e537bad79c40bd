package hipaakit_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/serviceconfig"
)

// TestServiceDescriptionPerReplica: every replica on one database writes
// its own service description, a row of its own and the file in its own
// data directory; a restart replaces only its own; an Inspection reads
// them all.
func TestServiceDescriptionPerReplica(t *testing.T) {
	ctx := context.Background()
	s := newReplicaSet(t)
	cfgs := map[string]hipaakit.Config{}
	for id, tls := range map[string]bool{"a": true, "b": false} {
		cfg := s.config(id)
		cfg.Service = hipaakit.Description{Name: "svc-" + id, TLS: serviceconfig.TLS{Enabled: tls, MinVersion: "1.3", HSTS: tls},
			EmergencyRoles: []string{"er"}, AuditRetention: "P6Y"}
		cfg.Auth.IdleTimeout = 10 * time.Minute
		if !tls {
			cfg.Service.TLS = serviceconfig.TLS{LoopbackOnly: true}
		}
		cfgs[id] = cfg
		d := open(t, cfg)
		fileDesc, err := serviceconfig.Load(filepath.Join(cfg.DataDir, serviceconfig.FileName))
		if err != nil {
			t.Fatal(err)
		}
		if fileDesc.Service != "svc-"+id || fileDesc.DatabaseSchema != d.Schema || fileDesc.LedgerSchema != d.LedgerSchema ||
			!fileDesc.Policy.RequireMFA || fileDesc.Policy.IdleTimeout != serviceconfig.Duration(10*time.Minute) ||
			len(fileDesc.AuditKeys) != 1 || fileDesc.Backup.Target != "directory" {
			t.Fatalf("replica %s's description: %+v", id, fileDesc)
		}
		d.Close()
	}
	// b restarts with another name: a's row stays.
	b := cfgs["b"]
	b.Service.Name = "svc-b2"
	open(t, b)
	in, err := hipaakit.Inspect(ctx, hipaakit.Config{DatabaseURL: s.url, Signing: hipaakit.SigningConfig{KeyFile: s.signer}})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	descs, err := in.ServiceDescriptions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(descs) != 2 || descs["a"].Service != "svc-a" || descs["b"].Service != "svc-b2" || !descs["a"].TLS.Enabled || descs["b"].TLS.Enabled {
		t.Fatalf("descriptions: %+v", descs)
	}
}
