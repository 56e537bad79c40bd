package auth_test

import (
	"path/filepath"
	"testing"

	"github.com/hipaakit/hipaakit/auth/policy"
)

// loadPolicy loads a policy file of auth/policy's test vectors.
func loadPolicy(t *testing.T, name string) *policy.File {
	t.Helper()
	p, err := policy.Load(filepath.Join("policy", "testdata", name))
	if err != nil {
		t.Fatalf("policy.Load(%s): %v", name, err)
	}
	return p
}
