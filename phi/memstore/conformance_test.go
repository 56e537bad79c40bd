package memstore_test

import (
	"testing"

	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/keystoretest"
	"github.com/hipaakit/hipaakit/phi/memstore"
)

func TestConformance(t *testing.T) {
	keystoretest.Run(t, func(t *testing.T) phi.KeyStore { return memstore.New(memstore.Config{}) })
}

func TestConformanceShared(t *testing.T) {
	// One Store shared by two handles is the in-memory form of shared storage.
	keystoretest.RunShared(t, func(t *testing.T) (a, b phi.KeyStore) {
		s := memstore.New(memstore.Config{})
		return s, s
	})
}
