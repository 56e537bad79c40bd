package s3target

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"golang.org/x/sync/errgroup"

	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/clock"
)

// Defaults.
const (
	// DefaultPartSize is the multipart threshold and part size (16 MiB).
	DefaultPartSize = 16 << 20
	// MinPartSize is the smallest part S3 accepts (5 MiB), except the last.
	MinPartSize = 5 << 20
	// DefaultPartConcurrency is how many parts of one object go up at once.
	DefaultPartConcurrency = 4
	// DefaultMaxAttempts is how many times a request is tried in all.
	DefaultMaxAttempts = 5
)

// ClientOptions configure NewClient.
type ClientOptions struct {
	// Endpoint overrides the AWS endpoint, e.g. "http://127.0.0.1:7070" for
	// an S3-compatible store. Empty means AWS.
	Endpoint string
	Region   string // default "us-east-1"
	// AccessKey and SecretKey are static credentials; when both are empty,
	// Credentials is used.
	AccessKey, SecretKey string
	Credentials          aws.CredentialsProvider
	// PathStyle addresses buckets as endpoint/bucket/key (needed by most
	// S3-compatible stores); it is forced on when Endpoint is set.
	PathStyle bool
	// MaxAttempts bounds retries (default DefaultMaxAttempts); MaxBackoff
	// bounds the delay between attempts (default 20 s).
	MaxAttempts int
	MaxBackoff  time.Duration
	// HTTPClient replaces the default HTTP client (for tests, proxies).
	HTTPClient *http.Client
}

// NewClient returns an S3 client for o.
func NewClient(o ClientOptions) (*s3.Client, error) {
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 20 * time.Second
	}
	creds := o.Credentials
	if o.AccessKey != "" || o.SecretKey != "" {
		creds = credentials.NewStaticCredentialsProvider(o.AccessKey, o.SecretKey, "")
	}
	if creds == nil {
		return nil, errors.New("backup/s3target: no credentials")
	}
	opts := s3.Options{
		Region:       o.Region,
		Credentials:  aws.NewCredentialsCache(creds),
		UsePathStyle: o.PathStyle || o.Endpoint != "",
		Retryer: retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = o.MaxAttempts
			so.MaxBackoff = o.MaxBackoff
		}),
	}
	if o.Endpoint != "" {
		opts.BaseEndpoint = aws.String(o.Endpoint)
	}
	if o.HTTPClient != nil {
		opts.HTTPClient = o.HTTPClient
	}
	return s3.New(opts), nil
}

// ObjectLock asks for an object-lock retention on every object written.
type ObjectLock struct {
	Mode   types.ObjectLockMode // types.ObjectLockModeGovernance or types.ObjectLockModeCompliance
	Retain time.Duration        // retention from the time of the Put
}

// Config configures a Target.
type Config struct {
	Bucket string
	// Prefix is prepended to every object name, e.g. "clinic-a/"; it must be
	// empty or end in '/'.
	Prefix string
	// PartSize is the multipart threshold and part size (default
	// DefaultPartSize, at least MinPartSize).
	PartSize int64
	// PartConcurrency is how many parts of one object go up at once.
	PartConcurrency int
	// ObjectLock, when set, writes every object with that retention.
	ObjectLock *ObjectLock
	// Clock computes retention dates (default: the system clock).
	Clock clock.Clock
}

// Target is a backup.Target in an S3 bucket.
type Target struct {
	c   *s3.Client
	cfg Config
}

var (
	_ backup.Target  = (*Target)(nil)
	_ backup.Creator = (*Target)(nil)
)

