package s3target_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/hipaakit/hipaakit/audit/archive"
	"github.com/hipaakit/hipaakit/audit/archive/archivetest"
	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/backup/s3target"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/hipaakittest"
)

// TestArchiveToS3ObjectLock archives an audit log into a bucket with
// object lock: every archived object carries a retention until six years
// after its records were written (governance mode here, so that the test
// bucket can be emptied; the mode of PutRetained without
// Config.ObjectLock is compliance, checked on one object).
func TestArchiveToS3ObjectLock(t *testing.T) {
	srv := hipaakittest.S3(t)
	ctx := context.Background()
	bucket := srv.Bucket(t, true)
	// the archive's records are written now, on a fake clock that starts at
	// the wall clock (S3 checks retention dates against it)
	clk := clock.NewFake(time.Now().UTC().Truncate(time.Second))
	tg := newTarget(t, srv, srv.Endpoint, s3target.Config{Bucket: bucket, Clock: clk,
		ObjectLock: &s3target.ObjectLock{Mode: types.ObjectLockModeGovernance, Retain: time.Hour}}, nil)
	at := backup.ArchiveTarget(tg)
	if _, ok := at.(archive.Retainer); !ok {
		t.Fatal("the S3 archive target cannot retain")
	}
	// Run moves the clock past six years to purge; S3 keeps its own time,
	// so the purge's deletes pass only because governance mode lets the
	// test's empty() through later. Check the locks before that.
	lockCheck := &lockChecker{Target: at, t: t, c: srv.Client(), bucket: bucket}
	archivetest.Run(t, lockCheck, clk)
	if lockCheck.checked == 0 {
		t.Fatal("no retained object was checked")
	}

	plain := newTarget(t, srv, srv.Endpoint, s3target.Config{Bucket: bucket}, nil)
	until := time.Now().Add(2 * time.Second)
	if err := plain.PutRetained(ctx, "compliance/x", []byte("x"), until); err != nil {
		t.Fatal(err)
	}
	head, err := srv.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("compliance/x")})
	if err != nil || head.ObjectLockMode != types.ObjectLockModeCompliance {
		t.Fatalf("PutRetained mode %q, %v", head.ObjectLockMode, err)
	}
	if err := plain.PutRetained(ctx, "compliance/y", []byte("y"), time.Now().Add(-time.Second)); err == nil {
		t.Fatal("a retention date in the past was accepted")
	}
}

// lockChecker checks, as the archive writes, that each retained object
// is stored with its retention date; deletes go through bypassing the
// governance lock (the archive's own check decides when they may happen).
type lockChecker struct {
	archive.Target
	t       *testing.T
	c       *s3.Client
	bucket  string
	checked int
}

func (l *lockChecker) PutRetained(ctx context.Context, name string, data []byte, until time.Time) error {
	if err := l.Target.(archive.Retainer).PutRetained(ctx, name, data, until); err != nil {
		return err
	}
	head, err := l.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(l.bucket), Key: aws.String(name)})
	if err != nil || head.ObjectLockRetainUntilDate == nil || !head.ObjectLockRetainUntilDate.Equal(until.Truncate(time.Second)) {
		l.t.Errorf("%s: retention %v, want %v (%v)", name, head.ObjectLockRetainUntilDate, until, err)
	}
	l.checked++
	return nil
}

func (l *lockChecker) Delete(ctx context.Context, name string) error {
	_, err := l.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(l.bucket), Key: aws.String(name), BypassGovernanceRetention: aws.Bool(true)})
	return err
}
