package kmstest_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/hipaakit/hipaakit/phi/awskms/kmstest"
)

// post sends a raw KMS JSON 1.1 request and decodes the JSON answer.
func post(t *testing.T, srv *kmstest.Server, target, body string, signed bool) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL()+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Target", target)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	if signed {
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=00")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("response is not JSON: %v", err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		t.Fatalf("Content-Type %q", ct)
	}
	return resp.StatusCode, out
}

// TestWireFormat checks the JSON 1.1 shapes: base64 blobs, the encryption
// context as AAD, and errors as HTTP 400 with "__type".
func TestWireFormat(t *testing.T) {
	srv := kmstest.NewServer(t)
	status, out := post(t, srv, "TrentService.Encrypt",
		`{"KeyId":"`+srv.KeyARN()+`","Plaintext":"aGVsbG8=","EncryptionContext":{"k":"v"}}`, true)
	blob, _ := out["CiphertextBlob"].(string)
	if status != 200 || blob == "" || out["KeyId"] != srv.KeyARN() {
		t.Fatalf("Encrypt: %d %v", status, out)
	}
	status, out = post(t, srv, "TrentService.Decrypt", `{"CiphertextBlob":"`+blob+`","EncryptionContext":{"k":"v"}}`, true)
	if status != 200 || out["Plaintext"] != "aGVsbG8=" {
		t.Fatalf("Decrypt: %d %v", status, out)
	}
	status, out = post(t, srv, "TrentService.Decrypt", `{"CiphertextBlob":"`+blob+`","EncryptionContext":{"k":"w"}}`, true)
	if status != 400 || out["__type"] != "InvalidCiphertextException" {
		t.Fatalf("Decrypt with another context: %d %v", status, out)
	}
	status, out = post(t, srv, "TrentService.Decrypt", `{"CiphertextBlob":"`+blob+`"}`, true)
	if status != 400 || out["__type"] != "InvalidCiphertextException" {
		t.Fatalf("Decrypt without the context: %d %v", status, out)
	}
	status, out = post(t, srv, "TrentService.Encrypt", `{"KeyId":"`+srv.KeyARN()+`","Plaintext":"aGVsbG8="}`, false)
	if status != 400 || out["__type"] != "MissingAuthenticationTokenException" {
		t.Fatalf("unsigned request: %d %v", status, out)
	}
	status, out = post(t, srv, "TrentService.GenerateDataKey", `{}`, true)
	if status != 400 || out["__type"] != "UnknownOperationException" {
		t.Fatalf("unsupported operation: %d %v", status, out)
	}
}

func TestFailNext(t *testing.T) {
	srv := kmstest.NewServer(t)
	srv.FailNext(1, kmstest.Throttling)
	srv.FailNext(1, kmstest.Unavailable)
	body := `{"KeyId":"` + srv.KeyARN() + `","Plaintext":"aGVsbG8="}`
	if status, out := post(t, srv, "TrentService.Encrypt", body, true); status != 400 || out["__type"] != "ThrottlingException" || out["message"] != "Rate exceeded" {
		t.Fatalf("first request: %d %v", status, out)
	}
	if status, out := post(t, srv, "TrentService.Encrypt", body, true); status != 503 || out["__type"] != "ServiceUnavailableException" {
		t.Fatalf("second request: %d %v", status, out)
	}
	if status, _ := post(t, srv, "TrentService.Encrypt", body, true); status != 200 {
		t.Fatalf("third request: %d", status)
	}
	if n := srv.Calls("Encrypt"); n != 3 {
		t.Fatalf("Calls = %d, want 3", n)
	}
}

func TestAddKeyRejectsBadMaterial(t *testing.T) {
	srv := kmstest.NewServer(t)
	if _, err := srv.AddKey("k", make([]byte, 16)); err == nil {
		t.Fatal("16-byte material accepted")
	}
	if _, err := srv.AddKey("a/b", nil); err == nil {
		t.Fatal("key ID with '/' accepted")
	}
}
