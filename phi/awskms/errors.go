package awskms

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/hipaakit/hipaakit/phi"
)

// Error classes. Every error from Wrap and Unwrap that is not a caller
// mistake is an *Error matching at most one of them with errors.Is.
var (
	// ErrInvalidCiphertext reports that KMS or the local envelope check
	// refused the ciphertext: it was tampered with, truncated, wrapped under
	// another key, or — the common case — wrapped for other associated data
	// (another key reference), so the encryption context does not match.
	// It matches phi.ErrTampered too, as the phi.KEK contract asks, so that
	// the Vault reports a swapped or altered keyset the same way under KMS as
	// under a local key.
	ErrInvalidCiphertext = fmt.Errorf("awskms: ciphertext, key or encryption context does not match: %w", phi.ErrTampered)
	// ErrUnavailable reports a transient failure that persisted through the
	// retries: throttling, a KMS-side 5xx, a network or timeout error.
	// Calling again later may succeed.
	ErrUnavailable = errors.New("awskms: KMS unavailable")
	// ErrKeyUnusable reports that the key cannot be used as configured: it
	// does not exist, is disabled or pending deletion, has the wrong key
	// usage, or access is denied. Retrying does not help.
	ErrKeyUnusable = errors.New("awskms: KMS key not usable")
)

// Error describes a failed KMS call. It never holds plaintext or key
// material: only the operation, the AWS error code and message, the HTTP
// status and the request ID, which are what an operator needs to look the
// call up in CloudTrail.
type Error struct {
	// Op is "Encrypt" or "Decrypt" for KMS calls, "Unwrap" for a failure of
	// the local envelope.
	Op string
	// Code is the AWS error code (for example "ThrottlingException"), or ""
	// when no response was received.
	Code string
	// Message is the error message KMS returned, if any.
	Message string
	// StatusCode is the HTTP status of the last response, or 0.
	StatusCode int
	// RequestID is the AWS request ID of the last response, or "".
	RequestID string
	// Attempts is how many attempts the retryer made, when known (0 if not).
	Attempts int

	class error           // one of the Err* classes, or nil
	api   smithy.APIError // the service's error, if one was received
	ctx   error           // the context's error, if it ended
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "awskms: %s failed", e.Op)
	if e.class != nil {
		b.WriteString(": ")
		b.WriteString(strings.TrimPrefix(e.class.Error(), "awskms: "))
	}
	switch {
	case e.Code != "" && e.Message != "":
		fmt.Fprintf(&b, ": %s (%s)", e.Code, e.Message)
	case e.Code != "":
		fmt.Fprintf(&b, ": %s", e.Code)
	case e.Message != "":
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, ", HTTP %d", e.StatusCode)
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, ", request ID %s", e.RequestID)
	}
	if e.Attempts > 0 {
		fmt.Fprintf(&b, ", %d attempts", e.Attempts)
	}
	if e.ctx != nil {
		fmt.Fprintf(&b, ": %v", e.ctx)
	}
	return b.String()
}

// Unwrap returns the error class, the service's smithy.APIError and the
// context's error, whichever are present.
func (e *Error) Unwrap() []error {
	var out []error
	for _, err := range []error{e.class, e.api, e.ctx} {
		if err != nil {
			out = append(out, err)
		}
	}
	return out
}

// Retryable reports whether calling again later may succeed.
func (e *Error) Retryable() bool { return e.class == ErrUnavailable }

// errorCodes maps KMS error codes to classes. Codes not listed here take
// their class from the HTTP status (5xx: ErrUnavailable).
var errorCodes = map[string]error{
	"InvalidCiphertextException":  ErrInvalidCiphertext,
	"IncorrectKeyException":       ErrInvalidCiphertext,
	"NotFoundException":           ErrKeyUnusable,
	"DisabledException":           ErrKeyUnusable,
	"KMSInvalidStateException":    ErrKeyUnusable,
	"InvalidKeyUsageException":    ErrKeyUnusable,
	"AccessDeniedException":       ErrKeyUnusable,
	"InvalidGrantTokenException":  ErrKeyUnusable,
	"KeyUnavailableException":     ErrUnavailable,
	"DependencyTimeoutException":  ErrUnavailable,
	"KMSInternalException":        ErrUnavailable,
	"ServiceUnavailableException": ErrUnavailable,
	"InternalFailure":             ErrUnavailable,
}

// classify turns an error from the KMS client into an *Error. It keeps only
// fields known not to hold request or response bodies.
func classify(ctx context.Context, op string, err error) *Error {
	e := &Error{Op: op, ctx: ctx.Err()}
	var api smithy.APIError
	if errors.As(err, &api) {
		e.api = api
		e.Code, e.Message = api.ErrorCode(), api.ErrorMessage()
		if c, ok := errorCodes[e.Code]; ok {
			e.class = c
		}
		if _, ok := retry.DefaultThrottleErrorCodes[e.Code]; ok {
			e.class = ErrUnavailable
		}
	}
	var resp *awshttp.ResponseError
	if errors.As(err, &resp) {
		e.StatusCode, e.RequestID = resp.HTTPStatusCode(), resp.ServiceRequestID()
		if e.class == nil && e.StatusCode >= 500 {
			e.class = ErrUnavailable
		}
	}
	var max *retry.MaxAttemptsError
	if errors.As(err, &max) {
		e.Attempts = max.Attempt
	}
	var send *smithyhttp.RequestSendError
	var netErr net.Error
	isSend, isNet := errors.As(err, &send), errors.As(err, &netErr)
	if e.class == nil && e.ctx == nil && (isSend || isNet) {
		e.class = ErrUnavailable
		if isNet {
			// Addresses and the endpoint URL (net/http strips any
			// password from it); never a request or response body.
			e.Message = netErr.Error()
		}
	}
	if e.class == nil && e.Code == "" && e.ctx == nil {
		e.Message = "unexpected response from KMS"
	}
	return e
}
