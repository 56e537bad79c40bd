package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/awskms/kmstest"
)

// TestKEKMigrateDeployment: a deployment hipaakit.Open created on its
// defaults (master key and backups beside the data directory) refuses AWS
// KMS over its locally wrapped keys; after "hipaakit kek migrate --to-kms"
// with nothing but the data directory and the repository named, it opens
// under KMS, its sealed value opens and its backups verify.
func TestKEKMigrateDeployment(t *testing.T) {
	ctx := context.Background()
	srv := kmstest.NewServer(t)
	data := filepath.Join(t.TempDir(), "data")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	d, err := hipaakit.Open(ctx, hipaakit.Config{DataDir: data, Logger: quiet})
	check(t, err)
	b := phi.Binding{Subject: "patient-42", Field: "name"}
	sealed, err := d.Vault.Seal(ctx, b, []byte("Jane Doe"))
	check(t, err)
	ids, err := d.BackupAll(ctx)
	check(t, err)
	check(t, d.Close())

	env := kmsEnv(srv, map[string]string{"HIPAAKIT_DATA_DIR": data})
	for k, v := range env {
		if strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, v) // hipaakit.Open reads the AWS SDK's default chain
		}
	}
	home := t.TempDir()
	for k, v := range map[string]string{"AWS_SESSION_TOKEN": "", "AWS_PROFILE": "", "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_CONFIG_FILE": filepath.Join(home, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(home, "credentials")} {
		t.Setenv(k, v)
	}
	kmsCfg := hipaakit.Config{DataDir: data, Logger: quiet,
		KEK: hipaakit.KEKConfig{KMSKeyID: srv.KeyARN(), KMSEndpoint: srv.URL(), KMSRegion: kmstest.Region}}
	if _, err := hipaakit.Open(ctx, kmsCfg); !errors.Is(err, hipaakit.ErrKMSOverLocalKeys) {
		t.Fatalf("KMS over local keys before the migration: %v", err)
	}
	code, out, errs := runCLI(t, env, "kek", "migrate", "--to-kms", srv.KeyARN(), "--repo", hipaakit.DefaultBackupDir(data))
	if code != exitOK || !strings.Contains(out, ": rewrapped") {
		t.Fatalf("migrate: %d\n%s\n%s", code, out, errs)
	}
	d, err = hipaakit.Open(ctx, kmsCfg)
	if err != nil {
		t.Fatalf("open under KMS after the migration: %v", err)
	}
	defer d.Close()
	pt, err := d.Vault.Open(ctx, b, sealed)
	if err != nil || string(pt.Reveal()) != "Jane Doe" {
		t.Fatalf("sealed value under KMS: %v", err)
	}
	for _, id := range ids {
		if _, err := d.Backups.Verify(ctx, id, backup.VerifyOptions{}); err != nil {
			t.Fatalf("backup %s under KMS: %v", id, err)
		}
	}
}
