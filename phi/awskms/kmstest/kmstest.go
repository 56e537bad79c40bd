package kmstest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Region is the region of the fake's key ARNs and of Config.
const Region = "us-east-1"

// account is the AWS account of the fake's key ARNs.
const account = "111122223333"

// blobMagic begins every ciphertext blob of the fake.
const blobMagic = "FKMS1"

// Failure is an error response the server sends instead of handling a request.
type Failure struct {
	Status  int    // HTTP status, for example 400 or 503
	Type    string // the "__type" of the JSON error body, for example "ThrottlingException"
	Message string
}

// Failures the SDK's standard retryer treats as retryable.
var (
	// Throttling is KMS's answer to a request over the rate limit.
	Throttling = Failure{Status: http.StatusBadRequest, Type: "ThrottlingException", Message: "Rate exceeded"}
	// InternalError is a KMS-side 500.
	InternalError = Failure{Status: http.StatusInternalServerError, Type: "KMSInternalException", Message: "internal error"}
	// Unavailable is a 503 from the endpoint.
	Unavailable = Failure{Status: http.StatusServiceUnavailable, Type: "ServiceUnavailableException", Message: "service unavailable"}
)

// Server is a fake KMS endpoint.
type Server struct {
	srv *httptest.Server

	mu       sync.Mutex
	keys     map[string]*key // by ARN
	defARN   string
	failures []Failure
	calls    map[string]int // by operation, also for failed requests
	lastEC   map[string]map[string]string
}

type key struct {
	aead     cipher.AEAD
	disabled bool
}

// DefaultKeyID is the key ID of the key every server starts with.
const DefaultKeyID = "00000000-0000-4000-8000-000000000001"

// NewServer starts a fake KMS on 127.0.0.1 with one enabled key (KeyARN) and
// stops it when the test ends.
func NewServer(tb testing.TB) *Server {
	tb.Helper()
	s, err := Start()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

// Start is NewServer for code without a testing.TB, such as examples; the
// caller must Close the server.
func Start() (*Server, error) {
	s := &Server{keys: map[string]*key{}, calls: map[string]int{}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("kmstest: listen: %w", err)
	}
	s.srv = &httptest.Server{Listener: l, Config: &http.Server{Handler: s}}
	s.srv.Start()
	if s.defARN, err = s.AddKey(DefaultKeyID, nil); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// URL is the server's base URL.
func (s *Server) URL() string { return s.srv.URL }

// KeyARN is the ARN of the key created by NewServer.
func (s *Server) KeyARN() string { return s.defARN }

// AddKey adds a key with the given key ID and returns its ARN. material is a
// 32-byte AES key, or nil for a random one; fixed material lets a test keep
// golden ciphertexts.
func (s *Server) AddKey(keyID string, material []byte) (string, error) {
	if material == nil {
		material = make([]byte, 32)
		rand.Read(material)
	}
	if len(material) != 32 || keyID == "" || strings.ContainsAny(keyID, ":/") {
		return "", errors.New("kmstest: key ID must be non-empty without ':' or '/', and key material 32 bytes")
	}
	b, err := aes.NewCipher(material)
	if err != nil {
		return "", fmt.Errorf("kmstest: %w", err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(b)
	if err != nil {
		return "", fmt.Errorf("kmstest: %w", err)
	}
	arn := fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", Region, account, keyID)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[arn] = &key{aead: aead}
	return arn, nil
}

// SetDisabled disables or re-enables a key: requests for a disabled key fail
// with DisabledException.
func (s *Server) SetDisabled(arn string, disabled bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.keys[arn]; ok {
		k.disabled = disabled
	}
}

// FailNext makes the next n requests fail with f.
func (s *Server) FailNext(n int, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, f)
	}
}

// Calls returns how many requests for op ("Encrypt" or "Decrypt") arrived,
// including those answered with an injected failure.
func (s *Server) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// LastEncryptionContext returns the encryption context of the last request
// for op that reached the key (not one answered with an injected failure).
func (s *Server) LastEncryptionContext(op string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.lastEC[op])
}

// Config returns an aws.Config that sends KMS requests to the server, with
// static test credentials and region Region.
func (s *Server) Config() aws.Config {
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDKMSTEST", "kmstest-secret", ""),
		BaseEndpoint: aws.String(s.srv.URL),
		HTTPClient:   s.srv.Client(),
	}
}

// resolve finds a key by ARN or by bare key ID (aliases are not supported).
func (s *Server) resolve(id string) (string, *key) {
	if k, ok := s.keys[id]; ok {
		return id, k
	}
	for arn, k := range s.keys {
		if strings.HasSuffix(arn, ":key/"+id) {
			return arn, k
		}
	}
	return "", nil
}

