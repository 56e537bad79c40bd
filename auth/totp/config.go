package totp

import (
	"bytes"
	"errors"
	"fmt"
	"image/png"
	"log/slog"
	"time"

	"github.com/hipaakit/hipaakit/internal/redact"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// Config configures TOTP (RFC 6238). Zero fields take the defaults given.
type Config struct {
	// Issuer is the service name the authenticator app shows (default
	// "hipaakit").
	Issuer string
	// Digits per code: 6 (default) or 8.
	Digits int
	// Period is the time step (default 30s; whole seconds, 15s to 2m).
	Period time.Duration
	// Skew is how many steps before and after the current one are accepted
	// (default 1; 0 accepts the current step only). Set NoSkew to choose 0.
	Skew int
	// NoSkew makes the zero Skew mean 0 instead of the default 1.
	NoSkew bool
	// SecretBytes is the secret's size (default 20 bytes = 160 bits, the
	// minimum accepted; at most 64).
	SecretBytes int
	// QRSize is the QR code's width and height in pixels (default 256).
	QRSize int
	// Algorithm is the HMAC hash of new enrolments (default SHA1, the
	// one every authenticator app supports).
	Algorithm Algorithm
}

// minSecretBytes is the size of new secrets: 160 bits, RFC 4226 and NIST
// SP 800-63B.
const minSecretBytes = 20

// WithDefaults returns c with every zero field set to its default, or an
// error naming the field that is out of range.
func (c Config) WithDefaults() (Config, error) {
	if c.Issuer == "" {
		c.Issuer = "hipaakit"
	}
	if c.Digits == 0 {
		c.Digits = 6
	}
	if c.Period == 0 {
		c.Period = 30 * time.Second
	}
	if c.Skew == 0 && !c.NoSkew {
		c.Skew = 1
	}
	if c.SecretBytes == 0 {
		c.SecretBytes = minSecretBytes
	}
	if c.QRSize == 0 {
		c.QRSize = 256
	}
	if c.Algorithm == "" {
		c.Algorithm = SHA1
	}
	_, algOK := c.Algorithm.otpAlgorithm()
	switch {
	case !algOK:
		return c, errors.New("auth/totp: Config.Algorithm must be SHA1, SHA256 or SHA512")
	case c.Digits != 6 && c.Digits != 8:
		return c, errors.New("auth/totp: Config.Digits must be 6 or 8")
	case c.Period < 15*time.Second || c.Period > 2*time.Minute || c.Period%time.Second != 0:
		return c, errors.New("auth/totp: Config.Period must be whole seconds from 15s to 2m")
	case c.Skew < 0 || c.Skew > 10:
		return c, errors.New("auth/totp: Config.Skew must be 0..10 steps")
	case c.SecretBytes < minSecretBytes || c.SecretBytes > 64:
		return c, errors.New("auth/totp: Config.SecretBytes must be 20..64")
	case c.QRSize < 64 || c.QRSize > 2048:
		return c, errors.New("auth/totp: Config.QRSize must be 64..2048 pixels")
	}
	return c, nil
}

// Enroll generates a fresh secret for account under c (with its defaults
// applied) and returns the enrolment to show the user.
func (c Config) Enroll(account string) (*Enrollment, error) {
	c, err := c.WithDefaults()
	if err != nil {
		return nil, err
	}
	alg, _ := c.Algorithm.otpAlgorithm()
	key, err := totp.Generate(totp.GenerateOpts{Issuer: c.Issuer, AccountName: account,
		Period: uint(c.Period / time.Second), SecretSize: uint(c.SecretBytes), Digits: otp.Digits(c.Digits),
		Algorithm: alg})
	if err != nil {
		return nil, fmt.Errorf("auth/totp: key: %w", err)
	}
	img, err := key.Image(c.QRSize, c.QRSize)
	if err != nil {
		return nil, fmt.Errorf("auth/totp: QR code: %w", err)
	}
	var qr bytes.Buffer
	if err := png.Encode(&qr, img); err != nil {
		return nil, fmt.Errorf("auth/totp: QR code: %w", err)
	}
	return &Enrollment{uri: key.URL(), secret: key.Secret(), qr: qr.Bytes()}, nil
}

// Enrollment is what a user needs to set up an authenticator app. It holds
// the secret, so it prints, logs and encodes as a redaction; its contents
// come out only through the accessor methods, to be sent to the enrolling
// user alone, over the authenticated session.
type Enrollment struct {
	uri    string
	secret string
	qr     []byte
}

// URI returns the otpauth:// URI (it contains the secret).
func (e *Enrollment) URI() string { return e.uri }

// Secret returns the base32 secret for manual entry.
func (e *Enrollment) Secret() string { return e.secret }

// QRCodePNG returns the URI as a PNG QR code.
func (e *Enrollment) QRCodePNG() []byte { return e.qr }

// String redacts the enrolment.
func (Enrollment) String() string { return redact.Text("totp.Enrollment") }

// GoString redacts the enrolment.
func (e Enrollment) GoString() string { return e.String() }

// Format prints totp.Enrollment{[redacted]} under every verb.
func (Enrollment) Format(f fmt.State, _ rune) { redact.Format(f, "totp.Enrollment") }

// LogValue redacts the enrolment.
func (Enrollment) LogValue() slog.Value { return redact.Log("totp.Enrollment") }

// MarshalJSON redacts the enrolment; build a response from the accessors.
func (Enrollment) MarshalJSON() ([]byte, error) { return redact.JSON("totp.Enrollment") }
