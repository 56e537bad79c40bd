package s3target_test

import (
	"bytes"
	"testing"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/localkek"
)

type discard = audit.Discard

var actor = audit.Actor{UserID: "s3-test"}

func testKEK(t *testing.T) phi.KEK {
	k, err := localkek.New(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}