type request struct {
	KeyId             string            `json:"KeyId"`
	Plaintext         []byte            `json:"Plaintext"`
	CiphertextBlob    []byte            `json:"CiphertextBlob"`
	EncryptionContext map[string]string `json:"EncryptionContext"`
}

// contextAAD encodes an encryption context canonically: sorted keys, each
// key and value length-prefixed.
func contextAAD(ec map[string]string) []byte {
	keys := make([]string, 0, len(ec))
	for k := range ec {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b []byte
	for _, k := range keys {
		b = binary.BigEndian.AppendUint32(b, uint32(len(k)))
		b = append(b, k...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(ec[k])))
		b = append(b, ec[k]...)
	}
	return b
}

func writeError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
}

// ServeHTTP handles one KMS JSON 1.1 request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("x-amzn-RequestId", "kmstest-request")
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "TrentService.")
	if r.Method != http.MethodPost || !ok {
		writeError(w, http.StatusBadRequest, "UnknownOperationException", "expected POST with X-Amz-Target TrentService.*")
		return
	}
	s.mu.Lock()
	s.calls[op]++
	var fail *Failure
	if len(s.failures) > 0 {
		f := s.failures[0]
		s.failures = s.failures[1:]
		fail = &f
	}
	s.mu.Unlock()
	if fail != nil {
		writeError(w, fail.Status, fail.Type, fail.Message)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		writeError(w, http.StatusBadRequest, "SerializationException", "unexpected Content-Type")
		return
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		writeError(w, http.StatusBadRequest, "MissingAuthenticationTokenException", "request is not signed")
		return
	}
	var req request
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "SerializationException", "malformed request body")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lastEC == nil {
		s.lastEC = map[string]map[string]string{}
	}
	s.lastEC[op] = req.EncryptionContext
	switch op {
	case "Encrypt":
		s.encrypt(w, &req)
	case "Decrypt":
		s.decrypt(w, &req)
	default:
		writeError(w, http.StatusBadRequest, "UnknownOperationException", "kmstest implements Encrypt and Decrypt only")
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	json.NewEncoder(w).Encode(v)
}

func (s *Server) encrypt(w http.ResponseWriter, req *request) {
	arn, k := s.resolve(req.KeyId)
	switch {
	case k == nil:
		writeError(w, http.StatusBadRequest, "NotFoundException", "key does not exist")
		return
	case k.disabled:
		writeError(w, http.StatusBadRequest, "DisabledException", "key is disabled")
		return
	case len(req.Plaintext) == 0 || len(req.Plaintext) > 4096:
		writeError(w, http.StatusBadRequest, "ValidationException", "plaintext must be 1 to 4096 bytes")
		return
	}
	blob := append([]byte(blobMagic), byte(len(arn)))
	blob = append(blob, arn...)
	blob = k.aead.Seal(blob, nil, req.Plaintext, contextAAD(req.EncryptionContext))
	writeJSON(w, map[string]any{"CiphertextBlob": blob, "KeyId": arn, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"})
}

func (s *Server) decrypt(w http.ResponseWriter, req *request) {
	blob := req.CiphertextBlob
	if len(blob) < len(blobMagic)+1 || string(blob[:len(blobMagic)]) != blobMagic ||
		len(blob) < len(blobMagic)+1+int(blob[len(blobMagic)]) {
		writeError(w, http.StatusBadRequest, "InvalidCiphertextException", "")
		return
	}
	n := int(blob[len(blobMagic)])
	arn := string(blob[len(blobMagic)+1 : len(blobMagic)+1+n])
	k := s.keys[arn]
	if req.KeyId != "" {
		if want, _ := s.resolve(req.KeyId); want != arn {
			writeError(w, http.StatusBadRequest, "IncorrectKeyException", "the ciphertext was not encrypted under the requested key")
			return
		}
	}
	switch {
	case k == nil:
		writeError(w, http.StatusBadRequest, "InvalidCiphertextException", "")
		return
	case k.disabled:
		writeError(w, http.StatusBadRequest, "DisabledException", "key is disabled")
		return
	}
	pt, err := k.aead.Open(nil, nil, blob[len(blobMagic)+1+n:], contextAAD(req.EncryptionContext))
	if err != nil {
		writeError(w, http.StatusBadRequest, "InvalidCiphertextException", "")
		return
	}
	writeJSON(w, map[string]any{"Plaintext": pt, "KeyId": arn, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"})
}
