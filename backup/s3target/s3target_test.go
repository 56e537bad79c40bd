package s3target_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/backup/backuptest"
	"github.com/hipaakit/hipaakit/backup/s3target"
	"github.com/hipaakit/hipaakit/hipaakittest"
)

func newTarget(t *testing.T, srv hipaakittest.S3Server, endpoint string, cfg s3target.Config, hc *http.Client) *s3target.Target {
	t.Helper()
	c, err := s3target.NewClient(s3target.ClientOptions{
		Endpoint: endpoint, Region: srv.Region, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey,
		MaxAttempts: 4, MaxBackoff: 50 * time.Millisecond, HTTPClient: hc,
	})
	if err != nil {
		t.Fatal(err)
	}
	tg, err := s3target.New(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// TestS3Conformance runs the Target suite against a real S3-compatible
// server (versitygw in CI), with a small part size so that large objects go
// up as multipart uploads.
func TestS3Conformance(t *testing.T) {
	srv := hipaakittest.S3(t)
	backuptest.Run(t, func(t *testing.T) backup.Target {
		return newTarget(t, srv, srv.Endpoint, s3target.Config{Bucket: srv.Bucket(t, false), PartSize: s3target.MinPartSize}, nil)
	})
}

func TestS3Prefix(t *testing.T) {
	srv := hipaakittest.S3(t)
	bucket := srv.Bucket(t, false)
	a := newTarget(t, srv, srv.Endpoint, s3target.Config{Bucket: bucket, Prefix: "clinic-a/"}, nil)
	b := newTarget(t, srv, srv.Endpoint, s3target.Config{Bucket: bucket, Prefix: "clinic-b/"}, nil)
	ctx := context.Background()
	if err := a.Put(ctx, "config", []byte("a")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Stat(ctx, "config"); !errors.Is(err, backup.ErrNotFound) {
		t.Fatalf("prefixes overlap: %v", err)
	}
	if _, err := s3target.New(srv.Client(), s3target.Config{Bucket: bucket, Prefix: "no-slash"}); err == nil {
		t.Fatal("a prefix without a trailing slash was accepted")
	}
}

// faultProxy forwards to the server but answers 503 to the first n
// requests matching method (every method when empty), or to all of them
// when n < 0.
type faultProxy struct {
	n      atomic.Int64
	method string
	faults atomic.Int64
	proxy  *httputil.ReverseProxy
}

func (f *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if (f.method == "" || r.Method == f.method) && (f.n.Load() < 0 || f.n.Add(-1) >= 0) {
		f.faults.Add(1)
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>injected</Message></Error>`)
		return
	}
	f.proxy.ServeHTTP(w, r)
}

func newFaultProxy(t *testing.T, endpoint, method string, n int64) (*faultProxy, string) {
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	fp := &faultProxy{method: method, proxy: httputil.NewSingleHostReverseProxy(u)}
	fp.n.Store(n)
	ts := httptest.NewServer(fp)
	t.Cleanup(ts.Close)
	return fp, ts.URL
}

// TestS3ServerErrors: transient 5xx responses are retried and succeed;
// persistent ones are errors from every operation, never a silent success,
// and a backup through them is not listed.
func TestS3ServerErrors(t *testing.T) {
	srv := hipaakittest.S3(t)
	ctx := context.Background()
	bucket := srv.Bucket(t, false)

	fp, ep := newFaultProxy(t, srv.Endpoint, "", 2)
	tg := newTarget(t, srv, ep, s3target.Config{Bucket: bucket}, nil)
	if err := tg.Put(ctx, "x", []byte("data")); err != nil {
		t.Fatalf("Put through two transient 503s: %v", err)
	}
	if fp.faults.Load() != 2 {
		t.Fatalf("%d faults injected, want 2", fp.faults.Load())
	}

	fp, ep = newFaultProxy(t, srv.Endpoint, "", -1)
	tg = newTarget(t, srv, ep, s3target.Config{Bucket: bucket, PartSize: s3target.MinPartSize}, nil)
	if err := tg.Put(ctx, "y", []byte("data")); err == nil {
		t.Fatal("Put through persistent 503s succeeded")
	}
	if err := tg.Put(ctx, "big", make([]byte, s3target.MinPartSize+1)); err == nil {
		t.Fatal("multipart Put through persistent 503s succeeded")
	}
	if _, err := tg.Open(ctx, "x"); err == nil || errors.Is(err, backup.ErrNotFound) {
		t.Fatalf("Open through 503s: %v, want a server error", err)
	}
	if _, err := tg.Stat(ctx, "x"); err == nil || errors.Is(err, backup.ErrNotFound) {
		t.Fatalf("Stat through 503s: %v, want a server error", err)
	}
	if err := tg.List(ctx, "", func(backup.ObjectInfo) error { return nil }); err == nil {
		t.Fatal("List through 503s succeeded")
	}
	if err := tg.Delete(ctx, "x"); err == nil {
		t.Fatal("Delete through 503s succeeded")
	}
	if fp.faults.Load() < 4*6 {
		t.Fatalf("only %d requests were tried: retries are off", fp.faults.Load())
	}

	// Only uploads fail: a backup reports the error and is never listed.
	direct := newTarget(t, srv, srv.Endpoint, s3target.Config{Bucket: bucket, Prefix: "repo/"}, nil)
	repo, err := backup.Init(ctx, direct, testKEK(t), backup.Config{Audit: discard{}, Actor: actor})
	if err != nil {
		t.Fatal(err)
	}
	_, ep = newFaultProxy(t, srv.Endpoint, http.MethodPut, -1)
	faulty := newTarget(t, srv, ep, s3target.Config{Bucket: bucket, Prefix: "repo/"}, nil)
	r2, err := backup.Open(ctx, faulty, testKEK(t), backup.Config{Audit: discard{}, Actor: actor})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r2.Backup(ctx, backup.DirSource{Root: t.TempDir()}); err == nil {
		t.Fatal("backup through failing uploads succeeded")
	}
	if l, err := repo.List(ctx); err != nil || len(l) != 0 {
		t.Fatalf("after a failed backup List = %v, %v", l, err)
	}
}

// TestS3ObjectLock writes with a governance retention: the data version
// cannot be deleted before the retention ends.
func TestS3ObjectLock(t *testing.T) {
	srv := hipaakittest.S3(t)
	ctx := context.Background()
	bucket := srv.Bucket(t, true)
	tg := newTarget(t, srv, srv.Endpoint, s3target.Config{Bucket: bucket,
		ObjectLock: &s3target.ObjectLock{Mode: types.ObjectLockModeGovernance, Retain: time.Hour}}, nil)
	if err := tg.Put(ctx, "manifests/x", []byte("m")); err != nil {
		t.Fatal(err)
	}
	c := srv.Client()
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("manifests/x")})
	if err != nil {
		t.Fatal(err)
	}
	if head.ObjectLockMode != types.ObjectLockModeGovernance || head.ObjectLockRetainUntilDate == nil ||
		time.Until(*head.ObjectLockRetainUntilDate) < 50*time.Minute {
		t.Fatalf("retention not set: %v %v", head.ObjectLockMode, head.ObjectLockRetainUntilDate)
	}
	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("manifests/x"), VersionId: head.VersionId})
	if err == nil {
		t.Fatal("a locked object version was deleted")
	}
	// Lock objects come and go while backups run: no retention.
	if err := tg.Put(ctx, "locks/backup-1", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	lh, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("locks/backup-1")})
	if err != nil || lh.ObjectLockMode != "" {
		t.Fatalf("lock object retention %q, %v", lh.ObjectLockMode, err)
	}
	// A whole repository works in a locked bucket.
	repo, err := backup.Init(ctx, tg, testKEK(t), backup.Config{Audit: discard{}, Actor: actor})
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "f"), []byte("locked"), 0o600)
	m, err := repo.Backup(ctx, backup.DirSource{Root: src})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Verify(ctx, m.ID, backup.VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3target.New(c, s3target.Config{Bucket: bucket, ObjectLock: &s3target.ObjectLock{Retain: time.Hour}}); err == nil {
		t.Fatal("object lock without a mode accepted")
	}
}
