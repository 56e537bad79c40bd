package memindex_test

import (
	"errors"
	"testing"

	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/authtest"
	"github.com/hipaakit/hipaakit/auth/internal/memindex"
)

func TestCheckChange(t *testing.T) {
	s := authtest.NewUser("clinic", "ana")
	s.Version = 3
	u := s.Clone()
	if err := memindex.CheckChange(s, u); err != nil {
		t.Fatal(err)
	}
	u.Version = 2
	if err := memindex.CheckChange(s, u); !errors.Is(err, auth.ErrVersionConflict) {
		t.Fatalf("stale version: %v", err)
	}
	u = s.Clone()
	u.TenantID = "other"
	if err := memindex.CheckChange(s, u); !errors.Is(err, auth.ErrInvalidUser) {
		t.Fatalf("tenant change: %v", err)
	}
	s.Status = auth.StatusRemoved
	u = s.Clone()
	u.Status = auth.StatusActive
	if err := memindex.CheckChange(s, u); !errors.Is(err, auth.ErrInvalidUser) {
		t.Fatalf("restored removed user: %v", err)
	}
}
