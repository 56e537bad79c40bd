package awskms_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"

	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/awskms"
	"github.com/hipaakit/hipaakit/phi/awskms/kmstest"
	"github.com/hipaakit/hipaakit/phi/kektest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// fast keeps retry delays short in tests.
const fast = 5 * time.Millisecond

// newKEK returns a KEK for srv's key with cfg's retry settings and short
// retry delays.
func newKEK(t *testing.T, srv *kmstest.Server, cfg awskms.Config) *awskms.KEK {
	t.Helper()
	cfg.KeyID, cfg.MaxBackoff = srv.KeyARN(), fast
	k, err := awskms.New(srv.Config(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestConformance(t *testing.T) {
	kektest.Run(t, func(t *testing.T) phi.KEK { return newKEK(t, kmstest.NewServer(t), awskms.Config{}) })
}

func TestEncryptionContextOnTheWire(t *testing.T) {
	ctx := context.Background()
	srv := kmstest.NewServer(t)
	k := newKEK(t, srv, awskms.Config{})
	ct, err := k.Wrap(ctx, []byte("keyset"), []byte("patient-0001"))
	if err != nil {
		t.Fatal(err)
	}
	want := base64.StdEncoding.EncodeToString([]byte("patient-0001"))
	if ec := srv.LastEncryptionContext("Encrypt"); len(ec) != 1 || ec[awskms.ContextKey] != want {
		t.Fatalf("Encrypt sent encryption context %v, want {%s: %s}", ec, awskms.ContextKey, want)
	}
	if _, err := k.Unwrap(ctx, ct, []byte("patient-0001")); err != nil {
		t.Fatal(err)
	}
	if ec := srv.LastEncryptionContext("Decrypt"); ec[awskms.ContextKey] != want {
		t.Fatalf("Decrypt sent encryption context %v", ec)
	}
}

// asError returns err as an *awskms.Error or fails the test.
func asError(t *testing.T, err error) *awskms.Error {
	t.Helper()
	var e *awskms.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *awskms.Error", err, err)
	}
	return e
}

func TestWrongContext(t *testing.T) {
	ctx := context.Background()
	srv := kmstest.NewServer(t)
	k := newKEK(t, srv, awskms.Config{})
	ct, err := k.Wrap(ctx, []byte("keyset"), []byte("patient-0001"))
	if err != nil {
		t.Fatal(err)
	}
	before := srv.Calls("Decrypt")
	_, err = k.Unwrap(ctx, ct, []byte("patient-0002"))
	if !errors.Is(err, awskms.ErrInvalidCiphertext) {
		t.Fatalf("Unwrap with another subject's reference: %v, want ErrInvalidCiphertext", err)
	}
	e := asError(t, err)
	if e.Op != "Decrypt" || e.Code != "InvalidCiphertextException" || e.StatusCode != 400 || e.RequestID == "" || e.Retryable() {
		t.Fatalf("error fields %+v", e)
	}
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "InvalidCiphertextException" {
		t.Fatalf("the service error is not reachable with errors.As: %v", err)
	}
	if errors.Is(err, awskms.ErrUnavailable) || errors.Is(err, awskms.ErrKeyUnusable) {
		t.Fatalf("%v matches more than one class", err)
	}
	if got := srv.Calls("Decrypt") - before; got != 1 {
		t.Fatalf("a refused Decrypt was attempted %d times; it must not be retried", got)
	}
}

func TestWrongKey(t *testing.T) {
	ctx := context.Background()
	srv := kmstest.NewServer(t)
	other, err := srv.AddKey("00000000-0000-4000-8000-000000000002", nil)
	if err != nil {
		t.Fatal(err)
	}
	k1 := newKEK(t, srv, awskms.Config{})
	k2, err := awskms.New(srv.Config(), awskms.Config{KeyID: other, MaxBackoff: fast})
	if err != nil {
		t.Fatal(err)
	}
	ct, err := k1.Wrap(ctx, []byte("keyset"), []byte("s"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k2.Unwrap(ctx, ct, []byte("s")); !errors.Is(err, awskms.ErrInvalidCiphertext) {
		t.Fatalf("Unwrap under another key: %v, want ErrInvalidCiphertext", err)
	}
	if k1.ID() == k2.ID() || !strings.HasPrefix(k1.ID(), "aws-kms:arn:aws:kms:") {
		t.Fatalf("IDs %q and %q", k1.ID(), k2.ID())
	}
}

func TestRetriesThenSucceeds(t *testing.T) {
	ctx := context.Background()
	for _, f := range []kmstest.Failure{kmstest.Throttling, kmstest.InternalError, kmstest.Unavailable} {
		t.Run(f.Type, func(t *testing.T) {
			srv := kmstest.NewServer(t)
			k := newKEK(t, srv, awskms.Config{MaxAttempts: 4})
			srv.FailNext(3, f)
			ct, err := k.Wrap(ctx, []byte("keyset"), []byte("s"))
			if err != nil {
				t.Fatalf("Wrap after 3 failures with 4 attempts: %v", err)
			}
			if got := srv.Calls("Encrypt"); got != 4 {
				t.Fatalf("Encrypt reached the server %d times, want 4 (3 failures + 1 success)", got)
			}
			srv.FailNext(2, f)
			pt, err := k.Unwrap(ctx, ct, []byte("s"))
			if err != nil || string(pt) != "keyset" {
				t.Fatalf("Unwrap after 2 failures: %q, %v", pt, err)
			}
			if got := srv.Calls("Decrypt"); got != 3 {
				t.Fatalf("Decrypt reached the server %d times, want 3", got)
			}
		})
	}
}

func TestPersistentFailure(t *testing.T) {
	ctx := context.Background()
	srv := kmstest.NewServer(t)
	k := newKEK(t, srv, awskms.Config{MaxAttempts: 3})
	srv.FailNext(100, kmstest.Throttling)
	const canary = "PLAINTEXT-CANARY-4411"
	_, err := k.Wrap(ctx, []byte(canary), []byte("s"))
	for _, text := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
		if strings.Contains(text, canary) || strings.Contains(text, base64.StdEncoding.EncodeToString([]byte(canary))) {
			t.Fatalf("error leaks the plaintext: %s", text)
		}
	}
	if !errors.Is(err, awskms.ErrUnavailable) {
		t.Fatalf("Wrap under persistent throttling: %v, want ErrUnavailable", err)
	}
	e := asError(t, err)
	if !e.Retryable() || e.Code != "ThrottlingException" || e.Attempts != 3 || e.StatusCode != 400 {
		t.Fatalf("error fields %+v", e)
	}
	if got := srv.Calls("Encrypt"); got != 3 {
		t.Fatalf("Encrypt reached the server %d times, want 3", got)
	}
	for _, want := range []string{"awskms: Encrypt failed", "ThrottlingException", "HTTP 400", "3 attempts"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error text %q lacks %q", err, want)
		}
	}
}

func TestNoRetries(t *testing.T) {
	srv := kmstest.NewServer(t)
	k := newKEK(t, srv, awskms.Config{MaxAttempts: 1})
	srv.FailNext(1, kmstest.InternalError)
	_, err := k.Wrap(context.Background(), []byte("keyset"), []byte("s"))
	if !errors.Is(err, awskms.ErrUnavailable) || srv.Calls("Encrypt") != 1 {
		t.Fatalf("Wrap with retries off: %v after %d calls", err, srv.Calls("Encrypt"))
	}
}

func TestKeyUnusable(t *testing.T) {
	ctx := context.Background()
	srv := kmstest.NewServer(t)
	k := newKEK(t, srv, awskms.Config{})
	ct, err := k.Wrap(ctx, []byte("keyset"), []byte("s"))
	if err != nil {
		t.Fatal(err)
	}
	srv.SetDisabled(srv.KeyARN(), true)
	_, err = k.Unwrap(ctx, ct, []byte("s"))
	if !errors.Is(err, awskms.ErrKeyUnusable) || asError(t, err).Code != "DisabledException" || asError(t, err).Retryable() {
		t.Fatalf("Unwrap under a disabled key: %v, want ErrKeyUnusable", err)
	}
	srv.SetDisabled(srv.KeyARN(), false)
	if _, err := k.Unwrap(ctx, ct, []byte("s")); err != nil {
		t.Fatalf("Unwrap after re-enabling: %v", err)
	}
	missing, err := awskms.New(srv.Config(), awskms.Config{KeyID: "arn:aws:kms:us-east-1:111122223333:key/no-such-key", MaxBackoff: fast})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := missing.Wrap(ctx, []byte("keyset"), []byte("s")); !errors.Is(err, awskms.ErrKeyUnusable) {
		t.Fatalf("Wrap under a missing key: %v, want ErrKeyUnusable", err)
	}
}

func TestContextCanceled(t *testing.T) {
	srv := kmstest.NewServer(t)
	k := newKEK(t, srv, awskms.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := k.Wrap(ctx, []byte("keyset"), []byte("s")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wrap with a cancelled context: %v", err)
	}
}

func TestUnreachableEndpoint(t *testing.T) {
	srv := kmstest.NewServer(t)
	url := srv.URL()
	srv.Close()
	k, err := awskms.New(aws.Config{Region: "us-east-1", Credentials: srv.Config().Credentials}, awskms.Config{KeyID: "key", Endpoint: url, MaxAttempts: 2, MaxBackoff: fast})
	if err != nil {
		t.Fatal(err)
	}
	_, err = k.Wrap(context.Background(), []byte("keyset"), []byte("s"))
	if !errors.Is(err, awskms.ErrUnavailable) || asError(t, err).Message == "" || !asError(t, err).Retryable() {
		t.Fatalf("Wrap against a closed endpoint: %v, want ErrUnavailable with the network error", err)
	}
}

// TestEndpointAndRegionOptions builds the KEK from a configuration that names
// neither endpoint nor region: Config.Endpoint and the key ARN supply them.
func TestEndpointAndRegionOptions(t *testing.T) {
	srv := kmstest.NewServer(t)
	cfg := srv.Config()
	cfg.BaseEndpoint, cfg.Region = nil, ""
	k, err := awskms.New(cfg, awskms.Config{KeyID: srv.KeyARN(), Endpoint: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Wrap(context.Background(), []byte("keyset"), []byte("s")); err != nil {
		t.Fatal(err)
	}
	client := kms.NewFromConfig(cfg)
	k, err = awskms.NewWithClient(client, awskms.Config{KeyID: "plain-key-id", Endpoint: srv.URL(), Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Wrap(context.Background(), []byte("keyset"), []byte("s")); !errors.Is(err, awskms.ErrKeyUnusable) {
		t.Fatalf("Wrap under an unknown key ID: %v, want ErrKeyUnusable", err)
	}
	if _, err := awskms.New(cfg, awskms.Config{KeyID: "plain-key-id"}); err == nil {
		t.Fatal("New without any region succeeded")
	}
}

func TestInvalidConfig(t *testing.T) {
	cfg := aws.Config{Region: "us-east-1"}
	for name, c := range map[string]awskms.Config{
		"endpoint": {KeyID: "k", Endpoint: "not a url"},
		"relative": {KeyID: "k", Endpoint: "/kms"},
		"attempts": {KeyID: "k", MaxAttempts: -1},
		"backoff":  {KeyID: "k", MaxBackoff: -time.Second},
		"no key":   {},
		"long key": {KeyID: strings.Repeat("k", 2049)},
	} {
		if _, err := awskms.New(cfg, c); err == nil {
			t.Errorf("%s: invalid configuration accepted", name)
		}
	}
	if _, err := awskms.NewWithClient(nil, awskms.Config{KeyID: "k"}); err == nil {
		t.Error("nil client accepted")
	}
}

// TestMalformedMakesNoCall checks that a ciphertext that cannot be an
// envelope is refused locally, without a KMS call and without a panic.
func TestMalformedMakesNoCall(t *testing.T) {
	srv := kmstest.NewServer(t)
	k := newKEK(t, srv, awskms.Config{})
	for _, ct := range [][]byte{nil, {1}, {1, 0, 0}, {2, 0, 1, 9}, {1, 0xff, 0xff, 1, 2, 3}} {
		_, err := k.Unwrap(context.Background(), ct, []byte("s"))
		if !errors.Is(err, awskms.ErrInvalidCiphertext) {
			t.Fatalf("Unwrap(%x): %v", ct, err)
		}
	}
	if n := srv.Calls("Decrypt"); n != 0 {
		t.Fatalf("%d Decrypt calls for malformed input", n)
	}
}

// goldenMaterial is the fake KMS key under which testdata/wrapped-v1.bin was
// made.
var goldenMaterial = bytes.Repeat([]byte{0x42}, 32)

const goldenKeyID = "11111111-2222-4333-8444-555555555555"

// TestGolden unwraps the version-1 ciphertext committed under testdata.
func TestGolden(t *testing.T) {
	ctx := context.Background()
	srv := kmstest.NewServer(t)
	arn, err := srv.AddKey(goldenKeyID, goldenMaterial)
	if err != nil {
		t.Fatal(err)
	}
	k, err := awskms.New(srv.Config(), awskms.Config{KeyID: arn})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "wrapped-v1.bin")
	const plaintext, ad = "golden keyset bytes", "patient-0001"
	if *update {
		ct, err := k.Wrap(ctx, []byte(plaintext), []byte(ad))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, ct, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ct, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := k.Unwrap(ctx, ct, []byte(ad))
	if err != nil || string(pt) != plaintext {
		t.Fatalf("golden ciphertext: %q, %v", pt, err)
	}
	if _, err := k.Unwrap(ctx, ct, []byte("patient-0002")); !errors.Is(err, awskms.ErrInvalidCiphertext) {
		t.Fatalf("golden ciphertext under another reference: %v", err)
	}
}

func Example() {
	srv, err := kmstest.Start() // a loopback fake; use awskms.LoadDefault with a real key ARN
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	ctx := context.Background()
	kek, err := awskms.New(srv.Config(), awskms.Config{KeyID: srv.KeyARN()})
	if err != nil {
		panic(err)
	}
	wrapped, err := kek.Wrap(ctx, []byte("serialized keyset"), []byte("patient-42"))
	if err != nil {
		panic(err)
	}
	keyset, err := kek.Unwrap(ctx, wrapped, []byte("patient-42"))
	fmt.Printf("%s %v\n", keyset, err)
	_, err = kek.Unwrap(ctx, wrapped, []byte("patient-43"))
	fmt.Println(errors.Is(err, awskms.ErrInvalidCiphertext))
	// Output:
	// serialized keyset <nil>
	// true
}