// New returns a Target over client and cfg. It does not contact S3.
func New(client *s3.Client, cfg Config) (*Target, error) {
	if client == nil || cfg.Bucket == "" {
		return nil, errors.New("backup/s3target: a client and a bucket are required")
	}
	if cfg.Prefix != "" && (!strings.HasSuffix(cfg.Prefix, "/") || !backup.ValidPrefix(cfg.Prefix)) {
		return nil, errors.New("backup/s3target: prefix must be a valid name ending in '/'")
	}
	if cfg.PartSize == 0 {
		cfg.PartSize = DefaultPartSize
	}
	if cfg.PartSize < MinPartSize {
		return nil, fmt.Errorf("backup/s3target: part size below %d", MinPartSize)
	}
	if cfg.PartConcurrency <= 0 {
		cfg.PartConcurrency = DefaultPartConcurrency
	}
	if l := cfg.ObjectLock; l != nil {
		if (l.Mode != types.ObjectLockModeGovernance && l.Mode != types.ObjectLockModeCompliance) || l.Retain <= 0 {
			return nil, errors.New("backup/s3target: object lock needs a mode and a positive retention")
		}
	}
	cfg.Clock = clock.OrSystem(cfg.Clock)
	return &Target{c: client, cfg: cfg}, nil
}

func (t *Target) key(name string) (string, error) {
	if !backup.ValidName(name) {
		return "", fmt.Errorf("%w", backup.ErrInvalidName)
	}
	return t.cfg.Prefix + name, nil
}

// isNotFound reports whether err is S3's "no such key" (404).
func isNotFound(err error) bool {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nf) {
		return true
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound {
		var ae smithy.APIError
		return !errors.As(err, &ae) || ae.ErrorCode() != "NoSuchBucket"
	}
	return false
}

func opErr(op, name string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("backup/s3target: %s %s: %w", op, name, err)
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return fmt.Errorf("backup/s3target: %s %s: %s: %w", op, name, ae.ErrorCode(), err)
	}
	return fmt.Errorf("backup/s3target: %s %s: %w", op, name, err)
}

// lock returns the retention for a new object. Objects under "locks/" are
// short-lived coordination objects that are rewritten and deleted while
// backups run; they get no retention.
func (t *Target) lock(name string) (types.ObjectLockMode, *time.Time) {
	if t.cfg.ObjectLock == nil || strings.HasPrefix(name, "locks/") {
		return "", nil
	}
	until := t.cfg.Clock.Now().Add(t.cfg.ObjectLock.Retain).UTC()
	return t.cfg.ObjectLock.Mode, &until
}

// Put implements backup.Target.
func (t *Target) Put(ctx context.Context, name string, data []byte) error {
	key, err := t.key(name)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if int64(len(data)) >= t.cfg.PartSize {
		return t.putMultipart(ctx, name, key, data)
	}
	mode, until := t.lock(name)
	_, err = t.c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(t.cfg.Bucket), Key: aws.String(key), Body: bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
		ObjectLockMode: mode, ObjectLockRetainUntilDate: until,
	})
	if err != nil {
		return opErr("put", name, err)
	}
	return nil
}

// Create implements backup.Creator with a conditional PutObject
// (If-None-Match: *), for small objects such as the repository
// configuration.
func (t *Target) Create(ctx context.Context, name string, data []byte) error {
	key, err := t.key(name)
	if err != nil {
		return err
	}
	mode, until := t.lock(name)
	_, err = t.c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(t.cfg.Bucket), Key: aws.String(key), Body: bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
		ObjectLockMode: mode, ObjectLockRetainUntilDate: until, IfNoneMatch: aws.String("*"),
	})
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && (ae.ErrorCode() == "PreconditionFailed" || ae.ErrorCode() == "ConditionalRequestConflict") {
			return &backup.ObjectError{Op: "create", Object: name, Err: backup.ErrExists}
		}
		return opErr("create", name, err)
	}
	return nil
}

