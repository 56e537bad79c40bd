package awskms

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/hipaakit/hipaakit/phi"
)

// ContextKey is the encryption-context key that carries the associated data
// (the key reference phi passes) as standard base64. It appears in
// CloudTrail records of every Encrypt and Decrypt call.
const ContextKey = "hipaakit:ref"

const (
	formatVersion = 1
	dekSize       = 32
	headerSize    = 1 + 2 // version, blob length
	gcmOverhead   = 12 + 16
	// maxKeyIDLen is KMS's limit on a KeyId.
	maxKeyIDLen = 2048
)

// KEK is a phi.KEK whose key lives in AWS KMS. It is safe for concurrent use.
type KEK struct {
	client *kms.Client
	keyID  string
	optFns []func(*kms.Options)
}

var _ phi.KEK = (*KEK)(nil)

// Config configures a KEK. KeyID is required; the zero value of every other
// field is the default documented on it.
type Config struct {
	// KeyID is the KMS key: a key ARN, key ID, alias name or alias ARN
	// (prefer the key ARN). Required.
	KeyID string
	// Endpoint sends requests to this absolute http or https URL (for
	// example a VPC endpoint or a test server) instead of the one the SDK
	// resolves. Default: the SDK's.
	Endpoint string
	// Region overrides the configuration's region. Default: the aws.Config's
	// (the SDK's standard chain: AWS_REGION, the shared config file, ...) or
	// else the key ARN's.
	Region string
	// MaxAttempts is how many attempts the SDK's standard retryer makes per
	// call, the first one included (1 disables retries). Throttling, 5xx
	// responses and connection errors are retried with exponential backoff
	// and jitter. 0 means the SDK's default (3).
	MaxAttempts int
	// MaxBackoff caps the delay between retries. 0 means the SDK's default
	// (20s).
	MaxBackoff time.Duration
}

// check validates cfg.
func (cfg Config) check() error {
	if cfg.KeyID == "" || len(cfg.KeyID) > maxKeyIDLen {
		return errors.New("awskms: key ID must be 1 to 2048 characters")
	}
	if cfg.Endpoint != "" {
		u, err := url.Parse(cfg.Endpoint)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return errors.New("awskms: endpoint must be an absolute http or https URL")
		}
	}
	if cfg.MaxAttempts < 0 {
		return errors.New("awskms: max attempts must be at least 1 (0 for the SDK default)")
	}
	if cfg.MaxBackoff < 0 {
		return errors.New("awskms: max backoff must be positive (0 for the SDK default)")
	}
	return nil
}

// LoadDefault loads the SDK's default configuration (environment, shared
// config and credentials files, SSO, IMDS: config.LoadDefaultConfig) and
// returns a KEK for cfg.KeyID.
func LoadDefault(ctx context.Context, cfg Config) (*KEK, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, errors.New("awskms: load AWS configuration: " + err.Error())
	}
	return New(awsCfg, cfg)
}

// New returns a KEK for cfg.KeyID using a KMS client built from awsCfg.
func New(awsCfg aws.Config, cfg Config) (*KEK, error) {
	return NewWithClient(kms.NewFromConfig(awsCfg), cfg)
}

