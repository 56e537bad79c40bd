package s3target_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/backup/s3target"
	"github.com/hipaakit/hipaakit/hipaakittest"
)

// TestS3ReadOnlyVerifyAndDamagedManifest: through an endpoint that refuses
// every PUT (a read-only credential), Verify and Drill still report their
// passing verdict, with the record's failure as a *MarkerError; a damaged
// manifest in the bucket is named and skipped by the listing.
func TestS3ReadOnlyVerifyAndDamagedManifest(t *testing.T) {
	srv := hipaakittest.S3(t)
	ctx := context.Background()
	bucket := srv.Bucket(t, false)
	rw := newTarget(t, srv, srv.Endpoint, s3target.Config{Bucket: bucket}, nil)
	repo, err := backup.Init(ctx, rw, testKEK(t), backup.Config{Audit: discard{}, Actor: actor})
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "a.txt"), []byte("alpha"), 0o600)
	var ids []string
	for i := 0; i < 2; i++ {
		m, err := repo.Backup(ctx, backup.DirSource{Root: src})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}

	_, endpoint := newFaultProxy(t, srv.Endpoint, "PUT", -1)
	ro, err := backup.Open(ctx, newTarget(t, srv, endpoint, s3target.Config{Bucket: bucket}, nil), testKEK(t), backup.Config{Audit: discard{}, Actor: actor})
	if err != nil {
		t.Fatal(err)
	}
	vr, err := ro.Verify(ctx, ids[0], backup.VerifyOptions{})
	var me *backup.MarkerError
	if !errors.As(err, &me) || !errors.Is(err, backup.ErrMarkerNotWritten) || errors.Is(err, backup.ErrVerifyFailed) || len(vr.Problems) != 0 || vr.Checked == 0 {
		t.Fatalf("verify through a read-only endpoint: %+v, %v", vr, err)
	}
	dr, err := ro.Drill(ctx, backup.DrillOptions{ID: ids[0], ScratchDir: t.TempDir()})
	if !errors.Is(err, backup.ErrMarkerNotWritten) || !dr.Pass {
		t.Fatalf("drill through a read-only endpoint: %+v, %v", dr, err)
	}

	bad := "manifests/" + ids[0]
	if err := rw.Put(ctx, bad, []byte("torn upload")); err != nil {
		t.Fatal(err)
	}
	l, err := repo.ListReport(ctx)
	if err != nil || len(l.Backups) != 1 || l.Backups[0].ID != ids[1] || len(l.Damaged) != 1 || l.Damaged[0].Object != bad {
		t.Fatalf("ListReport with a damaged manifest: %+v, %v", l, err)
	}
}
