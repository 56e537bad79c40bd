package memstore_test

import (
	"testing"

	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/authtest"
	"github.com/hipaakit/hipaakit/auth/memstore"
)

func TestMemoryUserStoreConformance(t *testing.T) {
	authtest.RunUserStore(t, func(t *testing.T) auth.UserStore { return memstore.NewUserStore() })
}

func TestTOTPRaceMemory(t *testing.T) {
	authtest.RunTOTPRace(t, func(t *testing.T) auth.UserStore { return memstore.NewUserStore() })
}

func TestMemoryAttemptStoreConformance(t *testing.T) {
	authtest.RunAttemptStore(t, func(t *testing.T) auth.AttemptStore { return memstore.NewAttemptStore(0) })
}

func TestMemorySessionStoreConformance(t *testing.T) {
	authtest.RunSessionStore(t, func(t *testing.T) auth.SessionStore { return memstore.NewSessionStore() })
}

func TestClockStepsMemory(t *testing.T) {
	authtest.RunClockSteps(t, func(*testing.T) auth.SessionStore { return memstore.NewSessionStore() })
}

func TestSessionCapMemory(t *testing.T) {
	authtest.RunSessionCap(t, func(*testing.T) auth.SessionStore { return memstore.NewSessionStore() })
}
