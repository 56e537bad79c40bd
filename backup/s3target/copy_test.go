package s3target_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/backup/s3target"
	"github.com/hipaakit/hipaakit/hipaakittest"
)

// TestCopyDirectoryToS3AndBack copies a backup from a directory repository
// to an S3 repository (versitygw in CI) and from there to a second
// directory repository, verifying at each destination; a second backup
// copied to S3 uploads only the chunks S3 lacks.
func TestCopyDirectoryToS3AndBack(t *testing.T) {
	srv := hipaakittest.S3(t)
	ctx := context.Background()
	cfg := backup.Config{Audit: discard{}, Actor: actor, ChunkSize: backup.MinChunkSize}
	open := func(tg backup.Target) *backup.Repository {
		r, err := backup.Init(ctx, tg, testKEK(t), cfg)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	dirA, _ := backup.NewDirTarget(filepath.Join(t.TempDir(), "a"))
	dirB, _ := backup.NewDirTarget(filepath.Join(t.TempDir(), "b"))
	a, b := open(dirA), open(dirB)
	s3 := open(newTarget(t, srv, srv.Endpoint, s3target.Config{Bucket: srv.Bucket(t, false)}, nil))

	src := t.TempDir()
	data := make([]byte, 2<<20)
	rand.Read(data)
	os.WriteFile(filepath.Join(src, "dump.sql"), data, 0o600)
	os.WriteFile(filepath.Join(src, "note.txt"), bytes.Repeat([]byte("follow-up in two weeks\n"), 4000), 0o600)
	m1, err := a.Backup(ctx, backup.DirSource{Root: src, Name: "clinic"})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(src, "dump.sql"), append([]byte("-- header\n"), data...), 0o600)
	m2, err := a.Backup(ctx, backup.DirSource{Root: src, Name: "clinic"})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{m1.ID, m2.ID} {
		rep, err := backup.Copy(ctx, a, s3, id)
		if err != nil || !rep.Copied || len(rep.Verify.Problems) != 0 {
			t.Fatalf("copy %s to S3: %+v, %v", id, rep, err)
		}
		if id == m2.ID && rep.Manifest.Totals.NewChunks > 2 {
			t.Fatalf("second copy to S3 uploaded %d chunks", rep.Manifest.Totals.NewChunks)
		}
	}
	rep, err := backup.Copy(ctx, s3, b, m2.ID)
	if err != nil || !rep.Copied || len(rep.Verify.Problems) != 0 {
		t.Fatalf("copy from S3: %+v, %v", rep, err)
	}
	dest := filepath.Join(t.TempDir(), "out")
	if _, err := b.Restore(ctx, m2.ID, backup.NewDirSink(dest), backup.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dest, "dump.sql"))
	if !bytes.Equal(got, append([]byte("-- header\n"), data...)) {
		t.Fatal("restored copy differs from the original")
	}
	list, err := s3.List(ctx)
	if err != nil || len(list) != 2 || list[1].ID != m2.ID || list[1].Verified.IsZero() {
		t.Fatalf("S3 lists %+v, %v", list, err)
	}
}
