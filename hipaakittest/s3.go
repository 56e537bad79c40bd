package hipaakittest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Environment variables read by S3.
const (
	EnvEndpoint  = "HIPAAKIT_TEST_S3_ENDPOINT"
	EnvAccessKey = "HIPAAKIT_TEST_S3_ACCESS_KEY"
	EnvSecretKey = "HIPAAKIT_TEST_S3_SECRET_KEY"
	EnvRegion    = "HIPAAKIT_TEST_S3_REGION"
)

// S3Server is a reachable S3-compatible endpoint.
type S3Server struct {
	Endpoint, Region, AccessKey, SecretKey string
}

func s3Unavailable(tb testing.TB, msg string) {
	tb.Helper()
	msg = "S3 test server unavailable (set " + EnvEndpoint + ", see .ci/s3.sh): " + msg
	if os.Getenv("CI") != "" {
		tb.Fatal(msg + " [CI is set, so this is a failure, not a skip]")
	}
	tb.Skip(msg)
}

// S3 returns the test server, skipping (or failing under CI) when there is
// none.
func S3(tb testing.TB) S3Server {
	tb.Helper()
	s := S3Server{
		Endpoint: os.Getenv(EnvEndpoint), Region: os.Getenv(EnvRegion),
		AccessKey: os.Getenv(EnvAccessKey), SecretKey: os.Getenv(EnvSecretKey),
	}
	if s.Region == "" {
		s.Region = "us-east-1"
	}
	if s.Endpoint == "" {
		s3Unavailable(tb, EnvEndpoint+" is not set")
		return s
	}
	u, err := url.Parse(s.Endpoint)
	if err != nil || u.Host == "" {
		tb.Fatalf("s3test: %s is not a URL", EnvEndpoint)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 3*time.Second)
	if err != nil {
		s3Unavailable(tb, err.Error())
		return s
	}
	conn.Close()
	return s
}

// Client returns a path-style client for the server without retries, for
// setting up and inspecting buckets.
func (s S3Server) Client() *s3.Client {
	return s3.New(s3.Options{
		Region: s.Region, BaseEndpoint: aws.String(s.Endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
	})
}

// Bucket creates a uniquely named bucket (with object lock enabled when
// objectLock is true) and removes it, with every object version in it, when
// the test ends.
func (s S3Server) Bucket(tb testing.TB, objectLock bool) string {
	tb.Helper()
	var b [6]byte
	rand.Read(b[:])
	name := "hk-test-" + hex.EncodeToString(b[:])
	c := s.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	in := &s3.CreateBucketInput{Bucket: aws.String(name)}
	if objectLock {
		in.ObjectLockEnabledForBucket = aws.Bool(true)
	}
	if _, err := c.CreateBucket(ctx, in); err != nil {
		tb.Fatalf("s3test: create bucket: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := s.empty(ctx, c, name); err != nil {
			tb.Logf("s3test: empty bucket %s: %v", name, err)
		}
		if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(name)}); err != nil {
			tb.Logf("s3test: delete bucket %s: %v", name, err)
		}
	})
	return name
}

// empty removes every object version and delete marker, bypassing
// governance retention (compliance-mode objects cannot be removed before
// their retention ends; tests use governance mode).
func (s S3Server) empty(ctx context.Context, c *s3.Client, bucket string) error {
	p := s3.NewListObjectVersionsPaginator(c, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return s.emptyUnversioned(ctx, c, bucket)
		}
		var ids []types.ObjectIdentifier
		for _, v := range page.Versions {
			ids = append(ids, types.ObjectIdentifier{Key: v.Key, VersionId: v.VersionId})
		}
		for _, m := range page.DeleteMarkers {
			ids = append(ids, types.ObjectIdentifier{Key: m.Key, VersionId: m.VersionId})
		}
		for _, id := range ids {
			if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: id.Key,
				VersionId: id.VersionId, BypassGovernanceRetention: aws.Bool(true)}); err != nil {
				return fmt.Errorf("delete %s: %w", aws.ToString(id.Key), err)
			}
		}
	}
	return s.emptyUnversioned(ctx, c, bucket)
}

func (s S3Server) emptyUnversioned(ctx context.Context, c *s3.Client, bucket string) error {
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, o := range page.Contents {
			if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: o.Key,
				BypassGovernanceRetention: aws.Bool(true)}); err != nil {
				return err
			}
		}
	}
	return nil
}