func (t *Target) putMultipart(ctx context.Context, name, key string, data []byte) (err error) {
	mode, until := t.lock(name)
	up, err := t.c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(t.cfg.Bucket), Key: aws.String(key), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
		ObjectLockMode: mode, ObjectLockRetainUntilDate: until,
	})
	if err != nil {
		return opErr("put", name, err)
	}
	defer func() {
		if err != nil {
			// Best effort; a bucket lifecycle rule should also abort
			// incomplete uploads.
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			t.c.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
				Bucket: aws.String(t.cfg.Bucket), Key: aws.String(key), UploadId: up.UploadId,
			})
		}
	}()
	n := (int64(len(data)) + t.cfg.PartSize - 1) / t.cfg.PartSize
	parts := make([]types.CompletedPart, n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(t.cfg.PartConcurrency)
	for i := int64(0); i < n; i++ {
		off := i * t.cfg.PartSize
		end := min(off+t.cfg.PartSize, int64(len(data)))
		num := int32(i + 1)
		g.Go(func() error {
			out, err := t.c.UploadPart(gctx, &s3.UploadPartInput{
				Bucket: aws.String(t.cfg.Bucket), Key: aws.String(key), UploadId: up.UploadId,
				PartNumber: aws.Int32(num), Body: bytes.NewReader(data[off:end]),
				ContentLength: aws.Int64(end - off), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
			})
			if err != nil {
				return err
			}
			parts[num-1] = types.CompletedPart{PartNumber: aws.Int32(num), ETag: out.ETag, ChecksumCRC32: out.ChecksumCRC32}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return opErr("put", name, err)
	}
	_, err = t.c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(t.cfg.Bucket), Key: aws.String(key), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return opErr("put", name, err)
	}
	return nil
}

// Open implements backup.Target.
func (t *Target) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	key, err := t.key(name)
	if err != nil {
		return nil, err
	}
	out, err := t.c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(t.cfg.Bucket), Key: aws.String(key)})
	if err != nil {
		if isNotFound(err) {
			return nil, &backup.ObjectError{Op: "open", Object: name, Err: backup.ErrNotFound}
		}
		return nil, opErr("open", name, err)
	}
	return out.Body, nil
}

// Stat implements backup.Target.
func (t *Target) Stat(ctx context.Context, name string) (backup.ObjectInfo, error) {
	key, err := t.key(name)
	if err != nil {
		return backup.ObjectInfo{}, err
	}
	out, err := t.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(t.cfg.Bucket), Key: aws.String(key)})
	if err != nil {
		if isNotFound(err) {
			return backup.ObjectInfo{}, &backup.ObjectError{Op: "stat", Object: name, Err: backup.ErrNotFound}
		}
		return backup.ObjectInfo{}, opErr("stat", name, err)
	}
	return backup.ObjectInfo{Name: name, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified)}, nil
}

// List implements backup.Target.
func (t *Target) List(ctx context.Context, prefix string, fn func(backup.ObjectInfo) error) error {
	if !backup.ValidPrefix(prefix) {
		return fmt.Errorf("%w", backup.ErrInvalidName)
	}
	p := s3.NewListObjectsV2Paginator(t.c, &s3.ListObjectsV2Input{
		Bucket: aws.String(t.cfg.Bucket), Prefix: aws.String(t.cfg.Prefix + prefix),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return opErr("list", prefix, err)
		}
		for _, o := range page.Contents {
			// Some S3-compatible servers ignore Prefix: skip every key
			// outside the requested one instead of passing it on.
			name, ok := strings.CutPrefix(aws.ToString(o.Key), t.cfg.Prefix)
			if !ok || !strings.HasPrefix(name, prefix) || !backup.ValidName(name) {
				continue // not ours
			}
			if err := fn(backup.ObjectInfo{Name: name, Size: aws.ToInt64(o.Size), ModTime: aws.ToTime(o.LastModified)}); err != nil {
				return err
			}
		}
	}
	return nil
}

// Delete implements backup.Target.
func (t *Target) Delete(ctx context.Context, name string) error {
	key, err := t.key(name)
	if err != nil {
		return err
	}
	_, err = t.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(t.cfg.Bucket), Key: aws.String(key)})
	if err != nil && !isNotFound(err) {
		return opErr("delete", name, err)
	}
	return nil
}
