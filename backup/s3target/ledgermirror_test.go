package s3target_test

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/backup/s3target"
	"github.com/hipaakit/hipaakit/hipaakittest"
)

// TestLedgerMirrorObjectLock: the disposal ledger mirrored into a bucket
// with object lock (on versitygw here): every mirrored disposal is written
// with a retention, its version cannot be deleted before it ends, the
// record cannot be overwritten through the mirror, and a mirror opened
// later (a restored deployment) finds the disposal.
func TestLedgerMirrorObjectLock(t *testing.T) {
	srv := hipaakittest.S3(t)
	ctx := context.Background()
	bucket := srv.Bucket(t, true)
	tg := newTarget(t, srv, srv.Endpoint, s3target.Config{Bucket: bucket, Prefix: "clinic/",
		ObjectLock: &s3target.ObjectLock{Mode: types.ObjectLockModeGovernance, Retain: time.Hour}}, nil)
	m, err := backup.OpenLedgerMirror(ctx, tg, backup.LedgerMirrorConfig{Stream: "disposal-replica-1"})
	if err != nil {
		t.Fatal(err)
	}
	e := audit.Event{Action: audit.ActionShred, Outcome: audit.OutcomeSuccess, Actor: audit.Actor{UserID: "system:test"},
		Origin: audit.Origin{Channel: audit.ChannelSystem}, Target: audit.Target{Subject: "patient-7", RecordType: "subject"}}
	r, err := m.Append(ctx, e)
	if err != nil || r.Seq != 1 {
		t.Fatalf("append: %+v %v", r, err)
	}
	key := fmt.Sprintf("clinic/ledger-mirror/%s/%020d", hex.EncodeToString([]byte("disposal-replica-1")), 1)
	c := srv.Client()
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	if head.ObjectLockMode != types.ObjectLockModeGovernance || head.ObjectLockRetainUntilDate == nil ||
		time.Until(*head.ObjectLockRetainUntilDate) < 50*time.Minute {
		t.Fatalf("mirrored disposal without retention: %v %v", head.ObjectLockMode, head.ObjectLockRetainUntilDate)
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), VersionId: head.VersionId}); err == nil {
		t.Fatal("a locked mirrored disposal was deleted")
	}
	// A second writer of the stream (a stale or forged one) cannot replace
	// the record.
	stale, err := backup.OpenLedgerMirror(ctx, tg, backup.LedgerMirrorConfig{Stream: "disposal-replica-2"})
	if err != nil {
		t.Fatal(err)
	}
	if err := tg.Create(ctx, key[len("clinic/"):], []byte("forged")); !errors.Is(err, backup.ErrExists) {
		t.Fatalf("overwrite of a mirrored disposal: %v", err)
	}
	if got, ok, err := stale.FindSubject(ctx, "patient-7"); err != nil || !ok || got.Hash != r.Hash {
		t.Fatalf("a later mirror does not find the disposal: %v %v", ok, err)
	}
}
