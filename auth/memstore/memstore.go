package memstore

import (
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/internal/attempts"
	"github.com/hipaakit/hipaakit/auth/internal/memindex"
)

// NewUserStore returns an empty user store.
func NewUserStore() auth.UserStore { return memindex.NewUsers() }

// NewSessionStore returns an empty session store. Its sessions end with the
// process, which signs everyone out.
func NewSessionStore() auth.SessionStore { return memindex.NewSessions() }

// NewAttemptStore returns an empty login-attempt store holding at most
// maxKeys throttle keys (0 means 100000; idle keys are dropped first, then
// arbitrary ones). It is what auth.New uses when Config.Attempts is nil.
func NewAttemptStore(maxKeys int) auth.AttemptStore { return attempts.NewMemory(maxKeys) }

// NewEmergencyLog returns an empty emergency log. Its records end with the
// process, so it is for tests only: auth.New accepts it because it is
// chosen explicitly, but a deployment keeps the break-glass review records
// in the file log of auth/filestore or in pgauth.
func NewEmergencyLog() auth.EmergencyLog { return memindex.NewEmergencyLog() }
