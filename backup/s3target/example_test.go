package s3target_test

import (
	"context"
	"log"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/backup/s3target"
	"github.com/hipaakit/hipaakit/phi/localkek"
)

// ExampleNew opens a backup repository in an S3-compatible bucket
// (versitygw on loopback) whose objects are locked for 30 days.
func ExampleNew() {
	ctx := context.Background()
	client, err := s3target.NewClient(s3target.ClientOptions{
		Endpoint: "http://127.0.0.1:7070", AccessKey: "access", SecretKey: "secret",
	})
	if err != nil {
		log.Fatal(err)
	}
	target, err := s3target.New(client, s3target.Config{
		Bucket: "backups", Prefix: "clinic-a/",
		ObjectLock: &s3target.ObjectLock{Mode: types.ObjectLockModeCompliance, Retain: 30 * 24 * time.Hour},
	})
	if err != nil {
		log.Fatal(err)
	}
	kek, err := localkek.FromDir("/var/lib/myservice")
	if err != nil {
		log.Fatal(err)
	}
	repo, err := backup.Open(ctx, target, kek, backup.Config{Audit: audit.Discard{}, Actor: audit.Actor{UserID: "ops"}})
	if err != nil {
		log.Fatal(err)
	}
	_ = repo
}