// NewWithClient returns a KEK for cfg.KeyID that calls KMS through client.
// cfg applies to this KEK's calls only; the client is not modified.
func NewWithClient(client *kms.Client, cfg Config) (*KEK, error) {
	if client == nil {
		return nil, errors.New("awskms: nil KMS client")
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	region := cfg.Region
	if region == "" && client.Options().Region == "" {
		region = arnRegion(cfg.KeyID)
		if region == "" {
			return nil, errors.New("awskms: no region: set one in the AWS configuration (AWS_REGION) or Config.Region, or give a key ARN")
		}
	}
	k := &KEK{client: client, keyID: cfg.KeyID}
	if region != "" {
		k.optFns = append(k.optFns, func(o *kms.Options) { o.Region = region })
	}
	if cfg.Endpoint != "" {
		k.optFns = append(k.optFns, func(o *kms.Options) { o.BaseEndpoint = aws.String(cfg.Endpoint) })
	}
	if cfg.MaxAttempts > 0 || cfg.MaxBackoff > 0 {
		// One retryer for all calls of this KEK, so that its retry token
		// bucket spans them.
		r := retry.NewStandard(func(o *retry.StandardOptions) {
			if cfg.MaxAttempts > 0 {
				o.MaxAttempts = cfg.MaxAttempts
			}
			if cfg.MaxBackoff > 0 {
				o.MaxBackoff = cfg.MaxBackoff
			}
		})
		k.optFns = append(k.optFns, func(o *kms.Options) { o.Retryer = r; o.RetryMaxAttempts = 0 })
	}
	return k, nil
}

// arnRegion returns the region of a KMS key or alias ARN, or "".
func arnRegion(keyID string) string {
	parts := strings.SplitN(keyID, ":", 6)
	if len(parts) == 6 && parts[0] == "arn" && parts[2] == "kms" {
		return parts[3]
	}
	return ""
}

// ID returns "aws-kms:" followed by the key ID the KEK was created with.
func (k *KEK) ID() string { return "aws-kms:" + k.keyID }

// encryptionContext maps associated data to the KMS encryption context; no
// associated data gives no context.
func encryptionContext(ad []byte) map[string]string {
	if len(ad) == 0 {
		return nil
	}
	return map[string]string{ContextKey: base64.StdEncoding.EncodeToString(ad)}
}

// newGCM returns AES-256-GCM with random nonces under dek.
func newGCM(dek []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(dek)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCMWithRandomNonce(b)
}

// envelopeError reports a local failure without detail: the envelope's
// bytes are not echoed.
func envelopeError(reason string) error {
	return &Error{Op: "Unwrap", Message: reason, class: ErrInvalidCiphertext}
}

// Wrap encrypts plaintext under a fresh 256-bit data key with AES-256-GCM
// and has KMS encrypt the data key with associatedData as encryption
// context (see the package documentation for the format). It makes one KMS
// call.
func (k *KEK) Wrap(ctx context.Context, plaintext, associatedData []byte) ([]byte, error) {
	dek := make([]byte, dekSize)
	defer clear(dek)
	if _, err := rand.Read(dek); err != nil {
		return nil, errors.New("awskms: random data key: " + err.Error())
	}
	out, err := k.client.Encrypt(ctx, &kms.EncryptInput{
		KeyId:             aws.String(k.keyID),
		Plaintext:         dek,
		EncryptionContext: encryptionContext(associatedData),
	}, k.optFns...)
	if err != nil {
		return nil, classify(ctx, "Encrypt", err)
	}
	blob := out.CiphertextBlob
	if len(blob) == 0 || len(blob) > 0xffff {
		return nil, &Error{Op: "Encrypt", Message: "KMS returned a ciphertext blob of unexpected size"}
	}
	aead, err := newGCM(dek)
	if err != nil {
		return nil, errors.New("awskms: data cipher: " + err.Error())
	}
	ct := make([]byte, 0, headerSize+len(blob)+len(plaintext)+gcmOverhead)
	ct = append(ct, formatVersion)
	ct = binary.BigEndian.AppendUint16(ct, uint16(len(blob)))
	ct = append(ct, blob...)
	return aead.Seal(ct, nil, plaintext, associatedData), nil
}

// parseEnvelope splits a wrapped ciphertext into the KMS blob of the data key
// and the AES-GCM part (nonce, ciphertext, tag).
func parseEnvelope(b []byte) (blob, sealed []byte, err error) {
	if len(b) < headerSize {
		return nil, nil, envelopeError("ciphertext too short")
	}
	if b[0] != formatVersion {
		return nil, nil, envelopeError("unsupported envelope format version")
	}
	n := int(binary.BigEndian.Uint16(b[1:3]))
	if n == 0 || len(b) < headerSize+n+gcmOverhead {
		return nil, nil, envelopeError("ciphertext too short")
	}
	return b[headerSize : headerSize+n], b[headerSize+n:], nil
}

// Unwrap reverses Wrap. It fails with ErrInvalidCiphertext when
// associatedData differs from Wrap's or the ciphertext was altered. It makes
// one KMS call for a well-formed ciphertext and none for a malformed one.
func (k *KEK) Unwrap(ctx context.Context, ciphertext, associatedData []byte) ([]byte, error) {
	blob, sealed, err := parseEnvelope(ciphertext)
	if err != nil {
		return nil, err
	}
	out, err := k.client.Decrypt(ctx, &kms.DecryptInput{
		KeyId:             aws.String(k.keyID),
		CiphertextBlob:    blob,
		EncryptionContext: encryptionContext(associatedData),
	}, k.optFns...)
	if err != nil {
		return nil, classify(ctx, "Decrypt", err)
	}
	dek := out.Plaintext
	defer clear(dek)
	if len(dek) != dekSize {
		return nil, envelopeError("KMS returned a data key of unexpected size")
	}
	aead, err := newGCM(dek)
	if err != nil {
		return nil, errors.New("awskms: data cipher: " + err.Error())
	}
	pt, err := aead.Open(nil, nil, sealed, associatedData)
	if err != nil {
		return nil, envelopeError("data authentication failed")
	}
	return pt, nil
}
